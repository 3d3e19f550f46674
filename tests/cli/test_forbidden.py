"""403s end to end: CLI commands through a kind = "graph" profile against `local serve`, with a JWT
bearer token that lacks a permission or an admin role (graph-quirks.md "Permission model", §11).
What is missing is named per change, with the exit code of a partial (3) or failed (1) run."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_tenant import ADMIN, DOMAIN, Tenant, make_tenant
from served import FULL, serving

from provisioner.local.permissions import unsigned_token

ALICE, BOB = f"alice@{DOMAIN}", f"bob@{DOMAIN}"
PAA = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"
HELPDESK = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
DENIED = "Authorization_RequestDenied: Insufficient privileges to complete the operation."
RID = r" \(request-id [0-9a-f-]{36}\)"
READ = ["User.Read.All", "RoleManagement.Read.Directory"]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Tenant]:
    with serving(make_tenant(tmp_path)) as t:
        yield t


def app_token(t: Tenant, *roles: str, wids: tuple[str, ...] = ()) -> None:
    t.extra_env["TEST_GRAPH_TOKEN"] = unsigned_token(
        {"tid": "t", "app_displayname": "provisioner-tests", "idtyp": "app", "roles": list(roles),
         "wids": [*wids, "0997a1d0-0d1d-4acb-b408-d5ca73121e90"]})


def person_token(t: Tenant, scopes: str, *wids: str) -> None:
    t.extra_env["TEST_GRAPH_TOKEN"] = unsigned_token({"tid": "t", "upn": ADMIN, "scp": scopes, "wids": list(wids)})


def failures(stderr: str) -> list[str]:
    return [re.sub(RID, " (request-id …)", line) for line in stderr.splitlines() if line.startswith("  failed: ")]


def full(t: Tenant) -> None:
    t.extra_env["TEST_GRAPH_TOKEN"] = FULL


def test_create_without_user_readwrite_fails_naming_the_permission(served: Tenant) -> None:
    app_token(served, *READ)
    result = served.run("users", "create", ALICE, "--display-name", "Alice", "--yes")
    assert result.exit_code == 1
    assert failures(result.stderr) == [
        f"  failed: create {ALICE}: {DENIED} The token lacks the application permission User.ReadWrite.All "
        "(or Directory.ReadWrite.All). (request-id …)"]
    assert result.stderr.splitlines()[-1] == (
        "Error: 1 change(s) did not apply; they were refused for lack of a permission or admin role: grant what "
        "is named above and get a new token, then re-run the same command (it converges)")
    full(served)
    assert list(served.users()) == [ADMIN]
    [record] = served.journal_lines()
    assert (record["action"], record["status"], record["httpStatus"], record["code"]) == (
        "create", "failed", 403, "Authorization_RequestDenied")
    assert "User.ReadWrite.All" in record["message"] and record["requestId"]


def test_a_role_assigned_with_the_user_needs_role_management_write(served: Tenant) -> None:
    app_token(served, "User.ReadWrite.All", "RoleManagement.Read.Directory")
    result = served.run("users", "create", ALICE, "--display-name", "Alice", "--role", "billing", "--yes")
    assert result.exit_code == 3
    assert "Applied 1 of 2 change(s)" in result.stderr
    assert failures(result.stderr) == [
        f"  failed: assign Billing Administrator {ALICE}: {DENIED} The token lacks the application permission "
        "RoleManagement.ReadWrite.Directory. (request-id …)"]
    full(served)
    assert sorted(served.users()) == [ADMIN, ALICE]
    assert served.members("billing") == []


def test_deleting_a_global_administrator_needs_a_role_on_the_service_principal(served: Tenant) -> None:
    served.create("alice")
    served.create("bob", "global")
    app_token(served, "User.ReadWrite.All", *READ)
    result = served.run("users", "delete", ALICE, BOB, "--yes")
    assert result.exit_code == 3
    assert "Applied 1 of 2 change(s)" in result.stderr
    assert failures(result.stderr) == [
        f"  failed: delete {BOB}: {DENIED} {BOB} holds Global Administrator: the app's service principal needs "
        "Privileged Authentication Administrator (or Global Administrator). (request-id …)"]
    full(served)
    assert sorted(served.users()) == [ADMIN, BOB]
    # With the role on the service principal (a new token), the same command converges.
    app_token(served, "User.ReadWrite.All", *READ, wids=(PAA,))
    assert "Applied 1 of 1 change(s)" in served.ok("users", "delete", BOB, "--yes").stderr
    full(served)
    assert list(served.deleted()) == [ALICE, BOB]


def test_restoring_a_deleted_global_administrator_names_the_role_it_may_need(served: Tenant) -> None:
    served.create("bob", "global")
    served.ok("users", "delete", BOB, "--yes")
    app_token(served, "User.DeleteRestore.All", *READ)
    result = served.run("users", "restore", BOB, "--yes")
    assert result.exit_code == 1
    assert failures(result.stderr) == [
        f"  failed: restore {BOB}: {DENIED} If {BOB} holds an admin role, the app's service principal needs a role "
        "that may act on it (Privileged Authentication Administrator (or Global Administrator) may act on every "
        "role). (request-id …)"]


def test_disabling_a_global_administrator_through_sync_is_refused_per_change(served: Tenant, tmp_path: Path) -> None:
    served.create("bob", "global")
    served.create("alice")
    manifest = tmp_path / "m.toml"
    manifest.write_text(
        f'[scope]\ndomains = ["{DOMAIN}"]\n'
        f'[[users]]\nuserPrincipalName = "{ADMIN}"\ndisplayName = "admin"\nroles = ["global"]\n'
        f'[[users]]\nuserPrincipalName = "{BOB}"\ndisplayName = "Bob"\naccountEnabled = false\nroles = ["global"]\n'
        f'[[users]]\nuserPrincipalName = "{ALICE}"\ndisplayName = "Alice"\naccountEnabled = false\n',
        encoding="utf-8")
    plan = served.ok("sync", str(manifest), "--dry-run").stdout
    assert "Plan: 3 to update." in plan  # the admin's name, and alice and bob disabled
    app_token(served, "User.ReadWrite.All", "User.DeleteRestore.All", "RoleManagement.ReadWrite.Directory")
    result = served.run("sync", str(manifest), "--yes")
    assert result.exit_code == 3, result.stderr
    assert "Applied 2 of 3 change(s)" in result.stderr
    # Renaming a Global Administrator is not sensitive; disabling one is.
    assert failures(result.stderr) == [
        f"  failed: update {BOB}: {DENIED} {BOB} holds Global Administrator: the app's service principal needs "
        "Privileged Authentication Administrator (or Global Administrator). (request-id …)"]
    full(served)
    users = served.users()
    assert (users[ADMIN]["displayName"], users[ALICE]["accountEnabled"], users[BOB]["accountEnabled"]) == (
        "admin", False, True)


def test_a_delegated_admin_without_the_role(served: Tenant) -> None:
    person_token(served, "User.ReadWrite.All RoleManagement.Read.Directory", HELPDESK)
    result = served.run("users", "create", ALICE, "--display-name", "Alice", "--yes")
    assert result.exit_code == 1
    assert failures(result.stderr) == [
        f"  failed: create {ALICE}: {DENIED} The signed-in admin needs User Administrator (or Global "
        "Administrator); they hold Helpdesk Administrator. (request-id …)"]


def test_a_refused_read_is_one_line_naming_the_permission(served: Tenant) -> None:
    app_token(served, "RoleManagement.Read.Directory")
    result = served.run("users", "list")
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()[1:]
    assert re.fullmatch(
        r"Error: Graph 403 Authorization_RequestDenied: Insufficient privileges to complete the operation\. "
        r"Reading users needs the permission User\.Read\.All \(or User\.ReadWrite\.All, Directory\.Read\.All, "
        r"Directory\.ReadWrite\.All\)\." + RID, line), line
    app_token(served, "User.Read.All")
    result = served.run("roles", "list")
    assert result.exit_code == 1
    assert "Reading roles and their holders needs the permission RoleManagement.Read.Directory (or " in result.stderr


def test_doctor_predicts_the_403s(served: Tenant) -> None:
    granted = ("User.ReadWrite.All", "User.DeleteRestore.All", "RoleManagement.ReadWrite.Directory",
               "Organization.Read.All", "Domain.Read.All")
    app_token(served, *granted)
    result = served.run("doctor")
    lines = result.stdout.splitlines()
    assert lines[1].endswith("; directory roles of the app's service principal: none")
    assert [line.split(":")[0] for line in lines if line.startswith("[warn]")] == [
        "[warn] users delete", "[warn] users restore", "[warn] users update", "[warn] users disable",
        "[warn] users enable", "[warn] sync", "[warn] apply"]
    assert ("[warn] users delete: Deleting, restoring or updating users who hold privileged admin roles needs the "
            "app's service principal to hold Privileged Authentication Administrator (or Global Administrator); "
            "it holds no directory role.") in lines
    # Resetting a password (offboarding does) needs a role on the service principal whoever the user.
    assert [line.split(":")[0] for line in lines if line.startswith("[FAIL]")] == [
        "[FAIL] users reset-password", "[FAIL] users offboard"]
    assert result.exit_code == 1
    app_token(served, *granted, wids=(PAA,))
    lines = served.ok("doctor").stdout.splitlines()
    assert lines[1].endswith("; directory roles of the app's service principal: "
                             "Privileged Authentication Administrator")
    assert not [line for line in lines if line.startswith(("[warn]", "[FAIL]"))]


def test_doctor_names_the_delegated_admins_missing_role(served: Tenant) -> None:
    person_token(served, "User.ReadWrite.All RoleManagement.ReadWrite.Directory", HELPDESK)
    result = served.run("doctor")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("[FAIL] users create: Sign in as User Administrator: the signed-in admin holds "
                               "Helpdesk Administrator. ") for line in lines)
    assert any(line.startswith("[FAIL] roles assign: Sign in as Privileged Role Administrator: ") for line in lines)


def test_a_create_without_domain_read_says_which_permission_would_check_the_domain(served: Tenant) -> None:
    app_token(served, *READ, "User.ReadWrite.All")
    result = served.run("users", "create", ALICE, "--display-name", "Alice", "--yes")
    assert result.exit_code == 0, result.stderr
    assert ("the tenant's domains could not be read (the permission Domain.Read.All would allow it), so UPN "
            "domains are checked by Graph when each user is created") in result.stderr.splitlines()
