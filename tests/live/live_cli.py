"""The live scenario: one user's whole lifecycle driven through the CLI against one profile, under a
unique UPN prefix, and the sweep that leaves nothing of that prefix behind.

The same code runs against a real tenant (``PROVISIONER_LIVE_TENANT``) and, on every ``make test``,
against ``local serve`` through a ``kind = "graph"`` profile.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from click.testing import CliRunner, Result

from provisioner.cli import cli

# Not privileged (graph-quirks.md, Permission model B): an app with User.ReadWrite.All may delete and
# restore its holder without any admin role of its own.
ROLE = "Message Center Reader"
T = TypeVar("T")


@dataclass
class Cli:
    """A runner bound to one profile; every command appends its Graph exchanges to ``record``."""

    env: dict[str, str | None]
    record: Path
    patience: float  # seconds a real tenant may take to show a write in its lists (eventual consistency)
    transcript: list[str] = field(default_factory=list)

    def run(self, *args: str) -> Result:
        result = CliRunner().invoke(cli, ["--record", str(self.record), *args], env=self.env,
                                    catch_exceptions=False)
        self.transcript.append(f"$ provisioner {' '.join(args)} -> {result.exit_code}")
        return result

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, (args, result.exit_code, result.stdout, result.stderr)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "-o", "json").stdout)

    def eventually(self, probe: Callable[[], T], done: Callable[[T], bool]) -> T:
        """``probe()`` until ``done`` holds or patience runs out; the last value either way."""
        deadline = time.monotonic() + self.patience
        while True:
            value = probe()
            if done(value) or time.monotonic() >= deadline:
                return value
            time.sleep(3)

    def active(self, prefix: str) -> list[dict[str, Any]]:
        return self.json("users", "list", "--upn-prefix", prefix)

    def deleted(self, prefix: str) -> list[dict[str, Any]]:
        return [u for u in self.json("deleted", "list") if u["userPrincipalName"].lower().startswith(prefix)]


@dataclass
class Target:
    name: str  # "served" or "real"
    cli: Cli
    token: str | None  # the bearer token, when the test knows it
    domain: str | None  # None: found from the tenant's own users


def new_prefix() -> str:
    return f"provisioner-live-{secrets.token_hex(4)}"


def default_domain(runner: Cli, override: str | None) -> str:
    """The domain the test users go in: the override, else the one most of the tenant's own members
    use (on a developer tenant, its default NAME.onmicrosoft.com domain)."""
    if override:
        return override.strip().lower()
    upns = [u["userPrincipalName"] for u in runner.json("users", "list")]
    domains = Counter(u.rsplit("@", 1)[1].lower() for u in upns if "#EXT#" not in u.upper())
    assert domains, "the tenant lists no member user; set PROVISIONER_LIVE_DOMAIN to its default verified domain"
    return domains.most_common(1)[0][0]


def scenario(runner: Cli, prefix: str, domain: str) -> str:
    """create with a role, list, show, delete, deleted list, restore by original UPN, revoke, purge.
    Returns the initial password the tenant was given (to check it is in no recording)."""
    upn = f"{prefix}-a@{domain}"

    created = runner.ok("users", "create", upn, "--display-name", "Provisioner live test", "--role", ROLE, "--yes")
    assert "Applied 2 of 2 change(s)" in created.stderr
    password = re.search(rf"Initial password for {re.escape(upn)}: (\S+)", created.stderr)
    assert password, created.stderr

    listed = runner.eventually(lambda: runner.active(prefix), lambda users: len(users) == 1)
    assert [(u["userPrincipalName"], u["displayName"], u["accountEnabled"]) for u in listed] == [
        (upn, "Provisioner live test", True)]
    user_id = listed[0]["id"]

    shown = runner.eventually(lambda: runner.json("users", "show", upn), lambda u: u["roles"] == [ROLE])
    assert (shown["id"], shown["userPrincipalName"], shown["roles"]) == (user_id, upn, [ROLE])

    deleted = runner.ok("users", "delete", upn, "--yes")
    assert "Applied 1 of 1 change(s)" in deleted.stderr
    gone = runner.eventually(lambda: runner.deleted(prefix), lambda users: len(users) == 1)
    assert [(u["id"], u["userPrincipalName"]) for u in gone] == [(user_id, upn)]
    assert gone[0]["daysLeft"] in (29, 30)
    assert runner.eventually(lambda: runner.active(prefix), lambda users: not users) == []

    restored = runner.ok("users", "restore", upn, "--yes")  # by the original UPN, not the deleted one
    assert f"Restored {upn}; its roles came back: {ROLE}" in restored.stderr
    back = runner.eventually(lambda: runner.json("users", "show", upn), lambda u: u["roles"] == [ROLE])
    assert (back["id"], back["roles"]) == (user_id, [ROLE])

    revoked = runner.ok("roles", "revoke", upn, ROLE, "--yes")
    assert "Applied 1 of 1 change(s)" in revoked.stderr
    after = runner.eventually(lambda: runner.json("users", "show", upn), lambda u: u["roles"] == [])
    assert after["roles"] == []

    runner.ok("users", "delete", upn, "--yes")
    runner.eventually(lambda: runner.deleted(prefix), lambda users: len(users) == 1)
    purged = runner.ok("users", "purge", upn, "--yes")
    assert "Applied 1 of 1 change(s)" in purged.stderr
    assert runner.eventually(lambda: runner.deleted(prefix), lambda users: not users) == []
    assert runner.active(prefix) == []
    return password.group(1)


def sweep(runner: Cli, prefix: str) -> list[str]:
    """Deletes and purges every user under ``prefix``, whatever step the scenario stopped at;
    returns what is still there (nothing, when the sweep worked)."""
    active = runner.active(prefix)
    if active:
        runner.run("users", "delete", *[u["id"] for u in active], "--yes")
        runner.eventually(lambda: runner.active(prefix), lambda users: not users)
    expected = {u["id"] for u in active}
    deleted = runner.eventually(lambda: runner.deleted(prefix), lambda users: expected <= {u["id"] for u in users})
    if deleted:
        runner.run("users", "purge", *[u["id"] for u in deleted], "--yes")
    left = runner.eventually(lambda: runner.active(prefix) + runner.deleted(prefix), lambda users: not users)
    return sorted(u["userPrincipalName"] for u in left)
