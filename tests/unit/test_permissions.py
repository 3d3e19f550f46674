"""What doctor knows: permissions per command, from token claims, and the doc that shows them."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner import permissions as perms
from provisioner.auth import token_claims

DOC = Path(__file__).resolve().parents[2] / "docs" / "real-tenant.md"


def test_every_command_is_covered() -> None:
    assert set(perms.COMMANDS) == {
        "users list",
        "users show",
        "users create",
        "users delete",
        "users restore",
        "users purge",
        "deleted list",
        "roles list",
        "roles members",
        "roles assign",
        "roles revoke",
        "sync",
        "audit",
    }


def test_nothing_granted_asks_for_the_least_privileged_permission_of_each_need() -> None:
    assert perms.missing_for(set(), "users create") == ["User.ReadWrite.All"]
    assert perms.missing_for(set(), "users delete") == [
        "User.Read.All",
        "User.DeleteRestore.All",
        "RoleManagement.Read.Directory",
    ]
    assert perms.missing_for(set(), "roles assign") == ["User.Read.All", "RoleManagement.ReadWrite.Directory"]
    assert perms.missing_for(set(), "deleted list") == ["User.Read.All"]
    assert perms.missing_for(set(), "users purge") == [
        "User.Read.All",
        "User.DeleteRestore.All",
        "RoleManagement.Read.Directory",
    ]


def test_broader_permissions_satisfy_narrower_needs() -> None:
    directory_rw = {"Directory.ReadWrite.All"}
    assert perms.missing_for(directory_rw, "users create") == []
    assert perms.missing_for(directory_rw, "roles list") == []
    # Directory.ReadWrite.All is not enough to write unified role assignments, nor to purge.
    assert perms.missing_for(directory_rw, "roles assign") == ["RoleManagement.ReadWrite.Directory"]
    assert perms.missing_for(directory_rw, "users purge") == ["User.DeleteRestore.All"]
    # User.ReadWrite.All is the broader alternative for delete and restore.
    assert perms.missing_for({"User.ReadWrite.All", "RoleManagement.Read.Directory"}, "users restore") == []


def test_delete_restore_permission_alone_is_not_enough_for_the_guardrails_reads() -> None:
    assert perms.missing_for({"User.DeleteRestore.All"}, "users delete") == [
        "User.Read.All",
        "RoleManagement.Read.Directory",
    ]


def test_permission_names_compare_case_insensitively() -> None:
    assert perms.missing_for({"user.readwrite.all"}, "users create") == []


def test_unknown_command() -> None:
    with pytest.raises(ValueError, match="unknown command 'users frobnicate'"):
        perms.missing_for(set(), "users frobnicate")


def test_check_all_for_a_typical_app_registration() -> None:
    granted = {"User.ReadWrite.All", "RoleManagement.Read.Directory"}
    checks = {c.command: c for c in perms.check_all(granted)}
    assert [c for c, check in checks.items() if not check.ok] == ["users purge", "roles assign", "roles revoke", "sync"]
    assign = checks["roles assign"]
    assert assign.missing == ["RoleManagement.ReadWrite.Directory"]
    assert assign.hint.startswith(
        "Add the application permission(s) RoleManagement.ReadWrite.Directory (App registrations > API "
        "permissions > Microsoft Graph) and grant admin consent."
    )
    assert "older version of the page said app-only was not supported" in checks["users purge"].hint
    # Privileged targets need more than a permission: the service principal needs an admin role.
    for command in ("users delete", "users restore", "users purge"):
        assert "the app's service principal must itself hold a higher privileged admin role" in checks[command].hint
    assert checks["roles list"] == ("roles list", True, [], "")


def test_check_all_everything_granted() -> None:
    everything = perms.all_permissions()
    assert all(check.ok for check in perms.check_all(everything))


def test_delegated_tokens_name_the_admin_role() -> None:
    checks = {c.command: c for c in perms.check_all({"User.ReadWrite.All"}, delegated=True)}
    assert checks["users create"].ok
    assert checks["users create"].hint.startswith("The signed-in person also needs User Administrator.")
    assert checks["roles assign"].hint == (
        "Add the delegated permission(s) RoleManagement.ReadWrite.Directory and sign in as Privileged Role "
        "Administrator. Assigning Global Administrator needs no more than Privileged Role Administrator."
    )
    # Acting as the user: the person's role decides, no scope is missing.
    assert all(c.ok for c in perms.check_all({"Directory.AccessAsUser.All"}, delegated=True))
    # ...but only for delegated tokens: it is not an application permission.
    assert not perms.check_all({"Directory.AccessAsUser.All"})[0].ok


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
    assert perms.markdown_table() in doc
    for permission in perms.all_permissions():
        assert f"`{permission}`" in doc
    for requirement in perms.REQUIREMENTS.values():
        assert requirement.delegated_role in doc
