"""What doctor knows: permissions per command, from token claims, and the doc that shows them."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner import command_needs as needs
from provisioner import permissions as perms
from provisioner.auth import token_claims

DOC = Path(__file__).resolve().parents[2] / "docs" / "real-tenant.md"


def test_every_command_is_covered() -> None:
    assert set(needs.COMMANDS) == {
        "users list",
        "users show",
        "users create",
        "users delete",
        "users restore",
        "users purge",
        "users update",
        "users disable",
        "users enable",
        "users reset-password",
        "users offboard",
        "deleted list",
        "roles list",
        "roles members",
        "roles assign",
        "roles revoke",
        "sync",
        "apply",
        "audit",
        "licenses list",
        "licenses assign",
        "licenses revoke",
    }


def test_nothing_granted_asks_for_the_least_privileged_permission_of_each_need() -> None:
    assert needs.missing_for(set(), "users create") == ["User.ReadWrite.All"]
    assert needs.missing_for(set(), "users delete") == [
        "User.Read.All",
        "User.DeleteRestore.All",
        "RoleManagement.Read.Directory",
    ]
    assert needs.missing_for(set(), "roles assign") == ["User.Read.All", "RoleManagement.ReadWrite.Directory"]
    assert needs.missing_for(set(), "deleted list") == ["User.Read.All"]
    assert needs.missing_for(set(), "users purge") == [
        "User.Read.All",
        "User.DeleteRestore.All",
        "RoleManagement.Read.Directory",
    ]


def test_broader_permissions_satisfy_narrower_needs() -> None:
    directory_rw = {"Directory.ReadWrite.All"}
    assert needs.missing_for(directory_rw, "users create") == []
    assert needs.missing_for(directory_rw, "roles list") == []
    # Directory.ReadWrite.All is not enough to write unified role assignments, nor to purge.
    assert needs.missing_for(directory_rw, "roles assign") == ["RoleManagement.ReadWrite.Directory"]
    assert needs.missing_for(directory_rw, "users purge") == ["User.DeleteRestore.All"]
    # User.ReadWrite.All is the broader alternative for delete and restore.
    assert needs.missing_for({"User.ReadWrite.All", "RoleManagement.Read.Directory"}, "users restore") == []


def test_delete_restore_permission_alone_is_not_enough_for_the_guardrails_reads() -> None:
    assert needs.missing_for({"User.DeleteRestore.All"}, "users delete") == [
        "User.Read.All",
        "RoleManagement.Read.Directory",
    ]


def test_permission_names_compare_case_insensitively() -> None:
    assert needs.missing_for({"user.readwrite.all"}, "users create") == []


def test_unknown_command() -> None:
    with pytest.raises(ValueError, match="unknown command 'users frobnicate'"):
        needs.missing_for(set(), "users frobnicate")


def test_check_all_for_a_typical_app_registration() -> None:
    granted = {"User.ReadWrite.All", "RoleManagement.Read.Directory"}
    checks = {c.command: c for c in needs.check_all(granted)}
    assert [c for c, check in checks.items() if not check.ok] == [
        "users purge", "users offboard", "roles assign", "roles revoke", "sync", "apply", "licenses list",
        "licenses assign", "licenses revoke"]
    assign = checks["roles assign"]
    assert assign.missing == ["RoleManagement.ReadWrite.Directory"]
    assert assign.hint.startswith(
        "Add the application permission(s) RoleManagement.ReadWrite.Directory (App registrations > API "
        "permissions > Microsoft Graph) and grant admin consent."
    )
    assert "older version of the page said app-only was not supported" in checks["users purge"].hint
    # Privileged targets need more than a permission: the service principal needs an admin role.
    # Permanent delete is not among Graph's sensitive actions (graph-quirks.md, Permission model C).
    for command in ("users delete", "users restore", "sync"):
        assert "the app's service principal must itself hold a higher privileged admin role" in checks[command].hint
    assert "service principal must" not in checks["users purge"].hint
    assert checks["roles list"] == ("roles list", True, [], "", False)


def test_check_all_everything_granted() -> None:
    everything = needs.all_permissions()
    assert all(check.ok for check in needs.check_all(everything))


def test_delegated_tokens_name_the_admin_role() -> None:
    checks = {c.command: c for c in needs.check_all({"User.ReadWrite.All"}, delegated=True)}
    assert checks["users create"].ok
    assert checks["users create"].hint.startswith("The signed-in person also needs User Administrator.")
    assert checks["roles assign"].hint == (
        "Add the delegated permission(s) RoleManagement.ReadWrite.Directory and sign in as Privileged Role "
        "Administrator. Assigning Global Administrator needs no more than Privileged Role Administrator."
    )
    # Acting as the user: the person's role decides, no scope is missing.
    assert all(c.ok for c in needs.check_all({"Directory.AccessAsUser.All"}, delegated=True))
    # ...but only for delegated tokens: it is not an application permission.
    assert not needs.check_all({"Directory.AccessAsUser.All"})[0].ok


def test_granted_from_app_and_delegated_token_claims() -> None:
    import base64
    import json

    def token(claims: dict) -> str:
        body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        return f"e30.{body}.x"

    app = token_claims(token({"roles": ["User.Read.All", "RoleManagement.Read.Directory"], "idtyp": "app"}))
    assert perms.granted_from_claims(app) == (False, {"User.Read.All", "RoleManagement.Read.Directory"})
    person = token_claims(token({"scp": "User.ReadWrite.All openid profile"}))
    assert perms.granted_from_claims(person) == (True, {"User.ReadWrite.All", "openid", "profile"})
    assert perms.granted_from_claims({}) == (False, set())


def test_the_doc_embeds_the_generated_table_and_names_every_permission() -> None:
    doc = DOC.read_text(encoding="utf-8")
    assert needs.markdown_table() in doc
    for permission in needs.all_permissions():
        assert f"`{permission}`" in doc
    for requirement in needs.REQUIREMENTS.values():
        assert requirement.delegated_role in doc


# --- the token's directory roles (wids) and why Graph refused a write -------------------------------

PAA = perms.PRIV_AUTH_ADMIN
APP_MARKER = "0997a1d0-0d1d-4acb-b408-d5ca73121e90"


def test_app_only_without_a_privileged_role_is_warned_for_commands_that_change_users() -> None:
    granted = {"User.ReadWrite.All", "User.DeleteRestore.All", "RoleManagement.ReadWrite.Directory",
               "Organization.Read.All", "Domain.Read.All"}
    checks = {c.command: c for c in needs.check_all(granted, wids={APP_MARKER})}
    assert [c for c, check in checks.items() if check.warn] == [
        "users delete", "users restore", "users update", "users disable", "users enable", "sync", "apply"]
    # PIM role settings (a fix plan) are changed by a signed-in person only: said to an app.
    assert checks["apply"].hint.endswith(
        "A plan from audit --fix-plan changes PIM role settings, which Graph accepts only from a signed-in person "
        "(Privileged Role Administrator), never app-only: apply it with a device-code or browser sign-in. A plan "
        "needs only the permissions of the changes it holds (as sync).")
    assert "audit --fix-plan" not in next(c for c in needs.check_all(granted, delegated=True)
                                          if c.command == "apply").hint
    # An app resets no password without a role on its service principal: a failure, not a warning.
    assert [c for c, check in checks.items() if not check.ok] == ["users reset-password", "users offboard"]
    assert checks["users delete"].hint == (
        "Deleting, restoring or updating users who hold privileged admin roles needs the app's service principal "
        "to hold Privileged Authentication Administrator (or Global Administrator); it holds no directory role.")
    held = {c.command: c for c in needs.check_all(granted, wids={perms.USER_ADMIN, APP_MARKER})}
    assert held["users restore"].hint.endswith("; it holds User Administrator.")
    covered = needs.check_all(granted, wids={PAA, APP_MARKER})
    assert not [c for c in covered if c.warn or c.hint and "privileged admin roles" in c.hint]


def test_delegated_tokens_with_wids_check_the_signed_in_admins_role() -> None:
    scopes = {"User.ReadWrite.All", "RoleManagement.ReadWrite.Directory", "User.DeleteRestore.All",
              "Organization.Read.All", "Domain.Read.All"}
    checks = {c.command: c for c in needs.check_all(scopes, delegated=True, wids={perms.USER_ADMIN})}
    assert checks["users create"] == ("users create", True, [], checks["users create"].hint, False)
    assert not checks["roles assign"].ok
    assert checks["roles assign"].missing == []
    assert checks["roles assign"].hint.startswith(
        "Sign in as Privileged Role Administrator: the signed-in admin holds User Administrator.")
    assert checks["users delete"].warn
    assert "needs the signed-in admin to hold Privileged Authentication Administrator" in checks["users delete"].hint
    everything = needs.check_all(scopes, delegated=True, wids={perms.GLOBAL_ADMIN})
    assert all(c.ok and not c.warn for c in everything)


def test_roles_from_claims() -> None:
    assert perms.roles_from_claims({"wids": [APP_MARKER, PAA.upper()]}, delegated=False) == {PAA}
    assert perms.roles_from_claims({}, delegated=False) == set()
    assert perms.roles_from_claims({}, delegated=True) is None


def _grants(*permissions: str, wids: tuple[str, ...] = (), delegated: bool = False) -> perms.Grants:
    claims: dict = {"wids": list(wids)}
    claims.update({"scp": " ".join(permissions)} if delegated else {"roles": list(permissions)})
    return perms.Grants.from_claims(claims)


def test_refusal_names_the_missing_permission() -> None:
    from provisioner.changes import Action

    why = perms.refusal(Action.CREATE, "ann@x", grants=_grants("User.Read.All"), target_roles=None)
    assert why == "The token lacks the application permission User.ReadWrite.All (or Directory.ReadWrite.All)."
    why = perms.refusal(Action.PURGE, "ann@x", grants=_grants("User.ReadWrite.All"), target_roles=None)
    assert why == "The token lacks the application permission User.DeleteRestore.All."
    why = perms.refusal(Action.ASSIGN, "ann@x", grants=_grants("User.Read.All", delegated=True), target_roles=None)
    assert why == "The token lacks the delegated permission RoleManagement.ReadWrite.Directory."


def test_refusal_names_the_admin_role_for_a_privileged_target() -> None:
    from provisioner.changes import Action

    rw = _grants("User.ReadWrite.All")
    why = perms.refusal(Action.DELETE, "ga@x", grants=rw, target_roles={perms.GLOBAL_ADMIN})
    assert why == ("ga@x holds Global Administrator: the app's service principal needs Privileged Authentication "
                   "Administrator (or Global Administrator).")
    why = perms.refusal(Action.DELETE, "hd@x", grants=rw, target_roles={perms.HELPDESK_ADMIN})
    assert why == ("hd@x holds Helpdesk Administrator: the app's service principal needs User Administrator (or "
                   "Privileged Authentication Administrator, Global Administrator).")
    why = perms.refusal(Action.UPDATE, "ga@x", grants=rw, target_roles={perms.GLOBAL_ADMIN},
                        changed={"accountEnabled"})
    assert why.startswith("ga@x holds Global Administrator: ")
    why = perms.refusal(Action.RESTORE, "ga@x", grants=rw, target_roles=None)
    assert why == ("If ga@x holds an admin role, the app's service principal needs a role that may act on it "
                   "(Privileged Authentication Administrator (or Global Administrator) may act on every role).")
    person = _grants("User.ReadWrite.All", wids=(perms.USER_ADMIN,), delegated=True)
    why = perms.refusal(Action.DELETE, "ga@x", grants=person, target_roles={perms.GLOBAL_ADMIN})
    assert why == ("ga@x holds Global Administrator: the signed-in admin needs Privileged Authentication "
                   "Administrator (or Global Administrator).")
    why = perms.refusal(Action.CREATE, "ann@x", grants=_grants("User.ReadWrite.All", delegated=True,
                                                               wids=(perms.HELPDESK_ADMIN,)), target_roles=None)
    assert why == ("The signed-in admin needs User Administrator (or Global Administrator); they hold Helpdesk "
                   "Administrator.")


def test_refusal_without_a_readable_token_names_every_cause() -> None:
    from provisioner.changes import Action

    why = perms.refusal(Action.DELETE, "ga@x", grants=None, target_roles={perms.GLOBAL_ADMIN})
    assert why == ("Needs the permission User.DeleteRestore.All (or User.ReadWrite.All); and ga@x holds Global "
                   "Administrator: the app's service principal (or the signed-in admin) needs Privileged "
                   "Authentication Administrator (or Global Administrator).")
    why = perms.refusal(Action.CREATE, "ann@x", grants=None, target_roles=None)
    assert why == ("Needs the permission User.ReadWrite.All (or Directory.ReadWrite.All), and a person needs User "
                   "Administrator (or Global Administrator).")


def test_read_refusal_names_the_endpoints_permission() -> None:
    assert perms.read_refusal("GET", "/users?$select=id") == (
        "Reading users needs the permission User.Read.All (or User.ReadWrite.All, Directory.Read.All, "
        "Directory.ReadWrite.All).")
    assert perms.read_refusal("GET", "https://graph.microsoft.com/v1.0/roleManagement/directory/roleAssignments"
                              ).startswith("Reading roles and their holders needs the permission "
                                           "RoleManagement.Read.Directory (or ")
    assert perms.read_refusal("GET", "/directory/deletedItems/microsoft.graph.user").startswith(
        "Reading deleted users needs the permission User.Read.All (or User.DeleteRestore.All, ")
    assert perms.read_refusal("GET", "/organization") is None
    assert perms.read_refusal("POST", "/users") is None
