"""Re-running a bulk command that completed converges: exit 0, each row saying it is already so."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_tenant import DOMAIN, Tenant, make_tenant

NAMES = ("ann", "ben", "cat")


@pytest.fixture
def tenant(tmp_path: Path) -> Tenant:
    t = make_tenant(tmp_path)
    rows = "\n".join(f"{n}@{DOMAIN},{n.title()}" for n in NAMES)
    (tmp_path / "people.csv").write_text(f"userPrincipalName,displayName\n{rows}\n", encoding="utf-8")
    return t


def _twice(t: Tenant, *args: str) -> str:
    first = t.run(*args, "--from", str(t.root / "people.csv"), "--yes")
    assert first.exit_code == 0, first.stderr
    again = t.run(*args, "--from", str(t.root / "people.csv"), "--yes")
    assert again.exit_code == 0, again.stderr
    assert again.stdout == ""
    return again.stderr


def test_create_delete_restore_purge_each_twice(tenant: Tenant) -> None:
    created = _twice(tenant, "users", "create", "--password-out", str(tenant.root / "pw.csv"))
    assert [line for line in created.splitlines() if "already exists" in line] == [
        f"user {n}@{DOMAIN} already exists (object id {tenant.users()[f'{n}@{DOMAIN}']['id']}); not created"
        for n in NAMES]
    deleted = _twice(tenant, "users", "delete")
    ids = {u: d["id"] for u, d in tenant.deleted().items()}
    assert [line for line in deleted.splitlines() if "already deleted" in line] == [
        f"{n}@{DOMAIN} is already deleted (object id {ids[f'{n}@{DOMAIN}']}); nothing to do" for n in NAMES]
    restored = _twice(tenant, "users", "restore")
    assert sum("nothing to restore" in line for line in restored.splitlines()) == 3
    tenant.ok("users", "delete", "--from", str(tenant.root / "people.csv"), "--yes")
    purged = _twice(tenant, "users", "purge")
    assert [line for line in purged.splitlines() if "nothing to purge" in line] == [
        f"{n}@{DOMAIN} is not among the deleted users (already purged, or never deleted); nothing to purge"
        for n in NAMES]
    assert not any(u.startswith(NAMES) for u in tenant.users()) and tenant.deleted() == {}
    lines = tenant.journal_lines()
    assert sorted(line["action"] for line in lines).count("purge") == 3  # each write once, none on a re-run
    assert len(lines) == 3 * 5
