"""doctor on the lifecycle commands (update, disable, enable, reset-password, offboard, licenses),
through a kind = "graph" profile against `local serve`, with tokens minted by `provisioner local
token`: what it predicts, and that Graph (the local tenant) then refuses exactly that."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_tenant import DOMAIN, Tenant, make_tenant
from served import FULL, serving, token

ALICE = f"alice@{DOMAIN}"
# What a typical app registration for user lifecycle grants, without any directory role.
LIFECYCLE = ("User.ReadWrite.All", "User.DeleteRestore.All", "RoleManagement.ReadWrite.Directory",
             "Organization.Read.All")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Tenant]:
    with serving(make_tenant(tmp_path), hide_local=False) as t:
        yield t


def doctor_lines(t: Tenant, command: str) -> list[str]:
    """doctor's lines for COMMAND (every line naming it before its colon)."""
    result = t.run("doctor")
    return [line for line in result.stdout.splitlines() if line.split("] ", 1)[-1].split(":")[0] == command]


def roles(*permissions: str) -> list[str]:
    return [arg for p in permissions for arg in ("--roles", p)]


PAA_NOTE = ("needs the app's service principal to hold Privileged Authentication Administrator (or Global "
            "Administrator); it holds")


def test_an_app_without_a_directory_role_cannot_reset_passwords_and_doctor_says_so_first(served: Tenant) -> None:
    served.create("alice")
    token(served, *roles(*LIFECYCLE))
    assert doctor_lines(served, "users reset-password") == [
        "[FAIL] users reset-password: Graph resets no password for an app whose service principal holds no admin "
        "role, whoever the user: assign it User Administrator (Privileged Authentication Administrator (or Global "
        "Administrator) for users who hold privileged admin roles); it holds no directory role. --keep-sessions "
        "does not need User.RevokeSessions.All."]
    # Offboarding resets the password too: the same finding, and doctor fails as a whole.
    assert doctor_lines(served, "users offboard") == [
        "[FAIL] users offboard: Graph resets no password for an app whose service principal holds no admin role, "
        "whoever the user: assign it User Administrator (Privileged Authentication Administrator (or Global "
        "Administrator) for users who hold privileged admin roles); it holds no directory role."]
    result = served.run("doctor")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "Error: doctor found problems (see FAIL lines)"
    # ...and Graph does refuse it, for a user who holds no role at all.
    refused = served.run("users", "reset-password", ALICE, "--yes")
    assert refused.exit_code == 3  # the sign-out went through
    [failed] = [line for line in refused.stderr.splitlines() if line.startswith("  failed: ")]
    assert failed.startswith(
        f"  failed: reset-password {ALICE}: Authorization_RequestDenied: Insufficient privileges to complete the "
        f"operation. Resetting the password of {ALICE} (who holds no admin role) needs the app's service principal "
        "to hold User Administrator (or Privileged Authentication Administrator, Global Administrator). (request-id ")


def test_user_administrator_on_the_app_resets_ordinary_users_and_is_warned_about_admins(served: Tenant) -> None:
    served.create("alice")
    token(served, *roles(*LIFECYCLE), "--wids", "User Administrator")
    assert doctor_lines(served, "users reset-password") == [
        f"[warn] users reset-password: Resetting the passwords of users who hold privileged admin roles {PAA_NOTE} "
        "User Administrator. --keep-sessions does not need User.RevokeSessions.All."]
    assert doctor_lines(served, "users offboard") == [
        f"[warn] users offboard: Offboarding users who hold privileged admin roles {PAA_NOTE} User Administrator."]
    assert doctor_lines(served, "users disable") == [
        f"[warn] users disable: Disabling or signing out users who hold privileged admin roles {PAA_NOTE} User "
        "Administrator. --keep-sessions does not need User.RevokeSessions.All."]
    assert served.run("doctor").exit_code == 0  # warnings only
    done = served.run("users", "reset-password", ALICE, "--yes", "--password-out", str(served.root / "pw.csv"))
    assert done.exit_code == 0, done.stderr
    assert "Applied 2 of 2 change(s)" in done.stderr


def test_privileged_authentication_administrator_clears_every_lifecycle_warning(served: Tenant) -> None:
    token(served, *roles(*LIFECYCLE), "--wids", "Privileged Authentication Administrator")
    lines = served.ok("doctor").stdout.splitlines()
    lifecycle = [line for line in lines if line.split("] ", 1)[-1].startswith(("users ", "licenses "))]
    assert [line for line in lifecycle if line.startswith(("[warn]", "[FAIL]"))] == [
        "[warn] users update: --upn needs the application permission Domain.Read.All (or Domain.ReadWrite.All, "
        "Directory.Read.All, Directory.ReadWrite.All)."]
    assert "[ok ] users offboard" in lines
    assert "[ok ] licenses assign" in lines


def test_licenses_need_the_organization_read_and_the_assignment_permission(served: Tenant) -> None:
    token(served, *roles("User.Read.All"))
    assert doctor_lines(served, "licenses list") == [
        "[FAIL] licenses list: Add the application permission(s) Organization.Read.All (App registrations > API "
        "permissions > Microsoft Graph) and grant admin consent."]
    assert doctor_lines(served, "licenses assign") == [
        "[FAIL] licenses assign: Add the application permission(s) Organization.Read.All, "
        "LicenseAssignment.ReadWrite.All (App registrations > API permissions > Microsoft Graph) and grant admin "
        "consent. --usage-location needs the application permission User.ReadUpdate.All (or User.ReadWrite.All, "
        "Directory.ReadWrite.All)."]
    refused = served.run("licenses", "list")
    assert refused.exit_code == 1 and "Authorization_RequestDenied" in refused.stderr
    # The least privileged pair is enough to list and assign; setting a usage location on the way is not.
    token(served, *roles("User.Read.All", "Organization.Read.All", "LicenseAssignment.ReadWrite.All"))
    assert doctor_lines(served, "licenses assign") == [
        "[warn] licenses assign: --usage-location needs the application permission User.ReadUpdate.All (or "
        "User.ReadWrite.All, Directory.ReadWrite.All)."]
    assert doctor_lines(served, "licenses revoke") == ["[ok ] licenses revoke"]


def test_offboard_options_each_add_a_permission(served: Tenant) -> None:
    token(served, *roles("User.Read.All", "RoleManagement.ReadWrite.Directory", "User.EnableDisableAccount.All",
                         "User.RevokeSessions.All", "User-PasswordProfile.ReadWrite.All", "User.ReadWrite.All"),
          "--wids", "Privileged Authentication Administrator")
    assert doctor_lines(served, "users offboard") == ["[ok ] users offboard"]
    token(served, *roles("User.Read.All", "RoleManagement.ReadWrite.Directory", "User.EnableDisableAccount.All",
                         "User.RevokeSessions.All", "User-PasswordProfile.ReadWrite.All"),
          "--wids", "Privileged Authentication Administrator")
    assert doctor_lines(served, "users offboard") == [
        "[FAIL] users offboard: Add the application permission(s) User.ReadWrite.All (App registrations > API "
        "permissions > Microsoft Graph) and grant admin consent. --remove-licenses needs the application permission "
        "LicenseAssignment.ReadWrite.All (or User.ReadWrite.All, Directory.ReadWrite.All). --delete needs the "
        "application permission User.DeleteRestore.All (or User.ReadWrite.All)."]
    # Directory.ReadWrite.All covers every step but the delete (and, with it, not the password reset).
    served.extra_env["TEST_GRAPH_TOKEN"] = FULL
    served.create("alice")
    token(served, *roles("Directory.ReadWrite.All", "User-PasswordProfile.ReadWrite.All",
                         "RoleManagement.ReadWrite.Directory"), "--wids", "Privileged Authentication Administrator")
    assert doctor_lines(served, "users offboard") == [
        "[warn] users offboard: --delete needs the application permission User.DeleteRestore.All (or "
        "User.ReadWrite.All)."]
    result = served.run("users", "offboard", ALICE, "--delete", "--yes")
    assert result.exit_code == 3, result.stderr
    assert "Applied 3 of 4 change(s)" in result.stderr  # disable, sign-out, reset; not the delete
    assert [line.split(": Authorization")[0] for line in result.stderr.splitlines() if "failed:" in line] == [
        f"  failed: delete {ALICE}"]
    # Without --delete, the same token offboards and the re-run finds nothing left but the sign-out.
    token(served, "--roles", "Directory.ReadWrite.All", "--roles", "User-PasswordProfile.ReadWrite.All",
          "--roles", "RoleManagement.ReadWrite.Directory", "--wids", "Privileged Authentication Administrator")
    assert served.run("users", "offboard", ALICE, "--yes").exit_code == 0
