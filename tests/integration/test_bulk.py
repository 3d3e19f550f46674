"""Bulk runs against the local tenant with Graph's rough edges switched on, time-scaled to seconds.

Every test ends by reading the tenant back through the gateway: each user and each role
assignment present exactly once, nothing lost, nothing doubled.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from provisioner.bootstrap import connected
from provisioner.cli import cli
from provisioner.config import load_config
from provisioner.execute import Executor
from provisioner.inputs import read_users
from provisioner.pacing import Budget
from provisioner.plan import plan_create
from provisioner.services import Passwords
from provisioner.services.reads import Reader, full_state

DOMAIN = "contoso.onmicrosoft.com"
BILLING = "b0f54661-2d74-4c50-afa3-1ec803f12efe"
REALISM = ("THROTTLE", "TIME_SCALE", "LATENCY_MS", "JITTER_MS", "FAULT_RATE", "FAULT_APPLIED_SHARE", "DROP_RATE",
           "REPLICATION_LAG", "SEED", "TENANT_SIZE")


@pytest.fixture
def tenant(tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text(f'[execution]\njournal = "{tmp_path / "journal.jsonl"}"\n\n[safety]\nmax_deletes = 50\n')
    monkeypatch.setenv("PROVISIONER_CONFIG", str(config))
    monkeypatch.setenv("PROVISIONER_LOCAL_STATE", str(tmp_path / "tenant.db"))
    for var in REALISM:
        monkeypatch.delenv(f"PROVISIONER_LOCAL_{var}", raising=False)
    return tmp_path


def realism(monkeypatch, **settings: object) -> None:
    for key, value in settings.items():
        monkeypatch.setenv(f"PROVISIONER_LOCAL_{key.upper()}", str(value))


def write_csv(path: Path, n: int, *, role_every: int = 20, prefix: str = "bulk") -> list[str]:
    upns = [f"{prefix}{i:05d}@{DOMAIN}" for i in range(n)]
    lines = ["userPrincipalName,displayName,department,roles"]
    for i, upn in enumerate(upns):
        lines.append(f"{upn},Bulk User {i},Sales,{'billing' if i % role_every == 0 else ''}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return upns


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def read_back() -> tuple[collections.Counter, collections.Counter]:
    """(UPN -> count of active users, (UPN, role template) -> count of assignments), via the gateway,
    with realism switched off so the read itself is not throttled or faulted."""

    async def read():
        async with connected(load_config().profile(None)) as d:
            return await full_state(d)

    saved = {k: os.environ.pop(f"PROVISIONER_LOCAL_{k}") for k in REALISM if f"PROVISIONER_LOCAL_{k}" in os.environ}
    try:
        state = asyncio.run(read())
    finally:
        os.environ.update({f"PROVISIONER_LOCAL_{k}": v for k, v in saved.items()})
    users = collections.Counter(u.user_principal_name.lower() for u in state.users.values())
    by_id = {u.id: u.user_principal_name.lower() for u in state.users.values()}
    assignments = collections.Counter((by_id.get(a.principal_id, a.principal_id), a.role_definition_id)
                                      for a in state.assignments)
    return users, assignments


def assert_exactly_once(upns: list[str], role_every: int = 20) -> None:
    users, assignments = read_back()
    assert all(users[u] == 1 for u in upns), [u for u in upns if users[u] != 1][:5]
    assert sum(users.values()) == len(upns) + 1  # and the tenant's admin
    billing = {(u, BILLING) for i, u in enumerate(upns) if i % role_every == 0}
    assert {k for k in assignments if k[1] == BILLING} == billing
    assert all(assignments[k] == 1 for k in billing)


def test_2000_creates_with_roles_under_throttling_latency_faults_and_lag(tenant, monkeypatch):
    upns = write_csv(tenant / "users.csv", 2000)
    realism(monkeypatch, throttle=1, time_scale=100, latency_ms=3, fault_rate=0.05, replication_lag=0.3, seed=7)
    result = invoke("users", "create", "--from", str(tenant / "users.csv"), "--yes",
                    "--password-out", str(tenant / "pw.csv"))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert "Applied 2100 of 2100 change(s)" in result.stderr
    assert_exactly_once(upns)
    rows = [line.rsplit(",", 2) for line in (tenant / "pw.csv").read_text().splitlines()[1:]]
    settled = {upn: status for upn, _, status in rows if status != "pending"}
    assert sorted(settled) == upns  # every user's password on record, or the user named as unknown
    unknown = sorted(upn for upn, status in settled.items() if status == "unknown")
    assert set(settled.values()) <= {"created", "unknown"}
    if unknown:
        assert f"Initial password unknown for {len(unknown)} user(s)" in result.stderr


def assert_passwords_on_record(created: list[str], password_file: Path) -> None:
    """Every user that exists has, in the password file, the password the tenant holds (its salted
    hash checked), or is listed as unknown: none was lost, whatever ended the run."""
    from provisioner.local import default_state_path, has_password

    rows: dict[str, list[tuple[str, str]]] = {}
    for line in password_file.read_text(encoding="utf-8").splitlines()[1:]:
        upn, password, status = line.rsplit(",", 2)
        rows.setdefault(upn.lower(), []).append((password, status))
    state = default_state_path()
    lost = [upn for upn in created
            if not any(status == "unknown" or (password and has_password(state, upn, password))
                       for password, status in rows.get(upn.lower(), []))]
    assert lost == []


def test_a_run_killed_half_way_converges_when_run_again(tenant, monkeypatch):
    upns = write_csv(tenant / "users.csv", 1000)
    journal = tenant / "journal.jsonl"
    env = {**os.environ, "PROVISIONER_LOCAL_LATENCY_MS": "80", "PROVISIONER_LOCAL_FAULT_RATE": "0.05",
           "PROVISIONER_LOCAL_SEED": "3"}
    args = [sys.executable, "-m", "provisioner", "users", "create", "--from", str(tenant / "users.csv"), "--yes",
            "--password-out", str(tenant / "pw.csv")]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_text().count("\n") >= 300:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stderr.close()
    users, _ = read_back()
    done = sum(users[u] for u in upns)
    quiet = {**env, "PROVISIONER_LOCAL_LATENCY_MS": "0", "PROVISIONER_LOCAL_FAULT_RATE": "0"}
    assert 300 <= done < 1000
    assert_passwords_on_record([u for u in upns if users[u]], tenant / "pw.csv")
    rerun = subprocess.run(args, env=quiet, capture_output=True, text=True,
                           timeout=120)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"user {upns[0]} already exists" in rerun.stderr
    assert_exactly_once(upns)
    again = subprocess.run(args, env=quiet, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0
    assert "No changes. The tenant already matches.\n" in again.stderr


def test_a_run_interrupted_with_ctrl_c_records_in_flight_items_and_converges(tenant, monkeypatch):
    upns = write_csv(tenant / "users.csv", 600)
    journal = tenant / "journal.jsonl"
    env = {**os.environ, "PROVISIONER_LOCAL_LATENCY_MS": "80"}
    args = [sys.executable, "-m", "provisioner", "users", "create", "--from", str(tenant / "users.csv"), "--yes",
            "--password-out", str(tenant / "pw.csv")]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_text().count("\n") >= 200:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    quiet = {**env, "PROVISIONER_LOCAL_LATENCY_MS": "0"}
    assert proc.returncode == 130, stderr[-2000:]
    assert "interrupted; re-run the same command to finish: it converges" in stderr
    users, _ = read_back()
    assert_passwords_on_record([u for u in upns if users[u]], tenant / "pw.csv")
    rerun = subprocess.run(args, env=quiet, capture_output=True, text=True,
                           timeout=120)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert_exactly_once(upns)
    users, _ = read_back()
    assert_passwords_on_record(upns, tenant / "pw.csv")


def _run_unpaced(tenant: Path, upns_file: Path) -> object:
    """Run a create plan with no client-side pacing at all, so the tenant's throttling answers 429."""

    async def run():
        specs = list(read_users(upns_file, for_action="create")[0])
        async with connected(load_config().profile(None)) as d:
            reader = Reader(d)
            await reader.users([s.upn for s in specs])
            planned = plan_create(specs, reader.state)
            executor = Executor(d, budget=Budget(None, 1.0), concurrency=8, passwords=Passwords())
            return await executor.run(planned.plan.changes)

    return asyncio.run(run())


def test_a_429_storm_and_10_percent_503s_lose_nothing(tenant, monkeypatch):
    upns = write_csv(tenant / "users.csv", 3600)
    # 3,000 writes per 150 s scaled to 3 s: an unpaced client bursts through it into a storm of 429s.
    realism(monkeypatch, throttle=1, time_scale=50, fault_rate=0.10, fault_applied_share=0.5, seed=11)
    report = _run_unpaced(tenant, tenant / "users.csv")
    assert (report.ok, report.failed, report.unknown) == (3780, 0, 0), report.failures[:3]
    assert_exactly_once(upns)


def test_creates_applied_before_a_504_and_not_yet_readable_are_found_not_failed(tenant, monkeypatch):
    # Every 504 follows an applied create, and a new user stays unreadable for a while: the resend
    # meets a conflict, and the look-up waits out the lag instead of spending the item's tries.
    upns = write_csv(tenant / "users.csv", 300, role_every=10)
    realism(monkeypatch, fault_rate=0.2, fault_applied_share=1.0, replication_lag=1.0, seed=5)
    result = invoke("users", "create", "--from", str(tenant / "users.csv"), "--yes",
                    "--password-out", str(tenant / "pw.csv"))
    assert result.exit_code == 0, result.stderr[-2000:]
    assert "Applied 330 of 330 change(s)" in result.stderr
    assert_exactly_once(upns, role_every=10)


def test_a_file_with_bad_rows_writes_nothing_and_lists_them_all(tenant):
    upns = write_csv(tenant / "users.csv", 500)
    lines = (tenant / "users.csv").read_text().splitlines()
    lines[10] = "not-a-upn,Bad One,Sales,"
    lines[200] = f"x@{DOMAIN},,Sales,"
    lines[450] = f"{upns[3]},Duplicate,Sales,"
    (tenant / "users.csv").write_text("\n".join(lines) + "\n")
    result = invoke("users", "create", "--from", str(tenant / "users.csv"), "--yes",
                    "--password-out", str(tenant / "pw.csv"))
    assert result.exit_code == 64
    assert result.stderr.splitlines()[-4:] == [
        f"Error: {tenant / 'users.csv'}: 3 invalid row(s), nothing was written:",
        "  row 11, column userPrincipalName: 'not-a-upn' is not a valid user principal name: use letters, digits "
        "and ' . - _ ! # ^ ~ $ (at most 64) before the @ and a domain after it, like alice@contoso.com",
        "  row 201, column displayName: missing; a new user needs a display name",
        f"  row 451, column userPrincipalName: {upns[3]} is already in row 5; list each user once",
    ]
    users, _ = read_back()
    assert sum(users.values()) == 1
    assert not (tenant / "journal.jsonl").exists()


def test_a_prune_beyond_max_deletes_writes_nothing(tenant, monkeypatch):
    upns = write_csv(tenant / "users.csv", 120, role_every=1000)
    assert invoke("users", "create", "--from", str(tenant / "users.csv"), "--yes",
                  "--password-out", str(tenant / "pw.csv")).exit_code == 0
    manifest = tenant / "m.toml"
    kept = "".join(f'[[users]]\nuserPrincipalName = "{u}"\n' for u in upns[:60])
    manifest.write_text(f'[scope]\ndomains = ["{DOMAIN}"]\n\n[[users]]\nuserPrincipalName = "admin@{DOMAIN}"\n'
                        'roles = ["global"]\n' + kept)
    lines_before = (tenant / "journal.jsonl").read_text().count("\n")
    result = invoke("sync", str(manifest), "--prune", "--yes")
    assert result.exit_code == 4
    assert result.stderr.splitlines()[-2:] == [
        "Error: refused (1 problem); nothing was written:",
        "  - this plan deletes 60 users, more than safety.max_deletes (50); check the plan, then rerun with --force "
        "or raise safety.max_deletes in the config",
    ]
    users, _ = read_back()
    assert sum(users.values()) == 121
    assert (tenant / "journal.jsonl").read_text().count("\n") == lines_before
