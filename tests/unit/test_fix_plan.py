"""The SCuBA fix planner on plain data (no tenant), the guardrail it must never trip, and the
policy-rule change's saved form."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from provisioner.audit import baseline as scuba
from provisioner.changes import Action, Change, Plan
from provisioner.errors import Refused
from provisioner.model import Policy, RoleAssignment, RoleDefinition, RolePolicy, TenantState, User
from provisioner.plan import guardrails
from provisioner.plan.fixes import FixRequest, fix_plan

GA = "62e90394-69f5-4237-9190-012177145e10"
UA = "fe930be7-5e62-47db-91af-98c3a49a38b1"
ADMIN = User("00000000-0000-0000-0000-00000000000a", "admin@contoso.com", "Admin")
SPARE = User("00000000-0000-0000-0000-00000000000b", "spare@contoso.com", "Spare")
POLICY = "DirectoryRole_11111111-1111-1111-1111-111111111111_22222222-2222-2222-2222-222222222222"


def state(*assignments: RoleAssignment, eligible: tuple[RoleAssignment, ...] = (),
          expiry: dict | None = None) -> TenantState:
    rules = {"Expiration_Admin_Eligibility": {"id": "Expiration_Admin_Eligibility", **(expiry or {})}}
    roles = [RoleDefinition(GA, "Global Administrator", GA), RoleDefinition(UA, "User Administrator", UA)]
    return TenantState(now=datetime(2026, 1, 1, tzinfo=UTC), users={u.user_principal_name: u for u in (ADMIN, SPARE)},
                       roles=roles,
                       assignments=list(assignments), eligible=list(eligible), pim=True,
                       policies={GA: RolePolicy(POLICY, rules), UA: RolePolicy(POLICY, rules)})


def direct(user: User, role: str) -> RoleAssignment:
    return RoleAssignment(f"{role[:8]}{user.id[-4:]}-1", user.id, role, outside_pim=True)


def judged(s: TenantState, *, p2: bool = True) -> scuba.Baseline:
    results = tuple(scuba.PolicyResult(p, c, False, "" if p2 else scuba.P2_WARNING) for p, (c, _, _) in
                    scuba.POLICIES.items())
    return scuba.Baseline(results)


def test_a_plan_leaving_no_active_global_administrator_is_refused():
    # Hand-made: the only Global Administrator made eligible, its active assignment revoked.
    s = state(direct(ADMIN, GA))
    upn, name = ADMIN.user_principal_name, "Global Administrator"
    plan = Plan((Change(Action.ASSIGN, upn, ADMIN.id, role_id=GA, role_name=name, eligible=True, through_pim=True),
                 Change(Action.REVOKE, upn, ADMIN.id, role_id=GA, role_name=name, assignment_id=s.assignments[0].id)))
    with pytest.raises(Refused) as refused:
        guardrails(plan, s, Policy())
    assert str(refused.value) == (
        "refused (1 problem); nothing was written:\n  - this plan would leave the tenant without an active Global "
        "Administrator (revoke Global Administrator from admin@contoso.com); assign Global Administrator to another "
        "active user first: provisioner roles assign USER global")


def test_the_planner_keeps_the_last_global_administrator_active_and_its_plan_passes_the_guardrails():
    s = state(direct(ADMIN, GA), direct(SPARE, UA))
    fixed = fix_plan(s, judged(s), FixRequest())
    assert [(c.action, c.upn, c.role_name, c.eligible) for c in fixed.plan.changes] == [
        (Action.ASSIGN, SPARE.user_principal_name, "User Administrator", True),
        (Action.REVOKE, SPARE.user_principal_name, "User Administrator", False)]
    guardrails(fixed.plan, s, Policy())  # does not raise
    assert fixed.notes[0].startswith("Global Administrator stays active for admin@contoso.com: making every holder")


def test_a_protected_global_administrator_lets_the_others_become_eligible():
    s = state(direct(ADMIN, GA), direct(SPARE, GA))
    fixed = fix_plan(s, judged(s), FixRequest(protected=frozenset({SPARE.id})))
    assert [(c.action, c.upn) for c in fixed.plan.changes] == [(Action.ASSIGN, ADMIN.user_principal_name),
                                                              (Action.REVOKE, ADMIN.user_principal_name)]
    guardrails(fixed.plan, s, Policy(protected=frozenset({SPARE.user_principal_name})))


def test_an_expiry_the_policy_requires_is_the_eligibilitys_duration_and_a_held_eligibility_is_not_assigned_again():
    held = RoleAssignment("x-1-e", SPARE.id, UA, eligible=True)
    s = state(direct(SPARE, UA), direct(ADMIN, UA), eligible=(held,),
              expiry={"isExpirationRequired": True, "maximumDuration": "P90D"})
    changes = fix_plan(s, judged(s), FixRequest()).plan.changes
    assert [(c.action, c.upn, c.duration) for c in changes] == [
        (Action.ASSIGN, ADMIN.user_principal_name, "P90D"),
        (Action.REVOKE, ADMIN.user_principal_name, None),
        (Action.REVOKE, SPARE.user_principal_name, None)]


def test_without_p2_nothing_is_planned():
    s = state(direct(SPARE, UA))
    fixed = fix_plan(s, judged(s, p2=False), FixRequest(recipients=("sec@contoso.com",), approver=ADMIN))
    assert fixed.plan.changes == ()
    assert {f.policy_id: f.status for f in fixed.fixes if f.policy_id >= "MS.AAD.7.4"} == dict.fromkeys(
        ("MS.AAD.7.4v1", "MS.AAD.7.5v1", "MS.AAD.7.6v1", "MS.AAD.7.7v1", "MS.AAD.7.8v1", "MS.AAD.7.9v1"),
        "not planned")


def test_a_policy_rule_change_round_trips_through_its_saved_form():
    change = Change(Action.POLICY_RULE, "", role_id=GA, role_name="Global Administrator", policy_id=POLICY,
                    rule_id="Notification_Admin_Admin_Assignment", updates={"notificationRecipients": ([], ["a@b.c"])},
                    properties={"notificationRecipients": ["a@b.c"]}, reason="MS.AAD.7.7: alert recipients")
    assert Change.from_json(change.to_json()) == change
    with pytest.raises(ValueError, match="a create change has no policy_id"):
        Change(Action.CREATE, "a@b.c", policy_id=POLICY)
