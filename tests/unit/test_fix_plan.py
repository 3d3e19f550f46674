"""The SCuBA fix planner on plain data (no tenant), the guardrail it must never trip, and the
policy-rule change's saved form."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

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


def test_without_pim_nothing_is_planned():
    s = replace(state(direct(SPARE, UA)), pim=False)
    fixed = fix_plan(s, judged(s, p2=False), FixRequest(recipients=("sec@contoso.com",), approver=ADMIN))
    assert fixed.plan.changes == ()
    assert {f.policy_id: (f.status, f.text) for f in fixed.fixes if f.policy_id >= "MS.AAD.7.4"} == dict.fromkeys(
        ("MS.AAD.7.4v1", "MS.AAD.7.5v1", "MS.AAD.7.6v1", "MS.AAD.7.7v1", "MS.AAD.7.8v1", "MS.AAD.7.9v1"),
        ("not planned", "the tenant has no PIM: it needs Microsoft Entra ID P2 or Microsoft Entra ID Governance "
                        "(ScubaGear looks for AAD_PREMIUM_P2)"))


def test_pim_without_p2_is_planned_and_scubagears_verdict_is_only_reported():
    # Entra ID Governance: PIM answers, ScubaGear's message says "no P2".
    s = state(direct(SPARE, UA))
    fixed = fix_plan(s, judged(s, p2=False), FixRequest())
    assert [(c.action, c.upn) for c in fixed.plan.changes] == [(Action.ASSIGN, SPARE.user_principal_name),
                                                              (Action.REVOKE, SPARE.user_principal_name)]
    assert fixed.fixes[3].status == "planned"
    assert fixed.notes == ("The tenant has PIM without Entra ID P2 (Entra ID Governance): this plan fixes MS.AAD.7.4 "
                           "to 7.9, but ScubaGear looks only for the AAD_PREMIUM_P2 service plan and still reports "
                           "them as not met.",)


def timebound(user: User, role: str, end: str) -> RoleAssignment:
    return RoleAssignment(f"{role[:8]}{user.id[-4:]}-tb", user.id, role, start="2025-12-01T00:00:00Z", end=end,
                          outside_pim=False)


def test_a_global_administrator_ending_within_the_window_does_not_count_as_staying_active():
    # The only permanent Global Administrator, and one whose active assignment ends in 2 days.
    s = state(direct(ADMIN, GA), timebound(SPARE, GA, "2026-01-03T00:00:00Z"))
    guardrails(Plan((Change(Action.REVOKE, ADMIN.user_principal_name, ADMIN.id, role_id=GA,
                            role_name="Global Administrator", assignment_id=s.assignments[0].id),)), s, Policy())
    fixed = fix_plan(s, judged(s), FixRequest())
    assert fixed.plan.changes == ()
    assert fixed.notes == (
        "Global Administrator stays active for admin@contoso.com: making every holder eligible would leave only "
        "Global Administrator(s) whose active assignment ends within 7 days (spare@contoso.com until 2026-01-03), "
        "then nobody who can act. Keep one or two break-glass accounts active: list them in "
        "safety.protected_accounts and their object ids in [audit.scuba] excluded_users, then make this plan again.",)
    assert fixed.fixes[3].text == "admin@contoso.com keeps Global Administrator active: the last active Global " \
                                  "Administrator(s)"
    # Ending after the window, it stays: the permanent one becomes eligible; a window of 30 days keeps it active.
    later = state(direct(ADMIN, GA), timebound(SPARE, GA, "2026-01-20T00:00:00Z"))
    assert [c.action for c in fix_plan(later, judged(later), FixRequest()).plan.changes] == [Action.ASSIGN,
                                                                                           Action.REVOKE]
    wider = fix_plan(later, judged(later), FixRequest(expiring_within=timedelta(days=30)))
    assert wider.plan.changes == ()
    assert "ends within 30 days (spare@contoso.com until 2026-01-20)" in wider.notes[0]


def test_each_policy_is_credited_only_with_its_own_offenders():
    # admin: permanent through PIM (7.4 only); spare: direct (7.4 and 7.5).
    through_pim = RoleAssignment("pim-admin", ADMIN.id, UA, start="2025-12-01T00:00:00Z", outside_pim=False)
    s = state(through_pim, direct(SPARE, UA))
    fixes = {f.policy_id: f for f in fix_plan(s, judged(s), FixRequest()).fixes}
    assert (fixes["MS.AAD.7.4v1"].status, fixes["MS.AAD.7.4v1"].text) == (
        "planned", "2 active assignment(s) become eligible through PIM (User Administrator: admin@contoso.com, "
                   "User Administrator: spare@contoso.com)")
    assert (fixes["MS.AAD.7.5v1"].status, fixes["MS.AAD.7.5v1"].text) == (
        "planned", "1 active assignment(s) become eligible through PIM (User Administrator: spare@contoso.com)")
    # A kept outside-PIM holder makes 7.5 partly planned; the through-PIM conversion is not credited to it.
    kept = fix_plan(s, judged(s), FixRequest(protected=frozenset({SPARE.id.lower()})))
    fixes = {f.policy_id: f for f in kept.fixes}
    assert (fixes["MS.AAD.7.5v1"].status, fixes["MS.AAD.7.5v1"].text) == (
        "not planned", "spare@contoso.com keeps User Administrator active: a protected account "
                       "(safety.protected_accounts)")


@pytest.mark.parametrize(("maximum", "sent"), [("P1W", "P7D"), ("PT36000S", "PT10H"), ("P90D", "P90D"),
                                               ("P1Y", None)])
def test_the_eligibility_maximum_is_read_by_the_one_parser(maximum, sent):
    s = state(direct(SPARE, UA), expiry={"isExpirationRequired": True, "maximumDuration": maximum})
    fixed = fix_plan(s, judged(s), FixRequest())
    if sent is None:
        assert fixed.plan.changes == ()
        assert fixed.fixes[3].text == ("spare@contoso.com keeps User Administrator active: its policy's eligibility "
                                       "expiry (Expiration_Admin_Eligibility) is a duration a plan cannot carry")
    else:
        assert [c.duration for c in fixed.plan.changes] == [sent, None]
        assert Plan.from_json(replace(fixed.plan, fingerprint="f" * 64).to_json()) == replace(fixed.plan,
                                                                                             fingerprint="f" * 64)


def test_a_policy_rule_change_round_trips_through_its_saved_form():
    change = Change(Action.POLICY_RULE, "", role_id=GA, role_name="Global Administrator", policy_id=POLICY,
                    rule_id="Notification_Admin_Admin_Assignment", updates={"notificationRecipients": ([], ["a@b.c"])},
                    properties={"notificationRecipients": ["a@b.c"]}, reason="MS.AAD.7.7: alert recipients")
    assert Change.from_json(change.to_json()) == change
    with pytest.raises(ValueError, match="a create change has no policy_id"):
        Change(Action.CREATE, "a@b.c", policy_id=POLICY)


def test_the_window_is_never_shorter_than_the_24_hours_apply_refuses_below():
    # A window of one hour would plan the permanent Global Administrator eligible while the other ends
    # in 12 hours: a plan apply then refuses whole. The 24 hours count instead.
    s = state(direct(ADMIN, GA), timebound(SPARE, GA, "2026-01-01T12:00:00Z"))
    fixed = fix_plan(s, judged(s), FixRequest(expiring_within=timedelta(hours=1)))
    assert fixed.plan.changes == ()
    assert "ends within 1 day (spare@contoso.com until 2026-01-01)" in fixed.notes[0]


def test_unread_assignments_convert_nothing_and_say_why():
    # PIM's instances refused (a 403): who holds what, and how, is unknown; the role settings are still fixed.
    s = state(direct(ADMIN, GA), direct(SPARE, UA))
    fixed = fix_plan(s, judged(s), FixRequest(assignments_read=False))
    assert fixed.plan.changes == ()
    assert fix_plan(s, judged(s), FixRequest()).plan.changes != ()  # read: the User Administrator converted
    assert [(f.policy_id, f.status) for f in fixed.fixes[3:5]] == [("MS.AAD.7.4v1", "not planned"),
                                                                  ("MS.AAD.7.5v1", "not planned")]
    assert fixed.fixes[3].text.startswith("PIM's role assignments could not be read")
