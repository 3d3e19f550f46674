"""A revoke's kind as the rules see it: what its write removes, never the label it carries (the last
Global Administrator, the eligible grant a revoke waits for, the 24-hour refusal). Pure."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from unit_tenant import ADMIN, BILLING, BOB, GA, NOW, state

from provisioner.changes import Action, Change, Plan
from provisioner.errors import Refused
from provisioner.model import Policy, RoleAssignment, format_datetime
from provisioner.plan import check_labels, guardrails
from provisioner.plan.guardrails import ends_too_soon, warnings
from provisioner.roles.rules import RemovesGlobalAdmin, Replacements, removes_last_global_admin


def two_admins():
    return state(users=[ADMIN, BOB], assignments=[(ADMIN.id, GA), (BOB.id, GA)])


def revoke(user, s, *, eligible: bool, through_pim: bool) -> Change:
    [a] = [a for a in s.assignments if a.principal_id == user.id]
    return Change(Action.REVOKE, user.user_principal_name, user.id, role_id=GA, role_name="Global Administrator",
                  assignment_id=a.id, eligible=eligible, through_pim=through_pim)


def test_a_direct_delete_labelled_eligible_still_removes_an_active_global_admin():
    s = two_admins()
    plan = Plan(tuple(revoke(u, s, eligible=True, through_pim=False) for u in (ADMIN, BOB)))
    assert len(removes_last_global_admin(plan, s)) == 2
    assert all(map(RemovesGlobalAdmin(s), plan.changes))
    with pytest.raises(Refused, match="would leave the tenant without an active Global Administrator"):
        guardrails(plan, s, Policy())


def test_a_pim_removal_of_an_eligible_assignment_removes_no_active_one():
    s = two_admins()
    plan = Plan(tuple(revoke(u, s, eligible=True, through_pim=True) for u in (ADMIN, BOB)))
    assert removes_last_global_admin(plan, s) == []
    assert not any(map(RemovesGlobalAdmin(s), plan.changes))


def test_an_eligible_revoke_is_checked_against_eligible_assignments():
    s = two_admins()
    s.eligible = [RoleAssignment("el-bob-1-e", BOB.id, BILLING, eligible=True)]
    active = revoke(ADMIN, s, eligible=True, through_pim=True)
    assert check_labels(Plan((active,)), s) == [
        f"revoke Global Administrator from admin@contoso.com: role assignment {active.assignment_id} is not an "
        "eligible assignment in this tenant"]
    eligible = Change(Action.REVOKE, "bob@contoso.com", BOB.id, role_id=BILLING, role_name="Billing Administrator",
                      assignment_id="el-bob-1-e", eligible=True, through_pim=True)
    assert check_labels(Plan((eligible,)), s) == []
    assert check_labels(Plan((replace(eligible, eligible=False, through_pim=False),)), s) == [
        "revoke Billing Administrator from bob@contoso.com: role assignment el-bob-1-e is not an active "
        "assignment in this tenant"]


def test_a_revoke_waits_for_the_eligible_grant_replacing_it():
    s = two_admins()
    gone = revoke(BOB, s, eligible=False, through_pim=True)
    grant = Change(Action.ASSIGN, BOB.user_principal_name, BOB.id, role_id=GA, role_name="Global Administrator",
                   eligible=True, through_pim=True)
    waiting = Replacements((grant, gone))
    assert waiting.kept(gone) == ("Global Administrator was kept active for bob@contoso.com: the eligible assignment "
                                  "that replaces it was not granted, so the active one was not revoked")
    waiting.done(grant, BOB.id)
    assert waiting.kept(gone) is None
    assert Replacements((gone,)).kept(gone) is None  # no replacement in the run: a plain revoke


def test_only_global_admins_ending_within_24_hours_is_refused_within_7_days_warned():
    s = two_admins()
    soon = NOW + timedelta(hours=20)
    s.assignments = [a if a.principal_id == ADMIN.id else replace(a, end=format_datetime(soon)) for a in s.assignments]
    plan = Plan((revoke(ADMIN, s, eligible=False, through_pim=False),))
    assert ends_too_soon(plan, s) == (
        "this plan would leave only active Global Administrator assignments that end within 24 hours "
        "(bob@contoso.com at 2026-05-21T08:00:00Z); after that nobody could administer the tenant. Give one a "
        "permanent or longer assignment first: provisioner roles assign USER global")
    with pytest.raises(Refused):
        guardrails(plan, s, Policy())
    later = NOW + timedelta(days=3)
    s.assignments = [replace(a, end=format_datetime(later)) if a.principal_id == BOB.id else a for a in s.assignments]
    assert ends_too_soon(plan, s) is None
    guardrails(plan, s, Policy())
    assert warnings(plan, s)[0].startswith("warning: after this plan every active Global Administrator assignment "
                                           "ends within 7 days (bob@contoso.com on 2026-05-23)")
