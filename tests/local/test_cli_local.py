"""``provisioner local ...`` through Click's runner."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from provisioner.cli.local import local
from provisioner.durations import parse_duration
from provisioner.local import tenant_now

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def invoke(*args: str, input: str | None = None, env: dict | None = None):
    return CliRunner().invoke(local, list(args), input=input, env=env, catch_exceptions=False)


def test_init_creates_then_keeps_and_adds_seed_users(tmp_path):
    state = tmp_path / "t.db"
    first = invoke("init", "--state", str(state))
    assert first.exit_code == 0
    assert first.stderr == (
        f"Created local tenant at {state} (admin@contoso.onmicrosoft.com is Global Administrator).\n"
    )
    assert first.stdout == f"path: {state}\ndomain: contoso.onmicrosoft.com\nusers: 1\nseeded: 0\nsynced: 0\n"

    again = invoke("init", "--state", str(state), "--seed-users", "20", "--synced-fraction", "1", "--seed", "3")
    assert again.exit_code == 0
    assert again.stderr == f"Local tenant at {state} already exists; kept its contents.\n"
    assert again.stdout == f"path: {state}\ndomain: contoso.onmicrosoft.com\nusers: 21\nseeded: 20\nsynced: 20\n"


def test_init_seeds_again_with_the_same_seed(tmp_path):
    state = str(tmp_path / "t.db")
    assert invoke("init", "--state", state, "--seed-users", "5", "--seed", "1").exit_code == 0
    again = invoke("init", "--state", state, "--seed-users", "5", "--seed", "1")
    assert again.exit_code == 0
    assert again.stdout == f"path: {state}\ndomain: contoso.onmicrosoft.com\nusers: 11\nseeded: 5\nsynced: 0\n"


def test_init_reads_the_state_path_from_the_environment_and_takes_a_domain(tmp_path):
    state = tmp_path / "env.db"
    result = invoke("init", "--domain", "fabrikam.com", env={"PROVISIONER_LOCAL_STATE": str(state)})
    assert result.exit_code == 0
    assert result.stdout.splitlines()[:2] == [f"path: {state}", "domain: fabrikam.com"]
    assert state.exists()


def test_init_rejects_a_fraction_out_of_range(tmp_path):
    result = CliRunner().invoke(local, ["init", "--state", str(tmp_path / "t.db"), "--synced-fraction", "2"])
    assert result.exit_code == 2
    assert "Invalid value for '--synced-fraction': 2.0 is not in the range 0.0<=x<=1.0." in result.stderr
    assert not (tmp_path / "t.db").exists()


def test_reset_asks_first_and_wipes_on_yes(tmp_path):
    state = str(tmp_path / "t.db")
    invoke("init", "--state", state, "--seed-users", "5")

    refused = CliRunner().invoke(local, ["reset", "--state", state], input="y\n")  # no terminal: not asked
    assert refused.exit_code == 2  # usage (64 through the root command: tests/cli/test_small_things.py)
    assert refused.stderr.splitlines()[-1] == (
        "Error: not reset: no terminal to confirm on; re-run with --yes to reset the tenant")
    assert invoke("init", "--state", state).stdout.splitlines()[2] == "users: 6"

    done = invoke("reset", "--state", state, "--yes")
    assert done.exit_code == 0
    assert done.stderr == f"Reset local tenant at {state}.\n"
    assert done.stdout.splitlines()[2] == "users: 1"


def test_clock_show_and_advance(tmp_path):
    state = str(tmp_path / "t.db")
    invoke("init", "--state", state)
    shown = invoke("clock", "show", "--state", state)
    assert shown.exit_code == 0
    assert ISO.match(shown.stdout.strip())
    before = datetime.fromisoformat(shown.stdout.strip())

    moved = invoke("clock", "advance", "31d", "--state", state)
    assert moved.exit_code == 0
    assert moved.stderr == "Moved the tenant clock forward by 31d.\n"
    after = datetime.fromisoformat(moved.stdout.strip())
    assert timedelta(days=31) <= after - before < timedelta(days=31, seconds=30)
    assert abs(tenant_now(state) - after) < timedelta(seconds=30)


def test_clock_advance_rejects_a_bad_duration(tmp_path):
    result = CliRunner().invoke(local, ["clock", "advance", "soon", "--state", str(tmp_path / "t.db")])
    assert result.exit_code == 2
    assert "Invalid value for DURATION: 'soon' is not a duration; use e.g. 7d, 36h or 90m" in result.stderr


def test_clock_advance_refuses_an_absurd_duration_in_one_line(tmp_path):
    state = str(tmp_path / "t.db")
    invoke("init", "--state", state)
    result = CliRunner().invoke(local, ["clock", "advance", "99999999d", "--state", state])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "Error: Invalid value for DURATION: '99999999d' is too long; use at most 36500d"
    )
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    ("text", "delta"),
    [("31d", timedelta(days=31)), ("12h", timedelta(hours=12)), ("30m", timedelta(minutes=30)),
     ("45s", timedelta(seconds=45)), ("1d12h", timedelta(days=1, hours=12)), ("2D", timedelta(days=2)),
     ("7", timedelta(days=7)), (" 7d ", timedelta(days=7)), ("2w", timedelta(weeks=2)),
     ("0", timedelta()), ("36500d", timedelta(days=36500)), ("1w1d1h1m1s", timedelta(8, 3661))],
)
def test_parse_duration(text, delta):
    assert parse_duration(text) == delta


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "'' is not a duration; use e.g. 7d, 36h or 90m"),
     ("d", "'d' is not a duration; use e.g. 7d, 36h or 90m"),
     ("1y", "'1y' is not a duration; use e.g. 7d, 36h or 90m"),
     ("1d 2h", "'1d 2h' is not a duration; use e.g. 7d, 36h or 90m"),
     ("1.5d", "'1.5d' is not a duration; use e.g. 7d, 36h or 90m"),
     ("-1d", "'-1d' is negative; use a duration of 0 or more, e.g. 7d, 36h or 90m"),
     ("36500d1s", "'36500d1s' is too long; use at most 36500d"),
     ("99999999999d", "'99999999999d' is too long; use at most 36500d"),
     ("9" * 40 + "s", f"'{'9' * 40}s' is too long; use at most 36500d")],
)
def test_parse_duration_refuses(text, reason):
    with pytest.raises(ValueError) as e:
        parse_duration(text)
    assert str(e.value) == reason


def test_domain_add_lets_users_use_it(tmp_path):
    state = str(tmp_path / "t.db")
    result = invoke("domain", "add", "Fabrikam.com", "--state", state)
    assert result.exit_code == 0
    assert result.stderr == f"Added verified domain fabrikam.com to the local tenant at {state}.\n"

    bad = CliRunner().invoke(local, ["domain", "add", "not a domain", "--state", state])
    assert bad.exit_code == 2
    assert "Invalid value for NAME: not a domain name: 'not a domain'" in bad.stderr


def test_serve_refuses_a_remote_host_without_allow_remote(tmp_path):
    result = CliRunner().invoke(local, ["serve", "--state", str(tmp_path / "t.db"), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "Error: refusing to listen on 0.0.0.0: the local tenant accepts any bearer token" in result.stderr
    assert not (tmp_path / "t.db").exists()


def test_serve_reports_bad_realism_settings(tmp_path):
    flag = CliRunner().invoke(local, ["serve", "--state", str(tmp_path / "t.db"), "--fault-rate", "3"])
    assert flag.exit_code == 2
    assert "Error: fault_rate must be between 0 and 1, not 3.0" in flag.stderr

    env = CliRunner().invoke(local, ["serve", "--state", str(tmp_path / "t.db")],
                             env={"PROVISIONER_LOCAL_LATENCY_MS": "slow"})
    assert env.exit_code == 2
    assert "Error: PROVISIONER_LOCAL_LATENCY_MS='slow' is not a valid float" in env.stderr


def test_serve_reports_a_port_in_use(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(local, ["serve", "--state", str(tmp_path / "t.db"), "--port", str(port)])
    assert result.exit_code == 1
    assert result.stderr == f"Error: cannot listen on 127.0.0.1:{port}: Address already in use\n"


def test_cli_module_does_not_import_the_graph_sdk():
    code = "import sys, provisioner.cli.local, provisioner.local; print(sorted(m for m in sys.modules " \
           "if m.split('.')[0] in ('msgraph', 'uvicorn', 'starlette', 'httpx')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "[]\n"
