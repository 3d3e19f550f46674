"""check_labels: a saved plan's labels are re-derived from its ids and every disagreement listed."""

from __future__ import annotations

from dataclasses import replace

from unit_tenant import ADMIN, ALICE, BILLING, BOB, CAROL_ID, GA, USER_ADMIN, deleted, state

from provisioner.changes import Action, Change, Plan
from provisioner.model import Manifest, TenantState, UserSpec
from provisioner.plan import check_labels, diff, plan_assign, plan_delete, plan_purge, plan_restore, plan_revoke

DAVE_ID = "00000000-0000-0000-0000-0000000000d4"


def tenant() -> TenantState:
    return state(
        [ADMIN, ALICE, BOB],
        [deleted("carol", CAROL_ID, 3), deleted("dave", DAVE_ID, 5)],
        [(ADMIN.id, GA), (BOB.id, USER_ADMIN)],
    )


def one(change: Change, s: TenantState | None = None) -> list[str]:
    return check_labels(Plan((change,)), s or tenant())


def test_plans_the_planners_make_are_consistent():
    s = tenant()
    plans = [
        plan_assign("alice@contoso.com", ["billing"], s),
        plan_revoke("bob@contoso.com", ["user"], s),
        plan_delete(["bob@contoso.com"], s),
        plan_restore([CAROL_ID], s, new_upn="carol2@contoso.com"),
        plan_purge([DAVE_ID], s),
        # a restore, then an update and a role for the restored user; a create and its role
        diff(Manifest((UserSpec("carol@contoso.com", {"jobTitle": "Chef"}, ("user",)),
                       UserSpec("erin@contoso.com", roles=("billing",))), ("contoso.com",)), s),
    ]
    for planned in plans:
        assert planned.plan.changes
        assert check_labels(planned.plan, s) == []


def test_role_swap_is_caught():
    assign = plan_assign("alice@contoso.com", ["billing"], tenant()).plan.changes[0]
    assert one(replace(assign, role_id=GA)) == [
        f"assign Billing Administrator to alice@contoso.com: role id {GA} is Global Administrator, "
        "not Billing Administrator"
    ]


def test_object_swap_is_caught_for_each_action():
    delete = plan_delete(["bob@contoso.com"], tenant()).plan.changes[0]
    assert one(replace(delete, upn="alice@contoso.com")) == [
        f"delete alice@contoso.com: object id {BOB.id} is bob@contoso.com, not alice@contoso.com"
    ]
    # Ids compare without regard to case, names too: an upper-cased id is the same object.
    assert one(replace(delete, upn="BOB@contoso.com", object_id=BOB.id.upper())) == []
    purge = Change(Action.PURGE, "dave@contoso.com", CAROL_ID)
    assert one(purge) == [f"purge dave@contoso.com: object id {CAROL_ID} is the deleted user carol@contoso.com, "
                          "not dave@contoso.com"]
    assert one(Change(Action.RESTORE, "alice@contoso.com", ALICE.id)) == [
        f"restore alice@contoso.com: object id {ALICE.id} is the active user alice@contoso.com"
    ]
    assert one(Change(Action.DELETE, "carol@contoso.com", CAROL_ID)) == [
        f"delete carol@contoso.com: object id {CAROL_ID} is the deleted user carol@contoso.com, not an active user"
    ]
    ghost = "00000000-0000-0000-0000-00000000ffff"
    assert one(Change(Action.UPDATE, "x@contoso.com", ghost, updates={"jobTitle": (None, "X")})) == [
        f"update x@contoso.com: object id {ghost} is not a user in this tenant"
    ]


def test_create_of_a_taken_name_and_assign_without_an_id():
    assert one(Change(Action.CREATE, "Alice@contoso.com", properties={"userPrincipalName": "Alice@contoso.com"})) == [
        f"create Alice@contoso.com: alice@contoso.com already exists (object id {ALICE.id})"
    ]
    assert one(Change(Action.ASSIGN, "new@contoso.com", role_id=GA, role_name="Global Administrator")) == [
        "assign Global Administrator to new@contoso.com: no object id, and new@contoso.com is not created by this plan"
    ]


def test_revoke_checks_the_assignment_it_deletes():
    s = tenant()
    revoke = plan_revoke("bob@contoso.com", ["user"], s).plan.changes[0]
    admins_ga = f"as-{ADMIN.id}-62e90394"
    # Labelled as Bob's User Administrator, but the assignment is the admin's Global Administrator.
    assert one(replace(revoke, assignment_id=admins_ga), s) == [
        f"revoke User Administrator from bob@contoso.com: role assignment {admins_ga} belongs to admin@contoso.com"
    ]
    bobs = state([ADMIN, BOB], assignments=[(BOB.id, GA), (BOB.id, USER_ADMIN)])
    assert one(replace(revoke, assignment_id=f"as-{BOB.id}-62e90394"), bobs) == [
        f"revoke User Administrator from bob@contoso.com: role assignment as-{BOB.id}-62e90394 is for Global "
        "Administrator, not User Administrator"
    ]
    assert one(replace(revoke, assignment_id="gone-1"), s) == [
        "revoke User Administrator from bob@contoso.com: role assignment gone-1 does not exist in this tenant"
    ]


def test_role_names_come_from_the_catalog_when_roles_were_not_read():
    s = tenant()
    s.roles = []
    assign = Change(Action.ASSIGN, "alice@contoso.com", ALICE.id, role_id=BILLING, role_name="Billing Administrator")
    assert one(assign, s) == []
    assert one(replace(assign, role_name="Global Administrator"), s) == [
        f"assign Global Administrator to alice@contoso.com: role id {BILLING} is Billing Administrator, not Global "
        "Administrator"
    ]
    other = "194ae4cb-b126-40b2-bd5b-6091b380977d"  # Security Administrator: not a classic role
    assert one(replace(assign, role_id=other), s) == [
        f"assign Billing Administrator to alice@contoso.com: role id {other} is not a role in this tenant"
    ]


def test_every_problem_is_listed():
    s = tenant()
    delete = plan_delete(["bob@contoso.com"], s).plan.changes[0]
    assign = plan_assign("alice@contoso.com", ["billing"], s).plan.changes[0]
    plan = Plan((replace(delete, object_id=ADMIN.id), replace(assign, role_id=GA)))
    assert len(check_labels(plan, s)) == 2
