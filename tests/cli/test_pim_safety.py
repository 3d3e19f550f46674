"""A saved plan's PIM revokes, grants and ends, where a mistake costs the tenant its administrators:

- a revoke labelled eligible but sent as the direct API's DELETE of an active assignment (a plan edited
  by someone who recomputes its fingerprint and digest) is refused, never sent;
- a correct plan revoking an eligible role applies;
- an active assignment replaced by an eligible one is kept when the eligible grant fails at apply, and
  a plan whose grant's expiry rule changed since it was made is refused as stale;
- a plan after which every active Global Administrator assignment ends within 24 hours is refused.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_tenant import ADMIN, BILLING, DOMAIN, GA, TARGET, Tenant, make_tenant, require_expiry
from plan_editor import STALE, disagree, read_state, refingerprint, write

from provisioner.bootstrap import connected
from provisioner.config import load_config
from provisioner.errors import ExitCode
from provisioner.model import RoleAssignment, TenantState
from provisioner.services.reads import all_instances

BOB, DAVE = f"bob@{DOMAIN}", f"dave@{DOMAIN}"
REMAKE = "make it with: provisioner sync MANIFEST --out PLAN.json"


@pytest.fixture
def tenant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tenant:
    t = make_tenant(tmp_path)
    # The editor's own reads (to recompute the fingerprint) go to the same tenant.
    t.export(monkeypatch)
    return t


def held(eligible: bool = False) -> dict[tuple[str, str], RoleAssignment]:
    """(UPN, role id) -> the assignment of that kind, as PIM lists it."""
    async def read() -> TenantState:
        async with connected(load_config().profile(None)) as d:
            return await all_instances(d)

    state, users = asyncio.run(read()), read_state().users.values()
    upns = {u.id: u.user_principal_name for u in users}
    return {(upns[a.principal_id], a.role_definition_id): a
            for a in (state.eligible if eligible else state.assignments) if a.principal_id in upns}


def resign(plan_file: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as a determined editor would: fingerprint and digest recomputed with this code (the
    fingerprint does not depend on a change's kind: worked out on the changes made acceptable)."""
    acceptable = [{**c, "throughPim": True} if c.get("eligible") else c for c in data["changes"]]
    write(plan_file, refingerprint(data, changes=acceptable), indent=2)


def refused(t: Tenant, plan_file: Path, code: int = ExitCode.REFUSED) -> str:
    before, journal = t.snapshot(), t.journal_lines()
    result = t.run("apply", str(plan_file), "--yes")
    assert (result.exit_code, result.stdout) == (code, ""), result.output
    assert t.snapshot() == before
    assert t.journal_lines() == journal
    return result.stderr


def manifest(t: Tenant, entries: str, managed: str = '["billing"]') -> str:
    path = t.root / "m.toml"
    path.write_text(f'[scope]\ndomains = ["{DOMAIN}"]\nmanaged_roles = {managed}\n\n{entries}', encoding="utf-8")
    return str(path)


# --- 1. a revoke's kind is what the write removes, not what its label says --------------------------


def _eligible_labelled_revokes(t: Tenant, through_pim: bool) -> tuple[Path, list[str]]:
    """``audit --fix-plan``'s file, its changes replaced by revokes of both active Global Administrator
    assignments, each labelled eligible; fingerprint and digest recomputed."""
    t.create("bob", "global")
    plan_file = t.root / "fix.json"
    t.ok("audit", "--fix-plan", str(plan_file))
    active = held()
    users = read_state().users
    data = json.loads(plan_file.read_text(encoding="utf-8"))
    ids = [active[(upn, GA)].id for upn in (ADMIN, BOB)]
    data["changes"] = [
        {"action": "revoke", "userPrincipalName": upn, "objectId": users[upn].id, "roleDefinitionId": GA,
         "roleName": "Global Administrator", "assignmentId": aid, "eligible": True, "throughPim": through_pim,
         "reason": "held eligible instead"}
        for upn, aid in zip((ADMIN, BOB), ids, strict=True)]
    resign(plan_file, data)
    return plan_file, ids


def test_an_eligible_revoke_sent_as_a_direct_delete_is_refused_by_the_file(tenant: Tenant) -> None:
    plan_file, _ = _eligible_labelled_revokes(tenant, through_pim=False)
    stderr = refused(tenant, plan_file, ExitCode.USAGE)
    assert stderr == (f"Error: {plan_file}: change 1 (revoke {ADMIN}): eligible is true but throughPim is "
                      "not; an eligible assignment is made and removed only through PIM (throughPim: true); "
                      f"{REMAKE}\n")
    assert tenant.members("global") == [ADMIN, BOB]


def test_an_active_assignment_under_an_eligible_label_is_refused_by_its_kind(tenant: Tenant) -> None:
    plan_file, ids = _eligible_labelled_revokes(tenant, through_pim=True)
    stderr = refused(tenant, plan_file)
    assert stderr == (f"{TARGET}Error: {disagree(2)}\n"
                      f"  - revoke Global Administrator from {ADMIN}: role assignment {ids[0]} is not an eligible "
                      "assignment in this tenant\n"
                      f"  - revoke Global Administrator from {BOB}: role assignment {ids[1]} is not an eligible "
                      "assignment in this tenant\n")
    assert tenant.members("global") == [ADMIN, BOB]


# --- 4. a correct saved plan revoking an eligible role applies ---------------------------------------


def test_a_saved_sync_plan_revoking_an_eligible_role_applies(tenant: Tenant) -> None:
    tenant.create("dave")
    tenant.ok("roles", "assign", DAVE, "billing", "--eligible", "--yes")
    eligibility = held(eligible=True)[(DAVE, BILLING)].id
    plan_file = tenant.root / "s.json"
    tenant.ok("sync", manifest(tenant, f'[[users]]\nuserPrincipalName = "{DAVE}"\nroles = []\n'),
              "--out", str(plan_file))
    [change] = json.loads(plan_file.read_text(encoding="utf-8"))["changes"]
    assert (change["action"], change["assignmentId"], change["eligible"], change["throughPim"]) == (
        "revoke", eligibility, True, True)
    result = tenant.run("apply", str(plan_file), "--yes")
    assert result.exit_code == 0, result.output
    assert "Applied 1 of 1" in result.stderr
    assert (DAVE, BILLING) not in held(eligible=True)
    assert tenant.journal_lines()[-1]["status"] == "ok"


# --- 2. an active assignment is revoked only once its eligible replacement is in place -----------------


def _kind_change_plan(t: Tenant, until: str) -> Path:
    """dave holds Billing Administrator active (through PIM); the manifest wants it eligible until
    ``until``: the saved plan grants the eligible one and revokes the active one."""
    t.create("dave")
    t.ok("roles", "assign", DAVE, "billing", "--yes")
    plan_file = t.root / "s.json"
    t.ok("sync", manifest(t, f'[[users]]\nuserPrincipalName = "{DAVE}"\n'
                             f'roles = [{{ role = "billing", eligible = true, until = "{until}" }}]\n'),
         "--out", str(plan_file))
    changes = json.loads(plan_file.read_text(encoding="utf-8"))["changes"]
    assert [(c["action"], c.get("eligible", False)) for c in changes] == [("assign", True), ("revoke", False)]
    return plan_file


def test_a_failed_eligible_grant_keeps_the_active_assignment(tenant: Tenant) -> None:
    """Applied too late: the eligible grant's end has passed by the tenant's clock, so Graph refuses the
    grant; the active assignment it was to replace is kept, not revoked."""
    now = read_state().now
    plan_file = _kind_change_plan(tenant, (now + timedelta(days=2)).strftime("%Y-%m-%d"))
    active = held()[(DAVE, BILLING)]
    tenant.ok("local", "clock", "advance", "3d")
    result = tenant.run("apply", str(plan_file), "--yes")
    assert result.exit_code == 1, result.output
    shown = re.sub(r"\(request-id [0-9a-f-]+\)", "(request-id R)", re.sub(r" in [\d.]+s", " in Ns", result.stderr))
    assert shown.splitlines()[-4:] == [
        "Applied 0 of 2 change(s) in Ns, 2 failed.",
        f"  failed: assign Billing Administrator {DAVE}: Request_BadRequest: The schedule's end must be after its "
        "start. (request-id R)",
        f"  failed: revoke Billing Administrator {DAVE}: FailedDependency: Billing Administrator was kept active for "
        f"{DAVE}: the eligible assignment that replaces it was not granted, so the active one was not revoked",
        "Error: 2 change(s) did not apply; re-run the same command to retry them (it converges)"]
    assert held()[(DAVE, BILLING)] == active
    assert (DAVE, BILLING) not in held(eligible=True)
    grant, revoke = tenant.journal_lines()[-2:]
    assert (grant["action"], grant["status"]) == ("assign", "failed")
    assert {k: revoke[k] for k in ("action", "status", "code", "message")} == {
        "action": "revoke", "status": "failed", "code": "FailedDependency",
        "message": f"Billing Administrator was kept active for {DAVE}: the eligible assignment that replaces it "
                   "was not granted, so the active one was not revoked"}


def test_the_same_plan_in_time_replaces_the_active_assignment(tenant: Tenant) -> None:
    now = read_state().now
    plan_file = _kind_change_plan(tenant, (now + timedelta(days=30)).strftime("%Y-%m-%d"))
    result = tenant.run("apply", str(plan_file), "--yes")
    assert result.exit_code == 0, result.output
    assert (DAVE, BILLING) not in held()
    assert (DAVE, BILLING) in held(eligible=True)


@pytest.mark.parametrize("rule", ["Expiration_Admin_Eligibility", "Expiration_Admin_Assignment"])
def test_a_fix_plan_whose_grant_expiry_rule_changed_is_refused_as_stale(tenant: Tenant, rule: str) -> None:
    """``audit --fix-plan`` makes helper's permanent User Administrator eligible; the role's expiry rule
    for eligible grants changes before apply: the grant would fail, so the plan is stale. A change of the
    active rule does not touch an eligible grant: the plan applies."""
    tenant.create("helper", "user")
    plan_file = tenant.root / "fix.json"
    tenant.ok("audit", "--fix-plan", str(plan_file))
    actions = [(c["action"], c["userPrincipalName"]) for c in json.loads(plan_file.read_text())["changes"]]
    helper = f"helper@{DOMAIN}"
    assert ("assign", helper) in actions and ("revoke", helper) in actions
    require_expiry(tenant, "fe930be7-5e62-47db-91af-98c3a49a38b1", rule, "P30D")
    if rule == "Expiration_Admin_Eligibility":
        assert refused(tenant, plan_file).endswith(f"Error: {STALE}\n")
    else:
        assert tenant.run("apply", str(plan_file), "--yes").exit_code == 0


# --- 3. never only Global Administrators who cannot act tomorrow -------------------------------------


def _ga_until(t: Tenant, upn: str, duration: str) -> str:
    t.ok("roles", "assign", upn, "global", "--duration", duration, "--yes")
    end = held()[(upn, GA)].end
    assert end is not None
    return end


def test_leaving_only_global_admins_ending_within_24_hours_is_refused(tenant: Tenant) -> None:
    tenant.create("bob")
    end = _ga_until(tenant, BOB, "PT12H")
    before = tenant.snapshot()
    result = tenant.run("roles", "revoke", ADMIN, "global", "--yes")
    assert (result.exit_code, result.stdout) == (ExitCode.REFUSED, "")
    assert result.stderr.endswith(
        "Error: refused (1 problem); nothing was written:\n"
        "  - this plan would leave only active Global Administrator assignments that end within 24 hours "
        f"({BOB} at {end[:19]}Z); after that nobody could administer the tenant. Give one a permanent or longer "
        "assignment first: provisioner roles assign USER global\n")
    assert tenant.snapshot() == before


@pytest.mark.parametrize("command", [("users", "disable", ADMIN, "--yes"), ("users", "offboard", ADMIN, "--yes")])
def test_disabling_or_offboarding_is_judged_on_the_ends_that_remain(tenant: Tenant, command: tuple[str, ...]) -> None:
    tenant.create("bob")
    end = _ga_until(tenant, BOB, "PT12H")
    before = tenant.snapshot()
    result = tenant.run(*command)
    assert result.exit_code == ExitCode.REFUSED, result.output
    assert result.stderr.endswith(
        "  - this plan would leave only active Global Administrator assignments that end within 24 hours "
        f"({BOB} at {end[:19]}Z); after that nobody could administer the tenant. Give one a permanent or longer "
        "assignment first: provisioner roles assign USER global\n")
    assert tenant.snapshot() == before


def _saved_delete_of_admin(t: Tenant) -> tuple[Path, str]:
    """A saved plan deleting admin (the permanent Global Administrator), made while bob's Global
    Administrator has 3 days left (sync warns); bob's end as it was then."""
    t.create("bob")
    end = _ga_until(t, BOB, "P3D")
    plan_file = t.root / "s.json"
    made = t.ok("sync", manifest(t, f'[[users]]\nuserPrincipalName = "{BOB}"\n', "[]"), "--prune",
                "--out", str(plan_file))
    assert [c["action"] for c in json.loads(plan_file.read_text())["changes"]] == ["delete"]
    assert _warning(end) in made.stderr
    return plan_file, end


def _warning(end: str) -> str:
    return (f"warning: after this plan every active Global Administrator assignment ends within 7 days ({BOB} on "
            f"{end[:10]}); an eligible one can act only once activated.")


def test_a_saved_plan_is_warned_of_the_ends_it_leaves(tenant: Tenant) -> None:
    plan_file, end = _saved_delete_of_admin(tenant)
    result = tenant.run("apply", str(plan_file), "--yes")
    assert result.exit_code == 0, result.output
    assert _warning(end) in result.stderr
    assert tenant.members("global") == [BOB]


def test_a_saved_plan_is_refused_when_what_it_leaves_now_ends_within_24_hours(tenant: Tenant) -> None:
    """Applied 60 hours after it was made (the tenant is the same, so the plan is not stale), bob's
    assignment ends 12 hours later: apply reads how it is held and refuses."""
    plan_file, end = _saved_delete_of_admin(tenant)
    tenant.ok("local", "clock", "advance", "60h")
    assert refused(tenant, plan_file).endswith(
        f"  - this plan would leave only active Global Administrator assignments that end within 24 hours ({BOB} "
        f"at {end[:19]}Z); after that nobody could administer the tenant. Give one a permanent or longer assignment "
        "first: provisioner roles assign USER global\n")
