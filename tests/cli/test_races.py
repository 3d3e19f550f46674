"""Two commands against one tenant: the last Global Administrator survives any race this machine
can see, and a command that may not wait says so at once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_tenant import ADMIN, DOMAIN, Tenant, make_tenant

from provisioner import services
from provisioner.config import load_config
from provisioner.services.lock import tenant_lock

LEE = f"lee@{DOMAIN}"


@pytest.fixture
def two_admins(tmp_path: Path) -> Tenant:
    t = make_tenant(tmp_path)
    t.create("lee", "global")
    assert sorted(t.members("global")) == [ADMIN, LEE]
    return t


def _start(t: Tenant, *args: str, journal_dir: Path | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in {**os.environ, **t.env}.items() if v is not None}
    if journal_dir is not None:  # another machine: its own journal and its own locks
        config = journal_dir / "config.toml"
        config.write_text(f'[execution]\njournal = "{journal_dir / "journal.jsonl"}"\n', encoding="utf-8")
        env["PROVISIONER_CONFIG"] = str(config)
        env["XDG_STATE_HOME"] = str(journal_dir / "state")
    return subprocess.Popen([sys.executable, "-m", "provisioner", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("commands", [
    (("users", "delete", ADMIN, "--yes"), ("users", "delete", LEE, "--yes")),
    (("roles", "revoke", ADMIN, "global", "--yes"), ("roles", "revoke", LEE, "global", "--yes")),
])
def test_two_commands_started_together_leave_one_global_admin(two_admins: Tenant, commands) -> None:
    first, second = (_start(two_admins, *args) for args in commands)
    codes = sorted(p.wait(timeout=60) for p in (first, second))
    outputs = [p.stderr.read() for p in (first, second)]
    assert codes == [0, 4], outputs
    assert len(two_admins.members("global")) == 1
    assert any("refused" in out and "without an active Global Administrator" in out for out in outputs)


def test_the_write_rechecks_the_holders_another_machine_removed(two_admins: Tenant, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan saw two Global Administrators; by the time of its write, another machine (its own lock)
    has removed one: the write is refused after a fresh read, exit 4 in the CLI's terms."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    class RemoveLeeFirst(services.Approve):
        def approve(self, planned):  # type: ignore[no-untyped-def]
            done = _start(two_admins, "users", "delete", LEE, "--yes", journal_dir=elsewhere)
            assert done.wait(timeout=60) == 0, done.stderr.read()
            return True

    for name, value in two_admins.env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)

    async def main() -> services.Applied:
        async with services.open_target(load_config(two_admins.config).profile(None)) as target:
            return await services.delete_users(target, [ADMIN], RemoveLeeFirst())

    applied = asyncio.run(main())
    assert applied.report is not None
    assert (applied.report.ok, applied.report.refused) == (0, 1)
    assert applied.report.failures[0].message.startswith(f"refused: deleting {ADMIN} would leave the tenant "
                                                         "without an active Global Administrator")
    assert two_admins.members("global") == [ADMIN]


def test_no_wait_fails_at_once_while_another_command_holds_the_tenant(two_admins: Tenant,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    profile = load_config(two_admins.config).profile(None)

    async def hold_and_try() -> tuple[int, str]:
        async with tenant_lock(profile):
            busy = _start(two_admins, "users", "delete", LEE, "--yes", "--no-wait")
            return await asyncio.to_thread(busy.wait, 60), busy.stderr.read()

    monkeypatch.setenv("PROVISIONER_LOCAL_STATE", str(two_admins.state))
    code, stderr = asyncio.run(hold_and_try())
    assert code == 1
    assert stderr.splitlines()[-1] == (
        f"Error: another provisioner command is changing tenant local (process {os.getpid()}); "
        "run this one when it has finished, or without --no-wait to wait for it")
    assert sorted(two_admins.members("global")) == [ADMIN, LEE]
