"""A role whose PIM policy requires expiry (Expiration_Admin_* rules, graph-pim-baseline P§A3/P§A4.4):
roles assign, users create --role and sync read the rule before planning and refuse (exit 4), before
any write, a grant it forbids, naming the role, the rule and the maximum it allows."""

from __future__ import annotations

from pathlib import Path

from cli_tenant import BILLING, DOMAIN, GA, TARGET, Tenant, require_expiry

ALICE = f"alice@{DOMAIN}"


def _instances(tenant: Tenant, eligible: bool) -> list[dict]:
    name = "roleEligibilityScheduleInstances" if eligible else "roleAssignmentScheduleInstances"
    return tenant.graph("GET", f"/roleManagement/directory/{name}")["value"]


def test_a_permanent_eligibility_is_refused_with_the_maximum(tenant: Tenant) -> None:
    tenant.create("alice")
    require_expiry(tenant, GA, "Expiration_Admin_Eligibility", "P90D")
    journal = tenant.journal_lines()
    result = tenant.run("roles", "assign", ALICE, "global", "--eligible", "--yes")
    assert result.exit_code == 4, result.stderr
    assert result.stdout == ""
    assert result.stderr == TARGET + (
        "Error: Global Administrator allows eligible assignments of at most 90 days (P90D, PIM rule "
        "Expiration_Admin_Eligibility), not a permanent one; give --duration P90D or less\n")
    assert _instances(tenant, True) == []
    assert tenant.journal_lines() == journal


def test_a_grant_longer_than_the_maximum_is_refused_and_one_within_it_runs(tenant: Tenant) -> None:
    tenant.create("alice")
    require_expiry(tenant, GA, "Expiration_Admin_Eligibility", "P90D")
    result = tenant.run("roles", "assign", ALICE, "global", "--eligible", "--duration", "P180D", "--yes")
    assert (result.exit_code, result.stderr.splitlines()[-1]) == (4, (
        "Error: Global Administrator allows eligible assignments of at most 90 days (P90D, PIM rule "
        "Expiration_Admin_Eligibility), not P180D; give --duration P90D or less"))
    result = tenant.run("roles", "assign", ALICE, "global", "--eligible", "--until", "2099-01-31", "--yes")
    assert (result.exit_code, result.stderr.splitlines()[-1]) == (4, (
        "Error: Global Administrator allows eligible assignments of at most 90 days (P90D, PIM rule "
        "Expiration_Admin_Eligibility), not until 2099-01-31; give --duration P90D or less"))
    assert _instances(tenant, True) == []
    # Within the maximum: planned and written. The rule is the eligible one: an active grant is free.
    assert "Applied 1 of 1" in tenant.ok("roles", "assign", ALICE, "global", "--eligible", "--duration", "90d",
                                         "--yes").stderr
    assert [i["roleDefinitionId"] for i in _instances(tenant, True)] == [GA]
    assert "Applied 1 of 1" in tenant.ok("roles", "assign", ALICE, "global", "--permanent", "--yes").stderr


def test_the_active_rule_refuses_a_permanent_active_grant(tenant: Tenant) -> None:
    tenant.create("alice")
    require_expiry(tenant, BILLING, "Expiration_Admin_Assignment", "PT8H")
    result = tenant.run("roles", "assign", ALICE, "billing", "--yes")
    assert (result.exit_code, result.stderr.splitlines()[-1]) == (4, (
        "Error: Billing Administrator allows active assignments of at most 8 hours (PT8H, PIM rule "
        "Expiration_Admin_Assignment), not a permanent one; give --duration PT8H or less"))
    assert "Applied 1 of 1" in tenant.ok("roles", "assign", ALICE, "billing", "--duration", "8h", "--yes").stderr
    [active] = [i for i in _instances(tenant, False) if i["roleDefinitionId"] == BILLING]
    assert active["endDateTime"] is not None


def test_users_create_with_a_role_the_rule_forbids_creates_nothing(tenant: Tenant) -> None:
    require_expiry(tenant, BILLING, "Expiration_Admin_Assignment", "P30D")
    result = tenant.run("users", "create", ALICE, "--display-name", "Alice", "--role", "billing", "--yes")
    assert result.exit_code == 4, result.stderr
    assert result.stderr == TARGET + (
        "Error: Billing Administrator allows active assignments of at most 30 days (P30D, PIM rule "
        "Expiration_Admin_Assignment), not a permanent one; create the user without --role, then grant the role "
        f"time-bound: provisioner roles assign {ALICE} billing --duration P30D\n")
    assert ALICE not in tenant.users()


def test_sync_refuses_a_manifest_kind_the_rule_forbids(tenant: Tenant) -> None:
    require_expiry(tenant, GA, "Expiration_Admin_Eligibility", "P90D")
    path = Path(tenant.root) / "team.toml"
    path.write_text(f'[scope]\ndomains = ["{DOMAIN}"]\n\n[[users]]\nuserPrincipalName = "{ALICE}"\n'
                    'displayName = "Alice"\nroles = [{ role = "global", eligible = true, duration = "P180D" }]\n',
                    encoding="utf-8")
    result = tenant.run("sync", str(path), "--yes")
    assert result.exit_code == 4, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "Error: Global Administrator allows eligible assignments of at most 90 days (P90D, PIM rule "
        'Expiration_Admin_Eligibility), not P180D; give it duration = "P90D" or less in the manifest')
    assert ALICE not in tenant.users()


def test_users_create_with_a_role_grants_it_through_pim(tenant: Tenant) -> None:
    """On a tenant with P2 the new user's role is an active PIM assignment, not one "outside PIM" (P§A2.4)."""
    result = tenant.ok("users", "create", ALICE, "--display-name", "Alice", "--role", "billing", "--yes")
    assert "Applied 2 of 2" in result.stderr
    uid = tenant.users()[ALICE]["id"]
    [active] = [i for i in _instances(tenant, False) if i["principalId"] == uid]
    assert (active["roleDefinitionId"], active["startDateTime"] is not None, active["endDateTime"]) == (
        BILLING, True, None)
    assert [r["assignment"] for r in tenant.json("roles", "members", "billing")] == ["active permanent"]
    record = tenant.journal_lines()[-1]
    assert (record["action"], record["roleName"], record["status"]) == ("assign", "Billing Administrator", "ok")


def test_roles_list_splits_holders_into_active_and_eligible(tenant: Tenant) -> None:
    tenant.create("alice")
    tenant.ok("roles", "assign", ALICE, "global", "--eligible", "--duration", "P30D", "--yes")
    tenant.ok("roles", "assign", ALICE, "billing", "--duration", "P30D", "--yes")
    rows = {r["alias"]: (r["holders"], r["eligibleHolders"]) for r in tenant.json("roles", "list")}
    assert rows == {"global": (1, 1), "billing": (1, 0), "password": (0, 0), "service": (0, 0), "user": (0, 0)}
    lines = tenant.ok("roles", "list", "-o", "csv").stdout.splitlines()
    assert lines[0] == ("alias,classicName,displayName,templateId,isPrivileged,holders,eligibleHolders,"
                        "description")
    table = tenant.ok("roles", "list").stdout.splitlines()
    assert table[0].split()[-2:] == ["Active", "Eligible"]
    assert table[2].split()[-3:] == ["yes", "1", "1"]


def test_roles_list_without_p2_has_no_eligible_holders(tenant: Tenant) -> None:
    from provisioner.local.pim import licence_at

    licence_at(tenant.state, False)
    rows = tenant.json("roles", "list")
    assert [(r["holders"], r["eligibleHolders"]) for r in rows] == [(1, 0), (0, 0), (0, 0), (0, 0), (0, 0)]


def test_a_plan_leaving_only_soon_ending_global_admins_is_warned_not_refused(tenant: Tenant) -> None:
    """Item 3 of the PIM issue: zero active Global Administrators is refused (exit 4); leaving only ones
    whose assignments end within the audit's window (7 days) is a warning in the review, and the plan runs."""
    from cli_tenant import ADMIN

    tenant.create("alice")
    tenant.ok("roles", "assign", ALICE, "global", "--duration", "P3D", "--yes")
    uid = tenant.users()[ALICE]["id"]
    [ends] = [i["endDateTime"] for i in _instances(tenant, False) if i["principalId"] == uid]
    result = tenant.ok("roles", "revoke", ADMIN, "global", "--yes")
    assert result.stderr.splitlines()[:2] == [
        TARGET.strip(),
        "warning: after this plan every active Global Administrator assignment ends within 7 days "
        f"({ALICE} on {ends[:10]}); an eligible one can act only once activated. Give one a permanent or "
        "longer assignment first: provisioner roles assign USER global"]
    assert "Applied 1 of 1" in result.stderr
    assert tenant.members("global") == [ALICE]


def test_no_warning_when_a_remaining_global_admin_lasts(tenant: Tenant) -> None:
    from cli_tenant import ADMIN

    tenant.create("alice")
    tenant.ok("roles", "assign", ALICE, "global", "--duration", "P30D", "--yes")
    result = tenant.ok("roles", "revoke", ADMIN, "global", "--yes")
    assert "warning" not in result.stderr
    assert result.stderr.startswith(TARGET + "Applied 1 of 1")
