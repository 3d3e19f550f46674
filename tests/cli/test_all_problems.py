"""Every row's problem at once, with the spreadsheet row and column, before any write or prompt."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_tenant import DOMAIN, Tenant, make_tenant


@pytest.fixture
def tenant(tmp_path: Path) -> Tenant:
    t = make_tenant(tmp_path)
    t.create("ann")
    t.create("ben")
    return t


def test_a_bulk_delete_names_every_unknown_user_by_row(tenant: Tenant) -> None:
    path = tenant.root / "leavers.csv"
    path.write_text(f"userPrincipalName\nann@{DOMAIN}\nghost1@{DOMAIN}\nben@{DOMAIN}\nghost2@{DOMAIN}\n",
                    encoding="utf-8")
    before = tenant.snapshot()
    result = tenant.run("users", "delete", "--from", str(path), "--yes")
    assert result.exit_code == 1
    tail = ("not found in the tenant; check the name with: provisioner users list (a deleted user is listed by: "
            "provisioner deleted list)")
    assert result.stderr.splitlines()[-3:] == [
        "Error: 2 problems in the users named; nothing was written:",
        f"  row 3, column userPrincipalName: user 'ghost1@{DOMAIN}' {tail}",
        f"  row 5, column userPrincipalName: user 'ghost2@{DOMAIN}' {tail}",
    ]
    assert tenant.snapshot() == before


def test_a_bulk_assign_names_unknown_users_and_unknown_roles_by_row(tenant: Tenant) -> None:
    path = tenant.root / "roles.csv"
    path.write_text(f"userPrincipalName,roles\nann@{DOMAIN},billing\nghost@{DOMAIN},billing\nben@{DOMAIN},astronaut\n",
                    encoding="utf-8")
    before = tenant.snapshot()
    result = tenant.run("roles", "assign", "--from", str(path), "--yes")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[-3] == "Error: 2 problems in the users named; nothing was written:"
    assert lines[-2].startswith(f"  row 3, column userPrincipalName: user 'ghost@{DOMAIN}' not found in the tenant")
    assert lines[-1].startswith("  row 4, column roles: unknown role 'astronaut'; use an alias")
    assert tenant.snapshot() == before


def test_a_bulk_create_names_every_row_in_an_unverified_domain(tenant: Tenant) -> None:
    path = tenant.root / "hires.csv"
    path.write_text(f"userPrincipalName,displayName\ncarl@{DOMAIN},Carl\ndana@fabrikam.com,Dana\n"
                    "erin@typo.onmicrosoft.com,Erin\n", encoding="utf-8")
    before = tenant.snapshot()
    result = tenant.run("users", "create", "--from", str(path), "--yes")
    assert result.exit_code == 1
    tail = f"is not a verified domain of the tenant (verified: {DOMAIN}); verify it in the Entra admin center, " \
           "or use one of those"
    assert result.stderr.splitlines()[-3:] == [
        "Error: 2 problems in the users named; nothing was written:",
        f"  row 3, column userPrincipalName: fabrikam.com {tail}",
        f"  row 4, column userPrincipalName: typo.onmicrosoft.com {tail}",
    ]
    assert tenant.snapshot() == before
