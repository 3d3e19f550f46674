from __future__ import annotations

from dataclasses import replace

import pytest
from unit_tenant import ADMIN, ALICE, BOB, CAROL_ID, GA, SYNCED, USER_ADMIN, deleted, state, user

from provisioner.changes import Action, Change, PasswordSource, Plan
from provisioner.errors import Refused
from provisioner.inputs import Manifest
from provisioner.model import Policy, RoleAssignment, User, UserSpec
from provisioner.plan import diff, guardrails, plan_delete, plan_restore, plan_revoke
from provisioner.roles import global_admin_holders, removes_last_global_admin


def manifest(*users, domains=("contoso.com",), **kw):
    return Manifest(users=tuple(users), scope_domains=domains, **kw)


def brief(planned):
    return [(c.action.value, c.upn, c.role_name, dict(c.properties), c.password, c.reason)
            for c in planned.plan.changes]


def test_diff_creates_and_assigns():
    planned = diff(manifest(UserSpec("dave@contoso.com", {"displayName": "Dave"}, ("billing",))), state())
    assert brief(planned) == [
        (
            "create",
            "dave@contoso.com",
            None,
            {
                "userPrincipalName": "dave@contoso.com",
                "displayName": "Dave",
                "accountEnabled": True,
                "mailNickname": "dave",
            },
            PasswordSource.GENERATE,
            "in the manifest, not in the tenant",
        ),
        ("assign", "dave@contoso.com", "Billing Administrator", {}, None, "in the manifest"),
    ]


def test_diff_restores_instead_of_creating():
    tenant = state(deleted_users=[deleted("carol", CAROL_ID, 18)])
    planned = diff(
        manifest(UserSpec("carol@contoso.com", {"displayName": "Carol", "jobTitle": "Chef"}, ("user",))), tenant
    )
    assert [(c.action, c.object_id) for c in planned.plan.changes] == [
        (Action.UPDATE, CAROL_ID),
        (Action.RESTORE, CAROL_ID),
        (Action.ASSIGN, CAROL_ID),
    ]
    restore = planned.plan.changes[1]
    assert restore.reason == "deleted 2026-05-02, 12 days left; restored instead of created anew"
    assert planned.plan.changes[0].updates == {"jobTitle": (None, "Chef")}


def test_diff_creates_when_the_deleted_user_expired():
    tenant = state(deleted_users=[deleted("carol", CAROL_ID, 31)])
    planned = diff(manifest(UserSpec("carol@contoso.com", {"displayName": "Carol"})), tenant)
    assert [c.action for c in planned.plan.changes] == [Action.CREATE]
    assert planned.notes == (
        f"a deleted user carol@contoso.com ({CAROL_ID}) can no longer be restored (window expired 2026-05-19); "
        "a new user is created",
    )


def test_diff_reports_the_restore_conflict_when_the_name_is_taken():
    tenant = state([ALICE], [deleted("alice", CAROL_ID, 5)])
    planned = diff(manifest(UserSpec("alice@contoso.com", {"jobTitle": "Engineer"})), tenant)
    assert planned.plan.changes == ()
    assert planned.notes == (
        f"alice@contoso.com is active, so the deleted user with the same name ({CAROL_ID}) cannot be "
        "restored under it; it stays deleted",
    )


def test_diff_updates_only_what_the_manifest_sets():
    tenant = state([ALICE])
    planned = diff(manifest(UserSpec("alice@contoso.com", {"jobTitle": "Lead", "displayName": "Alice"})), tenant)
    assert planned.plan.changes == (
        Change(
            Action.UPDATE,
            "alice@contoso.com",
            ALICE.id,
            updates={"jobTitle": ("Engineer", "Lead")},
            reason="differs from the manifest",
        ),
    )


def test_diff_assigns_and_revokes_managed_roles_only():
    exchange = "29232cdf-9323-42fd-ade2-1d097af3e4de"
    tenant = state([ADMIN, ALICE], assignments=[(ADMIN.id, GA), (ALICE.id, GA), (ALICE.id, exchange)])
    planned = diff(
        manifest(UserSpec("admin@contoso.com", roles=("global",)), UserSpec("alice@contoso.com", roles=("user",))),
        tenant,
    )
    assert [(c.action.value, c.upn, c.role_name) for c in planned.plan.changes] == [
        ("assign", "alice@contoso.com", "User Administrator"),
        ("revoke", "alice@contoso.com", "Global Administrator"),
    ]
    only_global = diff(manifest(UserSpec("alice@contoso.com"), managed_roles=("billing",)), tenant)
    assert only_global.plan.changes == ()


def test_diff_is_idempotent():
    tenant = state([ALICE], assignments=[(ALICE.id, USER_ADMIN)])
    planned = diff(manifest(UserSpec("alice@contoso.com", {"jobTitle": "Engineer"}, ("user",))), tenant)
    assert planned.plan.changes == ()


def test_prune_deletes_only_in_scope_and_only_when_asked():
    outside = User(id="00000000-0000-0000-0000-0000000000d1", user_principal_name="olga@fabrikam.com")
    tenant = state([ADMIN, BOB, SYNCED, outside], assignments=[(ADMIN.id, GA)])
    desired = manifest(UserSpec("admin@contoso.com", roles=("global",)))
    assert diff(desired, tenant).plan.changes == ()
    pruned = diff(desired, tenant, prune=True)
    assert [(c.action.value, c.upn, c.reason) for c in pruned.plan.changes] == [
        ("delete", "bob@contoso.com", "in scope (contoso.com), not in the manifest; pruned"),
        ("delete", "sam@contoso.com", "in scope (contoso.com), not in the manifest; pruned"),
    ]


# --- guardrails ---------------------------------------------------------------------------------


def refusal(plan, tenant, policy=None):
    with pytest.raises(Refused) as e:
        guardrails(plan, tenant, policy or Policy())
    return str(e.value).splitlines()


def test_a_safe_plan_passes():
    tenant = state([ADMIN, BOB], assignments=[(ADMIN.id, GA)])
    assert guardrails(plan_delete(["bob@contoso.com"], tenant).plan, tenant, Policy()) is None


def test_synced_user_delete_is_refused():
    tenant = state([ADMIN, SYNCED], assignments=[(ADMIN.id, GA)])
    assert refusal(plan_delete(["sam@contoso.com"], tenant).plan, tenant) == [
        "refused (1 problem); nothing was written:",
        "  - sam@contoso.com is synced from on-premises Active Directory (onPremisesSyncEnabled); delete it "
        "there, in Active Directory Users and Computers or with Remove-ADUser, and let Entra Connect sync "
        "the deletion",
    ]


def test_synced_deleted_user_purge_is_refused():
    tenant = state([ADMIN], [deleted("sam", CAROL_ID, 2, on_premises_sync_enabled=True)], [(ADMIN.id, GA)])
    plan = Plan((Change(Action.PURGE, "sam@contoso.com", CAROL_ID),))
    assert "synced from on-premises" in refusal(plan, tenant)[1]


def test_protected_account_cannot_be_deleted_or_demoted():
    tenant = state([ADMIN, BOB], assignments=[(ADMIN.id, GA), (BOB.id, USER_ADMIN)])
    plan = Plan(
        plan_delete(["bob@contoso.com"], tenant).plan.changes
        + plan_revoke("bob@contoso.com", ["user"], tenant).plan.changes
    )
    assert refusal(plan, tenant, Policy(protected=frozenset({"bob@contoso.com"}))) == [
        "refused (2 problems); nothing was written:",
        "  - revoking User Administrator from bob@contoso.com is not allowed: it is a protected account "
        "(safety.protected_accounts); remove it from that list in the config if this is really intended",
        "  - deleting bob@contoso.com is not allowed: it is a protected account (safety.protected_accounts); "
        "remove it from that list in the config if this is really intended",
    ]


def test_last_global_admin_by_revoke_or_delete():
    tenant = state([ADMIN, BOB], assignments=[(ADMIN.id, GA), (BOB.id, GA)])
    both = Plan(
        plan_revoke("admin@contoso.com", ["global"], tenant).plan.changes
        + plan_delete(["bob@contoso.com"], tenant).plan.changes
    )
    assert refusal(both, tenant)[1] == (
        "  - this plan would leave the tenant without an active Global Administrator (revoke Global "
        "Administrator from admin@contoso.com; delete bob@contoso.com); assign Global Administrator to another "
        "active user first: provisioner roles assign USER global"
    )
    assert guardrails(plan_revoke("admin@contoso.com", ["global"], tenant).plan, tenant, Policy()) is None


def test_last_global_admin_counts_only_existing_enabled_new_holders():
    dave_disabled = user("dave", "00000000-0000-0000-0000-0000000000e1", account_enabled=False)
    tenant = state([ADMIN, BOB, dave_disabled], assignments=[(ADMIN.id, GA), (dave_disabled.id, GA)])
    assert global_admin_holders(tenant) == {ADMIN.id}
    revoke = plan_revoke("admin@contoso.com", ["global"], tenant).plan.changes
    to_bob = Change(Action.ASSIGN, "bob@contoso.com", BOB.id, role_id=GA, role_name="Global Administrator")
    to_new = Change(Action.ASSIGN, "new@contoso.com", None, role_id=GA, role_name="Global Administrator")
    assert removes_last_global_admin(Plan(revoke + (to_bob,)), tenant) == []
    assert removes_last_global_admin(Plan(revoke + (to_new,)), tenant) == list(revoke)


def test_too_many_deletes_unless_forced():
    users = [user(f"u{i}", f"00000000-0000-0000-0000-00000000010{i}") for i in range(3)]
    tenant = state([ADMIN, *users], assignments=[(ADMIN.id, GA)])
    plan = plan_delete([u.user_principal_name for u in users], tenant).plan
    assert refusal(plan, tenant, Policy(max_deletes=2))[1] == (
        "  - this plan deletes 3 users, more than safety.max_deletes (2); check the plan, then rerun with "
        "--force or raise safety.max_deletes in the config"
    )
    assert guardrails(plan, tenant, Policy(max_deletes=2, force=True)) is None


def test_restore_past_the_window_is_refused_with_the_date():
    tenant = state(deleted_users=[deleted("carol", CAROL_ID, 31)])
    plan = plan_restore([CAROL_ID], tenant).plan
    assert refusal(plan, tenant)[1] == (
        "  - carol@contoso.com cannot be restored: it was deleted 2026-04-19 and its 30-day restore window "
        "expired 2026-05-19; create it again instead"
    )


def test_restore_to_a_taken_name_is_refused():
    tenant = state([user("carol", "00000000-0000-0000-0000-0000000000f1")], [deleted("carol", CAROL_ID, 3)])
    plan = plan_restore([CAROL_ID], tenant).plan
    assert refusal(plan, tenant)[1] == (
        f"  - carol@contoso.com ({CAROL_ID}) cannot be restored as carol@contoso.com: that name now belongs to "
        "another user (00000000-0000-0000-0000-0000000000f1); restore it under another name with --new-upn"
    )
    renamed = plan_restore([CAROL_ID], tenant, new_upn="carol.old@contoso.com").plan
    assert guardrails(renamed, tenant, Policy()) is None


# --- guardrails decide on ids, never on labels ----------------------------------------------------


def test_protected_is_decided_by_object_id_not_by_the_label():
    tenant = state([ADMIN, ALICE, BOB], assignments=[(ADMIN.id, GA)])
    protect_bob = Policy(protected=frozenset({"bob@contoso.com"}))
    # Labelled alice, carrying Bob's object id: the delete would hit Bob, so it is refused, named as Bob.
    disguised = Plan((Change(Action.DELETE, "alice@contoso.com", BOB.id.upper()),))
    assert refusal(disguised, tenant, protect_bob)[1] == (
        "  - deleting bob@contoso.com is not allowed: it is a protected account (safety.protected_accounts); "
        "remove it from that list in the config if this is really intended"
    )
    # Labelled bob, carrying Alice's id: not Bob's account (the label check refuses the mismatch).
    assert guardrails(Plan((Change(Action.DELETE, "bob@contoso.com", ALICE.id),)), tenant, protect_bob) is None


def test_a_protected_deleted_account_cannot_be_purged():
    tenant = state([ADMIN], [deleted("carol", CAROL_ID, 3)], [(ADMIN.id, GA)])
    plan = Plan((Change(Action.PURGE, "someone@contoso.com", CAROL_ID),))
    assert refusal(plan, tenant, Policy(protected=frozenset({"carol@contoso.com"})))[1].startswith(
        "  - purging carol@contoso.com is not allowed: it is a protected account"
    )


def test_a_revoke_is_judged_by_the_assignment_it_deletes():
    tenant = state([ADMIN, ALICE], assignments=[(ADMIN.id, GA), (ALICE.id, USER_ADMIN)])
    # Labelled "revoke User Administrator from alice", deleting the only Global Administrator assignment.
    disguised = Change(Action.REVOKE, "alice@contoso.com", ALICE.id, role_id=USER_ADMIN,
                       role_name="User Administrator", assignment_id=f"as-{ADMIN.id}-62e90394")
    assert removes_last_global_admin(Plan((disguised,)), tenant) == [disguised]
    assert refusal(Plan((disguised,)), tenant, Policy(protected=frozenset({"admin@contoso.com"})))[1:] == [
        "  - revoking Global Administrator from admin@contoso.com is not allowed: it is a protected account "
        "(safety.protected_accounts); remove it from that list in the config if this is really intended",
        "  - this plan would leave the tenant without an active Global Administrator (revoke Global Administrator "
        "from admin@contoso.com); assign Global Administrator to another active user first: provisioner roles "
        "assign USER global",
    ]


def test_last_global_admin_maps_role_definition_ids_to_templates_and_ignores_id_case():
    definition = "aaaaaaaa-0000-4000-8000-000000000001"  # a definition id whose template is Global Administrator
    tenant = state([ADMIN])
    tenant.roles.append(replace(tenant.roles[0], id=definition))
    tenant.assignments.append(RoleAssignment("as-admin-def", ADMIN.id, definition))
    revoke = Change(Action.REVOKE, "admin@contoso.com", ADMIN.id.upper(), role_id=definition,
                    role_name="Global Administrator", assignment_id="as-missing")
    assert removes_last_global_admin(Plan((revoke,)), tenant) == [revoke]
    delete = Change(Action.DELETE, "admin@contoso.com", ADMIN.id.upper())
    assert removes_last_global_admin(Plan((delete,)), tenant) == [delete]


def test_a_protected_account_is_never_disabled_or_renamed_by_a_sync():
    tenant = state([ADMIN, BOB], assignments=[(ADMIN.id, GA)])
    manifest = Manifest(users=(UserSpec("bob@contoso.com", {"accountEnabled": False}),), scope_domains=("contoso.com",))
    disable = diff(manifest, tenant).plan
    rename = Plan((Change(Action.UPDATE, "bob@contoso.com", BOB.id,
                          updates={"userPrincipalName": ("bob@contoso.com", "robert@contoso.com")}),))
    protected = Policy(protected=frozenset({"bob@contoso.com"}))
    tail = ("is not allowed: it is a protected account (safety.protected_accounts); remove it from that list in "
            "the config if this is really intended")
    assert refusal(disable, tenant, protected)[1] == f"  - disabling bob@contoso.com {tail}"
    assert refusal(rename, tenant, protected)[1] == f"  - renaming bob@contoso.com {tail}"
    assert guardrails(disable, tenant, Policy()) is None


def test_too_many_purges_unless_forced():
    gone = [deleted(f"u{i}", f"00000000-0000-0000-0000-00000000020{i}", 3) for i in range(3)]
    tenant = state([ADMIN], gone, [(ADMIN.id, GA)])
    plan = Plan(tuple(Change(Action.PURGE, d.original_upn, d.id) for d in gone))
    assert refusal(plan, tenant, Policy(max_deletes=2))[1] == (
        "  - this plan purges 3 users, permanently, more than safety.max_deletes (2); check the plan, then rerun "
        "with --force or raise safety.max_deletes in the config"
    )
    assert guardrails(plan, tenant, Policy(max_deletes=2, force=True)) is None


def test_a_manifest_user_without_a_roles_key_keeps_its_roles_and_an_empty_list_removes_them(tmp_path):
    from provisioner.inputs import read_manifest

    tenant = state([ADMIN, BOB], assignments=[(ADMIN.id, GA), (BOB.id, USER_ADMIN)])
    head = ('[scope]\ndomains = ["contoso.com"]\n'
            '[[users]]\nuserPrincipalName = "admin@contoso.com"\nroles = ["global"]\n')
    silent = tmp_path / "silent.toml"
    silent.write_text(head + '[[users]]\nuserPrincipalName = "bob@contoso.com"\n', encoding="utf-8")
    empty = tmp_path / "empty.toml"
    empty.write_text(head + '[[users]]\nuserPrincipalName = "bob@contoso.com"\nroles = []\n', encoding="utf-8")
    assert diff(read_manifest(silent), tenant).plan.changes == ()
    (revoke,) = diff(read_manifest(empty), tenant).plan.changes
    assert (revoke.action, revoke.upn, revoke.role_name) == (Action.REVOKE, "bob@contoso.com", "User Administrator")
