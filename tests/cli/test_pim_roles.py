"""PIM through the CLI on the local tenant (graph-pim-baseline P§A1-A3): eligible and time-bound
assignments, revoke of either kind, how members and users show say it, and a tenant without P2."""

from __future__ import annotations

import json
from datetime import timedelta

from cli_tenant import ADMIN, DOMAIN, Tenant
from starlette.testclient import TestClient

from provisioner.local.graph_app import graph_app
from provisioner.local.pim import licence_at
from provisioner.local.tenant import advance_clock

TARGET = "Target: local (local tenant, simulated)\n"
ALICE = f"alice@{DOMAIN}"
BASE = "/v1.0/roleManagement/directory"


def _graph(tenant: Tenant, path: str) -> list[dict]:
    """What the tenant itself holds (read over its Graph API, not through the product)."""
    app = graph_app(tenant.state)
    with TestClient(app, base_url="http://local.tenant") as client:
        resp = client.get(path)
    app.state.store.close()
    assert resp.status_code == 200, resp.text
    return resp.json()["value"]


def _instances(tenant: Tenant, eligible: bool, uid: str) -> list[dict]:
    name = "roleEligibilityScheduleInstances" if eligible else "roleAssignmentScheduleInstances"
    return _graph(tenant, f"{BASE}/{name}?$filter=principalId eq '{uid}'")


def _uid(tenant: Tenant, upn: str) -> str:
    return tenant.users()[upn]["id"]


def test_assign_eligible_for_a_duration(tenant: Tenant) -> None:
    tenant.create("alice")
    result = tenant.ok("roles", "assign", ALICE, "global", "--eligible", "--duration", "P180D",
                       "--justification", "on call", "--yes")
    assert result.stdout == (
        "Changes are marked: + assign role\n\n"
        f"  # role Global Administrator will be assigned to {ALICE} (not held yet)\n"
        f"  + role Global Administrator -> {ALICE}\n"
        '        assignment    = "eligible, for P180D"\n'
        '        justification = "on call"\n\n'
        "Plan: 1 role assignment to add.\n")
    assert result.stderr.startswith(TARGET + "Applied 1 of 1 change(s)")
    uid = _uid(tenant, ALICE)
    [eligible] = _instances(tenant, True, uid)
    assert eligible["roleDefinitionId"] == "62e90394-69f5-4237-9190-012177145e10"
    assert eligible["endDateTime"] is not None
    # Eligible is not active: no role assignment, and Alice is not counted as an acting admin.
    assert _instances(tenant, False, uid) == []
    journal = tenant.journal_lines()[-1]
    assert (journal["action"], journal["roleName"], journal["status"]) == ("assign", "Global Administrator", "ok")


def test_durations_are_sent_in_one_form_whatever_the_spelling(tenant: Tenant) -> None:
    tenant.create("alice")
    for given, sent in (("P1W", "P7D"), ("p1w", "P7D"), ("1w", "P7D"), ("36h", "P1DT12H"), ("PT36000S", "PT10H")):
        plan = tenant.ok("roles", "assign", ALICE, "global", "--eligible", "--duration", given, "--dry-run").stdout
        assert f'assignment = "eligible, for {sent}"' in plan, (given, plan)
    refused = tenant.run("roles", "assign", ALICE, "global", "--eligible", "--duration", "P1DT", "--dry-run")
    assert refused.exit_code == 64 and "--duration" in refused.stderr


def test_active_assignments_go_through_pim_and_show_their_end(tenant: Tenant) -> None:
    tenant.create("alice")
    tenant.ok("roles", "assign", ALICE, "billing", "--until", "2099-01-31", "--yes")
    tenant.ok("roles", "assign", ALICE, "user", "--permanent", "--yes")
    uid = _uid(tenant, ALICE)
    found = {i["roleDefinitionId"]: (i["startDateTime"] is not None, i["endDateTime"])
             for i in _instances(tenant, False, uid)}
    # Both made through PIM (a start): not "outside PIM".
    assert found == {"b0f54661-2d74-4c50-afa3-1ec803f12efe": (True, "2099-01-31T00:00:00Z"),
                     "fe930be7-5e62-47db-91af-98c3a49a38b1": (True, None)}
    shown = json.loads(tenant.ok("users", "show", ALICE, "-o", "json").stdout)
    assert shown["roles"] == ["Billing Administrator", "User Administrator"]
    assert shown["assignments"] == ["Billing Administrator: active until 2099-01-31",
                                    "User Administrator: active permanent"]


def test_members_say_how_each_holds_the_role(tenant: Tenant) -> None:
    tenant.create("alice")
    tenant.ok("roles", "assign", ALICE, "global", "--eligible", "--until", "2099-06-30", "--yes")
    rows = tenant.json("roles", "members", "global")
    assert [(r["userPrincipalName"], r["assignment"]) for r in rows] == [
        (ADMIN, "active permanent, outside PIM"), (ALICE, "eligible until 2099-06-30")]
    tenant.ok("roles", "assign", ALICE, "billing", "--eligible", "--yes")
    assert [r["assignment"] for r in tenant.json("roles", "members", "billing")] == ["permanently eligible"]


def test_the_audit_lists_eligible_holders_with_how_each_holds_the_role(tenant: Tenant) -> None:
    tenant.create("alice")
    tenant.ok("roles", "assign", ALICE, "global", "--eligible", "--until", "2099-06-30", "--yes")
    tenant.ok("roles", "assign", ALICE, "billing", "--until", "2099-01-31", "--yes")
    data = json.loads(tenant.ok("audit", "--output", "json", "--no-baseline").stdout)
    assert [(h["roleName"], h["userPrincipalName"], h["eligible"], h["endDateTime"], h["outsidePim"],
             h["assignment"]) for h in data["holders"]] == [
        ("Global Administrator", ADMIN, False, None, True, "active permanent, outside PIM"),
        ("Global Administrator", ALICE, True, "2099-06-30T00:00:00Z", None, "eligible until 2099-06-30"),
        ("Billing Administrator", ALICE, False, "2099-01-31T00:00:00Z", False, "active until 2099-01-31"),
    ]
    counts = {r["roleName"]: (r["holderCount"], r["eligibleHolderCount"]) for r in data["roles"]}
    assert counts["Global Administrator"] == (1, 1)  # only the active one can act: the findings count it
    assert data["summary"]["globalAdministrators"] == 1
    table = tenant.ok("audit", "--no-baseline").stdout.splitlines()
    assert [line.split("  ")[0] for line in table if ALICE in line] == ["Global Administrator", "Billing Administrator"]
    assert any("eligible until 2099-06-30" in line for line in table if ALICE in line)


def test_assign_what_is_held_is_already_in_place(tenant: Tenant) -> None:
    tenant.create("alice")
    tenant.ok("roles", "assign", ALICE, "billing", "--eligible", "--yes")
    journal = tenant.journal_lines()
    result = tenant.ok("roles", "assign", ALICE, "billing", "--eligible", "--yes")
    assert result.stdout == ""
    assert result.stderr == TARGET + (f"{ALICE} already eligible for Billing Administrator (permanently eligible);"
                                      " nothing to assign\nNo changes. The tenant already matches.\n")
    assert tenant.journal_lines() == journal


def test_revoke_removes_whichever_kind_or_the_one_chosen(tenant: Tenant) -> None:
    tenant.create("alice")
    tenant.ok("roles", "assign", ALICE, "billing", "--eligible", "--yes")
    tenant.ok("roles", "assign", ALICE, "billing", "--yes")
    uid = _uid(tenant, ALICE)
    result = tenant.ok("roles", "revoke", ALICE, "billing", "--eligible", "--yes")
    assert result.stdout == (
        "Changes are marked: - revoke role\n\n"
        f"  # role Billing Administrator will be revoked from {ALICE} (held permanently eligible)\n"
        f"  - role Billing Administrator -> {ALICE}\n"
        '        assignment = "eligible"\n\n'
        "Plan: 1 role assignment to remove.\n")
    assert _instances(tenant, True, uid) == []
    assert len(_instances(tenant, False, uid)) == 1
    result = tenant.ok("roles", "revoke", ALICE, "billing", "--eligible", "--yes")
    assert result.stderr == TARGET + (f"{ALICE} does not hold Billing Administrator as eligible; nothing to revoke\n"
                                      "No changes. The tenant already matches.\n")
    tenant.ok("roles", "assign", ALICE, "billing", "--eligible", "--yes")
    result = tenant.ok("roles", "revoke", ALICE, "billing", "--yes")
    assert "Plan: 2 role assignments to remove." in result.stdout
    assert _instances(tenant, True, uid) == [] and _instances(tenant, False, uid) == []


def test_the_clock_ends_a_time_bound_assignment(tenant: Tenant) -> None:
    tenant.create("alice")
    tenant.ok("roles", "assign", ALICE, "billing", "--duration", "8h", "--yes")
    assert tenant.members("billing") == [ALICE]
    advance_clock(tenant.state, timedelta(hours=9))
    assert tenant.members("billing") == []


def test_eligible_only_global_admins_do_not_keep_the_tenant(tenant: Tenant) -> None:
    """The last-GA rule counts active holders only: an eligible GA cannot act until it activates."""
    tenant.create("alice")
    tenant.ok("roles", "assign", ALICE, "global", "--eligible", "--yes")
    result = tenant.run("roles", "revoke", ADMIN, "global", "--yes")
    assert result.exit_code == 4, result.stderr
    assert result.stderr == TARGET + (
        "Error: refused (1 problem); nothing was written:\n"
        "  - this plan would leave the tenant without an active Global Administrator (revoke Global Administrator "
        f"from {ADMIN}); assign Global Administrator to another active user first: provisioner roles assign USER "
        "global\n")
    assert tenant.members("global") == [ADMIN, ALICE]


def test_without_p2_eligible_is_refused_naming_the_licence(tenant: Tenant) -> None:
    licence_at(tenant.state, False)
    tenant.create("alice")
    journal = tenant.journal_lines()
    result = tenant.run("roles", "assign", ALICE, "global", "--eligible", "--yes")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].endswith(
        "an eligible assignment needs Microsoft Entra ID P2 (or Entra ID Governance) and this tenant has neither; "
        "assign it as a permanent active role instead (without --eligible, --until or --duration)")
    assert tenant.journal_lines() == journal
    # The direct API still assigns active roles, as before PIM.
    tenant.ok("roles", "assign", ALICE, "billing", "--yes")
    assert tenant.members("billing") == [ALICE]


def test_option_mistakes_are_one_line_usage_errors(tenant: Tenant) -> None:
    tenant.create("alice")
    for args, message in (
        (("--until", "2099-01-01", "--duration", "P1D"), "give --until or --duration, not both"),
        (("--permanent", "--duration", "P1D"), "--permanent has no end: drop --until/--duration, or drop --permanent"),
        (("--until", "someday"), "'someday' is not a date; use e.g. 2027-01-31 or 2027-01-31T18:00Z"),
        (("--until", "2001-01-01"), "'2001-01-01' is in the past; give a later date"),
        (("--duration", "soon"), "'soon' is not a duration; use e.g. 7d, 36h or 90m (or ISO 8601: P30D, PT8H)"),
    ):
        result = tenant.run("roles", "assign", ALICE, "billing", *args, "--yes")
        assert result.exit_code == 64, (args, result.stderr)
        assert message in result.stderr
    result = tenant.run("roles", "revoke", ALICE, "billing", "--eligible", "--active", "--yes")
    assert result.exit_code == 64
    assert "give --eligible or --active, not both" in result.stderr
