"""users update / disable / enable: exact plans, exit codes, and the tenant afterwards."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cli_tenant import ADMIN, DOMAIN, Tenant, timeless

from provisioner.local.tenant import add_domain

ANN = f"ann@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
TARGET = "Target: local (local tenant, simulated)\n"


def _get(tenant: Tenant, upn: str, props: str) -> dict:
    with sqlite3.connect(tenant.state) as db:
        row = db.execute("SELECT id FROM users WHERE upn = ? AND deleted IS NULL", (upn,)).fetchone()
    assert row is not None, upn
    from provisioner.local.lifecycle import MANAGER_KEY
    from provisioner.local.store import Store

    store = Store(tenant.state)
    try:
        from provisioner.local.users import get_user

        user = get_user(store, row[0])
    finally:
        store.close()
    return {p: user.get(MANAGER_KEY if p == "manager" else p) for p in props.split(",")} | {"id": row[0]}


def test_update_properties_and_manager_exact_plan(tenant: Tenant) -> None:
    tenant.create("ann")
    tenant.create("bob")
    ann = _get(tenant, ANN, "id")["id"]
    bob = _get(tenant, BOB, "id")["id"]
    result = tenant.run("users", "update", ANN, "--department", "Sales", "--job-title", "Rep",
                        "--employee-hire-date", "2025-03-01", "--usage-location", "gb", "--manager", BOB, "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "Changes are marked: ~ update, set manager\n\n"
        f"  # user {ANN} will be updated in-place (requested)\n"
        f"  ~ user {ANN} ({ann})\n"
        '      ~ jobTitle         = null -> "Rep"\n'
        '      ~ department       = null -> "Sales"\n'
        '      ~ usageLocation    = null -> "GB"\n'
        '      ~ employeeHireDate = null -> "2025-03-01T00:00:00Z"\n\n'
        f"  # the manager of user {ANN} will be set (requested)\n"
        f"  ~ user {ANN} ({ann})\n"
        f'      ~ manager = null -> "{BOB}"\n\n'
        "Plan: 1 to update, 1 manager to change.\n")
    assert timeless(result.stderr) == TARGET + "Applied 2 of 2 change(s) in 0.0s.\n"
    got = _get(tenant, ANN, "department,jobTitle,usageLocation,employeeHireDate,manager")
    assert got == {"id": ann, "department": "Sales", "jobTitle": "Rep", "usageLocation": "GB",
                   "employeeHireDate": "2025-03-01T00:00:00Z", "manager": bob}
    # Re-running converges: nothing differs.
    again = tenant.run("users", "update", ANN, "--department", "Sales", "--manager", BOB, "--yes")
    assert again.exit_code == 0
    assert again.stderr == TARGET + (f"{BOB} is already the manager of {ANN}; nothing to change\n"
                                     f"{ANN} already has these values; nothing to update\n"
                                     "No changes. The tenant already matches.\n")
    assert [line["action"] for line in tenant.journal_lines()] == ["create", "create", "update", "manager"]


def test_update_clears_with_dash_and_removes_manager(tenant: Tenant) -> None:
    tenant.create("ann")
    tenant.create("bob")
    tenant.ok("users", "update", ANN, "--job-title", "Rep", "--manager", BOB, "--yes")
    result = tenant.ok("users", "update", ANN, "--job-title", "-", "--manager", "none", "--yes")
    assert '      ~ jobTitle = "Rep" -> null\n' in result.stdout
    assert f'      ~ manager = "{BOB}" -> null\n' in result.stdout
    assert f"  # the manager of user {ANN} will be removed (requested)\n" in result.stdout
    assert _get(tenant, ANN, "jobTitle,manager") | {"id": None} == {"id": None, "jobTitle": None, "manager": None}


def test_rename_needs_verified_domain_and_free_name(tenant: Tenant) -> None:
    tenant.create("ann")
    tenant.create("bob")
    before = tenant.snapshot()
    result = tenant.run("users", "update", ANN, "--upn", "ann@fabrikam.com", "--yes")
    assert result.exit_code == 4
    assert result.stderr == TARGET + (
        "Error: refused (1 problem); nothing was written:\n"
        f"  - {ANN} cannot be renamed to ann@fabrikam.com: fabrikam.com is not a verified domain of the tenant "
        f"(verified: {DOMAIN}); verify it in the Entra admin center (Domain names) first\n")
    result = tenant.run("users", "update", ANN, "--upn", BOB, "--yes")
    assert result.exit_code == 4
    assert f"cannot be renamed to {BOB}: that name belongs to another user" in result.stderr
    assert tenant.snapshot() == before
    add_domain(tenant.state, "fabrikam.com")
    result = tenant.ok("users", "update", ANN, "--upn", "ann.lee@fabrikam.com", "--yes")
    assert f'      ~ userPrincipalName = "{ANN}" -> "ann.lee@fabrikam.com"\n' in result.stdout
    assert "ann.lee@fabrikam.com" in tenant.users() and ANN not in tenant.users()


def test_update_bad_values_are_usage_errors(tenant: Tenant) -> None:
    tenant.create("ann")
    cases = [
        (("--usage-location", "USA"), "--usage-location: 'USA' is not a country code"),
        (("--employee-id", "x" * 17), "--employee-id: is 17 characters long; Entra allows at most 16 for employeeId"),
        (("--employee-hire-date", "03/01/2025"), "--employee-hire-date: '03/01/2025' is not a date"),
        (("--manager", "not a user"), "--manager: 'not a user' is not a valid user principal name"),
        ((), "nothing to change"),
    ]
    for args, message in cases:
        result = tenant.run("users", "update", ANN, *args, "--yes")
        assert result.exit_code == 64, args
        assert message in result.stderr, (args, result.stderr)


def test_update_unknown_manager_and_display_name_clear_refused(tenant: Tenant) -> None:
    tenant.create("ann")
    before = tenant.snapshot()
    result = tenant.run("users", "update", ANN, "--display-name", "-", "--manager", f"nobody@{DOMAIN}", "--yes")
    assert result.exit_code == 4
    assert result.stderr == TARGET + (
        "Error: refused (2 problems); nothing was written:\n"
        f"  - {ANN}: displayName cannot be cleared; give a new name\n"
        f"  - {ANN}: manager nobody@{DOMAIN} is not an active user of the tenant; check the name with: "
        "provisioner users list\n")
    assert tenant.snapshot() == before


def test_update_synced_user_refused_before_any_write(synced_tenant: Tenant) -> None:
    synced = next(u for u in synced_tenant.users() if u != ADMIN)
    before = synced_tenant.snapshot()
    result = synced_tenant.run("users", "update", synced, "--department", "Sales", "--yes")
    assert result.exit_code == 4
    assert (f"{synced} is synced from on-premises Active Directory (onPremisesSyncEnabled); change department "
            "there and let Entra Connect sync it") in result.stderr
    assert synced_tenant.snapshot() == before


def test_update_from_file_blank_leaves_dash_clears(tenant: Tenant, tmp_path: Path) -> None:
    tenant.create("ann")
    tenant.create("bob")
    tenant.ok("users", "update", ANN, "--job-title", "Rep", "--city", "Oslo", "--yes")
    movers = tmp_path / "movers.csv"
    movers.write_text("userPrincipalName,jobTitle,city,department,manager\n"
                      f"{ANN},,-,Sales,{BOB}\n"
                      f"{BOB},Lead,,,\n", encoding="utf-8")
    result = tenant.ok("users", "update", "--from", str(movers), "--yes")
    assert "Plan: 2 to update, 1 manager to change." in result.stdout
    assert (f"  # user {ANN} will be updated in-place (row 2)\n") in result.stdout
    got = _get(tenant, ANN, "jobTitle,city,department,manager")
    assert (got["jobTitle"], got["city"], got["department"]) == ("Rep", None, "Sales")
    assert got["manager"] == _get(tenant, BOB, "id")["id"]
    assert _get(tenant, BOB, "jobTitle")["jobTitle"] == "Lead"


def test_update_from_file_reports_every_bad_row(tenant: Tenant, tmp_path: Path) -> None:
    movers = tmp_path / "movers.csv"
    movers.write_text("userPrincipalName,usageLocation,employeeHireDate\n"
                      f"{ANN},USA,\n"
                      f"{BOB},,someday\n", encoding="utf-8")
    result = tenant.run("users", "update", "--from", str(movers), "--yes")
    assert result.exit_code == 64
    assert "row 2, column usageLocation: 'USA' is not a country code" in result.stderr
    assert "row 3, column employeeHireDate: 'someday' is not a date" in result.stderr


def test_disable_revokes_sessions_then_converges_and_enable(tenant: Tenant) -> None:
    tenant.create("ann")
    ann = _get(tenant, ANN, "id")["id"]
    result = tenant.ok("users", "disable", ANN, "--yes")
    assert result.stdout == (
        "Changes are marked: ~ update, revoke sign-in sessions\n\n"
        f"  # user {ANN} will be updated in-place (requested)\n"
        f"  ~ user {ANN} ({ann})\n"
        "      ~ accountEnabled = true -> false\n\n"
        f"  # every sign-in session of user {ANN} will be revoked (requested)\n"
        f"  ~ user {ANN} ({ann})\n\n"
        "Plan: 1 to update, 1 user to sign out.\n")
    got = _get(tenant, ANN, "accountEnabled,signInSessionsValidFromDateTime")
    assert got["accountEnabled"] is False and got["signInSessionsValidFromDateTime"]
    again = tenant.ok("users", "disable", ANN, "--yes")
    assert again.stderr == TARGET + (f"{ANN} already has sign-in disabled; nothing to update\n"
                                     "No changes. The tenant already matches.\n")
    enabled = tenant.ok("users", "enable", ANN, "--yes")
    assert "Plan: 1 to update." in enabled.stdout
    assert _get(tenant, ANN, "accountEnabled")["accountEnabled"] is True


def test_disable_keep_sessions(tenant: Tenant) -> None:
    tenant.create("ann")
    result = tenant.ok("users", "disable", ANN, "--keep-sessions", "--yes")
    assert "Plan: 1 to update." in result.stdout
    assert _get(tenant, ANN, "signInSessionsValidFromDateTime")["signInSessionsValidFromDateTime"] is None


def test_disable_last_global_admin_refused(tenant: Tenant) -> None:
    before = tenant.snapshot()
    result = tenant.run("users", "disable", ADMIN, "--yes")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr == TARGET + (
        "Error: refused (1 problem); nothing was written:\n"
        f"  - this plan would leave the tenant without an active Global Administrator (disable {ADMIN}); "
        "assign Global Administrator to another active user first: provisioner roles assign USER global\n")
    assert tenant.snapshot() == before
    tenant.create("ann", "global")
    tenant.ok("users", "disable", ADMIN, "--yes")
    assert _get(tenant, ADMIN, "accountEnabled")["accountEnabled"] is False


def test_disable_protected_account_refused(tenant: Tenant) -> None:
    tenant.create("ann")
    tenant.config.write_text('[execution]\njournal = "journal.jsonl"\n[safety]\n'
                             f'protected_accounts = ["{ANN}"]\n', encoding="utf-8")
    before = tenant.snapshot()
    result = tenant.run("users", "disable", ANN, "--yes")
    assert result.exit_code == 4
    assert f"disabling {ANN} is not allowed: it is a protected account" in result.stderr
    rename = tenant.run("users", "update", ANN, "--upn", f"ann2@{DOMAIN}", "--yes")
    assert rename.exit_code == 4 and f"renaming {ANN} is not allowed" in rename.stderr
    assert tenant.snapshot() == before


def test_disable_dry_run_writes_nothing(tenant: Tenant) -> None:
    tenant.create("ann")
    before = tenant.snapshot()
    result = tenant.ok("users", "disable", ANN, "--dry-run")
    assert "Plan: 1 to update, 1 user to sign out." in result.stdout
    assert tenant.snapshot() == before
