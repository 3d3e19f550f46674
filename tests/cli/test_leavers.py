"""users reset-password and users offboard: exact plans, exit codes, and the tenant afterwards."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from cli_tenant import ADMIN, DOMAIN, Tenant, timeless
from test_forbidden import DENIED, app_token, failures, full, served  # noqa: F401 (served is a fixture)
from test_lifecycle import _get

ANN = f"ann@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
TARGET = "Target: local (local tenant, simulated)\n"
PASSWORD_LINE = re.compile(rf"New password for {re.escape(ANN)}: (\S+)  \(shown once; it must be changed at next "
                           r"sign-in\)\n")


def _reset_plan(oid: str, source: str = "(generated)", force: str = "true") -> str:
    return (
        "Changes are marked: ~ revoke sign-in sessions, reset password\n\n"
        f"  # every sign-in session of user {ANN} will be revoked (requested)\n"
        f"  ~ user {ANN} ({oid})\n\n"
        f"  # the password of user {ANN} will be reset (requested)\n"
        f"  ~ user {ANN} ({oid})\n"
        f"        passwordProfile               = {source}\n"
        f"        forceChangePasswordNextSignIn = {force}\n\n"
        "Plan: 1 user to sign out, 1 password to reset.\n")


def test_reset_password_generated_shown_once_and_sessions_revoked(tenant: Tenant) -> None:
    tenant.create("ann")
    before = _get(tenant, ANN, "lastPasswordChangeDateTime,signInSessionsValidFromDateTime")
    tenant.ok("local", "clock", "advance", "1h")
    result = tenant.run("users", "reset-password", ANN, "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == _reset_plan(before["id"])
    shown = PASSWORD_LINE.search(result.stderr)
    assert shown is not None, result.stderr
    assert timeless(result.stderr) == TARGET + shown.group(0) + "Applied 2 of 2 change(s) in 0.0s.\n"
    after = _get(tenant, ANN,
                 "lastPasswordChangeDateTime,signInSessionsValidFromDateTime,forceChangePasswordNextSignIn")
    assert after["forceChangePasswordNextSignIn"] is True
    assert after["lastPasswordChangeDateTime"] > before["lastPasswordChangeDateTime"]
    assert after["signInSessionsValidFromDateTime"] is not None
    # The password reaches no journal line, only the admin's terminal.
    journal = tenant.journal.read_text(encoding="utf-8")
    assert shown.group(1) not in journal
    assert [line["action"] for line in tenant.journal_lines()][-2:] == ["revoke-sessions", "reset-password"]


def test_reset_password_stdin_no_force_change_keep_sessions(tenant: Tenant) -> None:
    tenant.create("ann")
    oid = _get(tenant, ANN, "id")["id"]
    result = tenant.run("users", "reset-password", oid, "--password-stdin", "--no-force-change", "--keep-sessions",
                        "--yes", input="Corr3ct-Horse-Battery\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "Changes are marked: ~ reset password\n\n"
        f"  # the password of user {ANN} will be reset (requested)\n"
        f"  ~ user {ANN} ({oid})\n"
        "        passwordProfile               = (supplied)\n"
        "        forceChangePasswordNextSignIn = false\n\n"
        "Plan: 1 password to reset.\n")
    assert timeless(result.stderr) == TARGET + "Applied 1 of 1 change(s) in 0.0s.\n"
    got = _get(tenant, ANN, "forceChangePasswordNextSignIn,signInSessionsValidFromDateTime")
    assert (got["forceChangePasswordNextSignIn"], got["signInSessionsValidFromDateTime"]) == (False, None)


def test_reset_password_out_file_written_ahead(tenant: Tenant, tmp_path: Path) -> None:
    tenant.create("ann")
    tenant.create("bob")
    out = tmp_path / "new.csv"
    result = tenant.run("users", "reset-password", ANN, BOB, "--password-out", str(out), "--yes")
    assert result.exit_code == 0, result.stderr
    assert timeless(result.stderr) == (
        TARGET + f"New passwords written to {out} (mode 0600).\nApplied 4 of 4 change(s) in 0.0s.\n")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = out.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "userPrincipalName,password,status"
    statuses = sorted((r.split(",")[0], r.split(",")[2]) for r in rows[1:])
    assert statuses == [(ANN, "pending"), (ANN, "reset"), (BOB, "pending"), (BOB, "reset")]


def test_reset_password_usage_errors(tenant: Tenant) -> None:
    tenant.create("ann")
    tenant.create("bob")
    cases = [
        (("--password-stdin", ANN, BOB), "Pa55word!x\n", "--password-stdin sets one user's password"),
        (("--password-stdin", ANN), "short\n", "--password-stdin: "),
        (("--password-stdin", ANN), "\n", "--password-stdin: no password on standard input"),
        ((), None, "name at least one user"),
    ]
    for args, given, message in cases:
        result = tenant.run("users", "reset-password", *args, "--yes", input=given)
        assert result.exit_code == 64, args
        assert message in result.stderr, (args, result.stderr)
    result = tenant.run("users", "reset-password", f"nobody@{DOMAIN}", "--yes")
    assert result.exit_code != 0 and f"user 'nobody@{DOMAIN}' not found in the tenant" in result.stderr


def test_reset_password_synced_and_protected_refused_before_any_write(synced_tenant: Tenant) -> None:
    synced = next(u for u in synced_tenant.users() if u != ADMIN)
    with synced_tenant.config.open("a", encoding="utf-8") as f:
        f.write(f'\n[safety]\nprotected_accounts = ["{ADMIN}"]\n')
    before = synced_tenant.snapshot()
    result = synced_tenant.run("users", "reset-password", synced, ADMIN, "--yes")
    assert result.exit_code == 4
    assert result.stderr.endswith(
        "Error: refused (2 problems); nothing was written:\n"
        f"  - resetting the password of {ADMIN} is not allowed: it is a protected account (safety.protected_accounts); "
        "remove it from that list in the config if this is really intended\n"
        f"  - {synced} is synced from on-premises Active Directory (onPremisesSyncEnabled); reset its password there "
        "(Active Directory Users and Computers or Set-ADAccountPassword)\n")
    assert synced_tenant.snapshot() == before
    assert synced_tenant.journal_lines() == []


def test_reset_password_app_without_user_administrator_is_told_so(served: Tenant) -> None:  # noqa: F811
    served.create("ann")
    served.create("bob", "global")
    app_token(served, "User.ReadWrite.All", "RoleManagement.Read.Directory")
    result = served.run("users", "reset-password", ANN, "--keep-sessions", "--yes")
    assert result.exit_code == 1
    assert "New password for" not in result.stderr
    assert failures(result.stderr) == [
        f"  failed: reset-password {ANN}: {DENIED} Resetting the password of {ANN} (who holds no admin role) needs "
        "the app's service principal to hold User Administrator (or Privileged Authentication Administrator, "
        "Global Administrator). (request-id …)"]
    # User Administrator on the service principal resets ordinary users, not a Global Administrator.
    app_token(served, "User.ReadWrite.All", "RoleManagement.Read.Directory", wids=(USER_ADMIN,))
    result = served.run("users", "reset-password", ANN, BOB, "--keep-sessions", "--yes")
    assert result.exit_code == 3
    assert failures(result.stderr) == [
        f"  failed: reset-password {BOB}: {DENIED} Resetting the password of {BOB} (who holds Global Administrator) "
        "needs the app's service principal to hold Privileged Authentication Administrator (or Global "
        "Administrator). (request-id …)"]
    assert "Applied 1 of 2 change(s)" in result.stderr
    full(served)


# --- offboard ------------------------------------------------------------------------------------


def _offboard_plan(oid: str) -> str:
    return (
        "Changes are marked: ~ update, revoke sign-in sessions, reset password, set manager, change licenses; "
        "- revoke role, delete\n\n"
        f"  # user {ANN} will be updated in-place (offboarding)\n"
        f"  ~ user {ANN} ({oid})\n"
        "      ~ accountEnabled = true -> false\n\n"
        f"  # every sign-in session of user {ANN} will be revoked (offboarding)\n"
        f"  ~ user {ANN} ({oid})\n\n"
        f"  # the password of user {ANN} will be reset (offboarding)\n"
        f"  ~ user {ANN} ({oid})\n"
        "        passwordProfile               = (random, shown to nobody)\n"
        "        forceChangePasswordNextSignIn = false\n\n"
        f"  # role Billing Administrator will be revoked from {ANN} (offboarding)\n"
        f"  - role Billing Administrator -> {ANN}\n\n"
        f"  # the manager of user {ANN} will be removed (offboarding)\n"
        f"  ~ user {ANN} ({oid})\n"
        f'      ~ manager = "{BOB}" -> null\n\n'
        f"  # the licenses of user {ANN} will change (offboarding)\n"
        f"  ~ user {ANN} ({oid})\n"
        "      - license SPE_E5\n\n"
        f"  # user {ANN} will be deleted (offboarding)\n"
        f"  - user {ANN} ({oid})\n\n"
        "Plan: 1 to update, 1 user to sign out, 1 password to reset, 1 role assignment to remove, "
        "1 manager to change, 1 user to change licenses of, 1 to delete.\n")


def test_offboard_every_step_in_order_then_converges(tenant: Tenant) -> None:
    tenant.create("ann", "billing")
    tenant.create("bob")
    tenant.ok("users", "update", ANN, "--manager", BOB, "--usage-location", "GB", "--yes")
    tenant.ok("licenses", "assign", ANN, "SPE_E5", "--yes")
    oid = _get(tenant, ANN, "id")["id"]
    dry = tenant.run("users", "offboard", ANN, "--remove-licenses", "--delete", "--dry-run")
    assert dry.exit_code == 0
    assert dry.stdout == _offboard_plan(oid)
    result = tenant.run("users", "offboard", ANN, "--remove-licenses", "--delete", "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == _offboard_plan(oid)
    assert timeless(result.stderr) == TARGET + "Applied 7 of 7 change(s) in 0.0s.\n"
    assert "password" not in result.stderr.lower()
    assert ANN in tenant.deleted() and tenant.members("billing") == []
    assert tenant.json("licenses", "list")[2]["consumed"] == 0
    assert [line["action"] for line in tenant.journal_lines()][-7:] == [
        "update", "revoke-sessions", "reset-password", "revoke", "manager", "license", "delete"]
    again = tenant.run("users", "offboard", ANN, "--remove-licenses", "--delete", "--yes")
    assert again.exit_code == 0
    assert again.stderr == TARGET + (f"{ANN} is already deleted; nothing left to offboard\n"
                                     "No changes. The tenant already matches.\n")


def test_offboard_without_delete_leaves_a_disabled_account_and_reruns_cleanly(tenant: Tenant) -> None:
    tenant.create("ann", "user")
    tenant.ok("users", "offboard", ANN, "--yes")
    got = _get(tenant, ANN, "accountEnabled,signInSessionsValidFromDateTime,forceChangePasswordNextSignIn")
    assert (got["accountEnabled"], got["forceChangePasswordNextSignIn"]) == (False, False)
    assert got["signInSessionsValidFromDateTime"] is not None
    assert tenant.members("user") == []
    again = tenant.run("users", "offboard", ANN, "--yes")
    assert again.exit_code == 0
    assert again.stderr.startswith(TARGET + f"{ANN} is already disabled; sign-in stays blocked\n")
    assert again.stdout.endswith("Plan: 1 user to sign out, 1 password to reset.\n")


def test_offboard_guardrails_refuse_before_any_write(tenant: Tenant) -> None:
    tenant.create("ann")
    with tenant.config.open("a", encoding="utf-8") as f:
        f.write(f'\n[safety]\nprotected_accounts = ["{ANN}"]\n')
    before = tenant.snapshot()
    result = tenant.run("users", "offboard", ADMIN, ANN, "--delete", "--yes")
    assert result.exit_code == 4
    lines = result.stderr.splitlines()
    assert lines[1] == "Error: refused (4 problems); nothing was written:"
    assert lines[2].startswith(f"  - disabling {ANN} is not allowed: it is a protected account")
    assert f"  - resetting the password of {ANN} is not allowed: it is a protected account " \
           "(safety.protected_accounts); remove it from that list in the config if this is really intended" in lines
    assert f"  - deleting {ANN} is not allowed: it is a protected account (safety.protected_accounts); remove it " \
           "from that list in the config if this is really intended" in lines
    assert lines[-1] == (
        f"  - this plan would leave the tenant without an active Global Administrator (disable {ADMIN}; revoke "
        f"Global Administrator from {ADMIN}; delete {ADMIN}); assign Global Administrator to another active user "
        "first: provisioner roles assign USER global")
    assert tenant.snapshot() == before
    assert tenant.journal_lines()[-1]["action"] == "create"


def test_offboard_synced_user_is_refused_with_one_line(synced_tenant: Tenant) -> None:
    synced = next(u for u in synced_tenant.users() if u != ADMIN)
    before = synced_tenant.snapshot()
    result = synced_tenant.run("users", "offboard", synced, "--delete", "--yes")
    assert result.exit_code == 4
    assert result.stderr == TARGET + (
        "Error: refused (1 problem); nothing was written:\n"
        f"  - {synced} is synced from on-premises Active Directory (onPremisesSyncEnabled); offboard it there "
        "(disable it, reset its password, delete it) and let Entra Connect sync it\n")
    assert synced_tenant.snapshot() == before


def test_offboard_from_file(tenant: Tenant, tmp_path: Path) -> None:
    tenant.create("ann")
    tenant.create("bob")
    leavers = tmp_path / "leavers.csv"
    leavers.write_text(f"userPrincipalName\n{ANN}\n{BOB}\n", encoding="utf-8")
    result = tenant.ok("users", "offboard", "--from", str(leavers), "--yes")
    assert timeless(result.stderr) == TARGET + "Applied 6 of 6 change(s) in 0.0s.\n"
    users = tenant.users()
    assert (users[ANN]["accountEnabled"], users[BOB]["accountEnabled"]) == (False, False)
