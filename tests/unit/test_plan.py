from __future__ import annotations

import pytest
from unit_tenant import ADMIN, ALICE, BOB, CAROL_ID, GA, USER_ADMIN, deleted, state

from provisioner.changes import Action, Change, PasswordSource
from provisioner.errors import NotFound, ProvisionerError
from provisioner.model import UserSpec
from provisioner.plan import (
    fingerprint,
    plan_assign,
    plan_assign_rows,
    plan_create,
    plan_delete,
    plan_purge,
    plan_restore,
    plan_revoke,
)


def brief(planned):
    return [(c.action.value, c.upn, c.object_id, c.role_name, c.reason) for c in planned.plan.changes]


def test_create_new_user_with_roles():
    planned = plan_create(
        [UserSpec("dave@contoso.com", {"displayName": "Dave", "jobTitle": "Ops"}, ("global", "user"))],
        state([ADMIN]),
    )
    assert planned.plan.changes[0] == Change(
        Action.CREATE,
        "dave@contoso.com",
        properties={
            "userPrincipalName": "dave@contoso.com",
            "displayName": "Dave",
            "accountEnabled": True,
            "mailNickname": "dave",
            "jobTitle": "Ops",
        },
        password=PasswordSource.GENERATE,
        reason="not in the tenant",
    )
    assert brief(planned)[1:] == [
        ("assign", "dave@contoso.com", None, "Global Administrator", "requested for the new user"),
        ("assign", "dave@contoso.com", None, "User Administrator", "requested for the new user"),
    ]
    assert planned.notes == ()
    assert len(planned.plan.fingerprint) == 64


def test_create_never_puts_the_password_in_the_plan():
    planned = plan_create([UserSpec("dave@contoso.com", {"displayName": "Dave"}, password="S3cret!pass")], state())
    assert planned.plan.changes[0].password is PasswordSource.SUPPLIED
    assert "S3cret!pass" not in str(planned.plan.to_json())
    assert "S3cret!pass" not in repr(UserSpec("x@contoso.com", password="S3cret!pass"))


def test_create_existing_user_is_a_note_and_assigns_only_missing_roles():
    tenant = state([ALICE], assignments=[(ALICE.id, USER_ADMIN)])
    planned = plan_create([UserSpec("Alice@contoso.com", {"displayName": ALICE.display_name}, ("user", "global"))],
                          tenant)
    assert brief(planned) == [("assign", "alice@contoso.com", ALICE.id, "Global Administrator", "not held yet")]
    assert planned.notes == (
        f"user alice@contoso.com already exists (object id {ALICE.id}); not created",
        "alice@contoso.com already holds User Administrator; nothing to assign",
    )


def test_create_of_an_existing_user_that_differs_is_refused_or_updated():
    tenant = state([ALICE], assignments=[(ALICE.id, USER_ADMIN)])
    spec = UserSpec("alice@contoso.com", {"displayName": "A", "jobTitle": "CFO"}, row=2)
    with pytest.raises(ProvisionerError) as e:
        plan_create([spec], tenant)
    assert str(e.value) == (
        f"1 problem in the users named; nothing was written:\n  row 2, column userPrincipalName: user "
        f"alice@contoso.com already exists and differs: displayName {ALICE.display_name!r} -> 'A'; jobTitle "
        f"{ALICE.job_title!r} -> 'CFO'; update it with --update-existing, or leave those values out")
    (update,) = plan_create([spec], tenant, update_existing=True).plan.changes
    assert (update.action, update.object_id, dict(update.updates)) == (
        Action.UPDATE, ALICE.id, {"displayName": (ALICE.display_name, "A"), "jobTitle": (ALICE.job_title, "CFO")})


def test_create_again_is_a_no_op():
    tenant = state([ALICE], assignments=[(ALICE.id, USER_ADMIN)])
    planned = plan_create([UserSpec("alice@contoso.com", {}, ("user",))], tenant)
    assert planned.plan.changes == ()


def test_create_with_a_restorable_deleted_user_suggests_restore():
    tenant = state(deleted_users=[deleted("carol", CAROL_ID, 18)])
    planned = plan_create([UserSpec("carol@contoso.com", {"displayName": "Carol"})], tenant)
    assert [c.action for c in planned.plan.changes] == [Action.CREATE]
    assert planned.notes == (
        "a deleted user carol@contoso.com (deleted 2026-05-02, 12 days left) could be restored instead, "
        f"with its mailbox, licenses and groups: provisioner users restore {CAROL_ID}",
    )


def test_delete_by_upn_or_id_and_already_deleted_is_noted():
    tenant = state([ADMIN, BOB], [deleted("carol", CAROL_ID, 3)], [(BOB.id, USER_ADMIN)])
    planned = plan_delete(["bob@contoso.com", BOB.id, "carol@contoso.com"], tenant)
    assert brief(planned) == [
        ("delete", "bob@contoso.com", BOB.id, None, "soft delete, restorable for 30 days; holds User Administrator")
    ]
    assert planned.notes == (f"carol@contoso.com is already deleted (object id {CAROL_ID}); nothing to do",)


def test_delete_unknown_user():
    with pytest.raises(NotFound) as e:
        plan_delete(["nobody@contoso.com"], state())
    assert str(e.value) == (
        "user 'nobody@contoso.com' not found in the tenant; check the name with: provisioner users list "
        "(a deleted user is listed by: provisioner deleted list)"
    )


def test_restore_by_upn_with_options():
    tenant = state(deleted_users=[deleted("carol", CAROL_ID, 18)])
    planned = plan_restore(["carol@contoso.com"], tenant, new_upn="carol2@contoso.com", auto_reconcile=True)
    assert planned.plan.changes == (
        Change(
            Action.RESTORE,
            "carol@contoso.com",
            CAROL_ID,
            new_upn="carol2@contoso.com",
            auto_reconcile=True,
            reason="deleted 2026-05-02, 12 days left",
        ),
    )


def test_restore_ambiguous_upn_asks_for_the_object_id():
    other = "c0ffee00-0000-4000-8000-000000000002"
    tenant = state(deleted_users=[deleted("carol", CAROL_ID, 18), deleted("carol", other, 2)])
    with pytest.raises(ProvisionerError) as e:
        plan_restore(["carol@contoso.com"], tenant)
    assert str(e.value) == (
        f"2 deleted users had the user principal name carol@contoso.com: {CAROL_ID} (deleted 2026-05-02), "
        f"{other} (deleted 2026-05-18); restore one by its object id"
    )
    assert brief(plan_restore([other], tenant))[0][2] == other


def test_restore_of_an_active_user_is_a_no_op_and_unknown_is_not_found():
    planned = plan_restore(["alice@contoso.com"], state([ALICE]))
    assert planned.plan.changes == ()
    assert planned.notes == (f"alice@contoso.com is active (object id {ALICE.id}); nothing to restore",)
    with pytest.raises(NotFound):
        plan_restore(["ghost@contoso.com"], state())


def test_purge_only_deleted_users():
    tenant = state([ALICE], [deleted("carol", CAROL_ID, 29.5)])
    assert brief(plan_purge([CAROL_ID], tenant)) == [
        ("purge", "carol@contoso.com", CAROL_ID, None, "deleted 2026-04-21, 0 days left")
    ]
    with pytest.raises(ProvisionerError) as e:
        plan_purge(["alice@contoso.com"], tenant)
    assert str(e.value) == (
        "alice@contoso.com is not deleted; purge only removes deleted users. "
        "Delete it first: provisioner users delete alice@contoso.com"
    )


def test_assign_and_revoke_are_idempotent():
    tenant = state([ADMIN, ALICE], assignments=[(ADMIN.id, GA), (ALICE.id, USER_ADMIN)])
    planned = plan_assign("alice@contoso.com", ["user", "billing"], tenant)
    assert brief(planned) == [("assign", "alice@contoso.com", ALICE.id, "Billing Administrator", "not held yet")]
    assert planned.notes == ("alice@contoso.com already holds User Administrator; nothing to assign",)
    revoke = plan_revoke(ALICE.id, ["user", "global"], tenant)
    assert [(c.action, c.role_id, c.assignment_id) for c in revoke.plan.changes] == [
        (Action.REVOKE, USER_ADMIN, f"as-{ALICE.id}-fe930be7")
    ]
    assert revoke.notes == ("alice@contoso.com does not hold Global Administrator; nothing to revoke",)


def test_assign_to_a_deleted_or_unknown_user():
    tenant = state(deleted_users=[deleted("carol", CAROL_ID, 3)])
    with pytest.raises(NotFound) as e:
        plan_assign("carol@contoso.com", ["user"], tenant)
    assert str(e.value) == (
        "user 'carol@contoso.com' is deleted; restore it first: provisioner users restore carol@contoso.com"
    )


def test_assign_rows_from_a_file():
    tenant = state([ALICE, BOB])
    specs = [UserSpec("alice@contoso.com", roles=("billing",)), UserSpec("bob@contoso.com", roles=("service",))]
    assert [(c.upn, c.role_name) for c in plan_assign_rows(specs, tenant).plan.changes] == [
        ("alice@contoso.com", "Billing Administrator"),
        ("bob@contoso.com", "Service Support Administrator"),
    ]


def test_fingerprint_changes_when_a_touched_user_changes_only():
    tenant = state([ADMIN, ALICE, BOB], assignments=[(ADMIN.id, GA)])
    plan = plan_delete(["bob@contoso.com"], tenant).plan
    same = state([ADMIN, ALICE.__class__(**{**ALICE.__dict__, "job_title": "Lead"}), BOB], assignments=[(ADMIN.id, GA)])
    assert fingerprint(same, plan) == plan.fingerprint
    moved = state(
        [ADMIN, ALICE, BOB.__class__(**{**BOB.__dict__, "display_name": "Robert"})], assignments=[(ADMIN.id, GA)]
    )
    assert fingerprint(moved, plan) != plan.fingerprint
    demoted = state([ADMIN, ALICE, BOB])
    assert fingerprint(demoted, plan) != plan.fingerprint
