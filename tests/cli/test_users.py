"""users list/show/create/delete/restore/purge, end to end on the local tenant."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from datetime import timedelta

from cli_tenant import ADMIN, DOMAIN, GLOBAL_ADMIN, Tenant

from provisioner.local import advance_clock

TARGET = "Target: local (local tenant, simulated)\n"
ALICE = f"alice@{DOMAIN}"
PASSWORD_LINE = re.compile(
    rf"Initial password for {re.escape(ALICE)}: (\S+)  \(shown once; it must be changed at first sign-in\)\n")


# --- list and show ------------------------------------------------------------------------------


def test_list_fresh_tenant_has_only_the_admin(tenant: Tenant) -> None:
    result = tenant.ok("users", "list", "-o", "json")
    assert result.stderr == TARGET
    [admin] = tenant.json("users", "list")
    assert admin["userPrincipalName"] == ADMIN
    assert admin["accountEnabled"] is True
    assert admin["displayName"] == "MOD Administrator"


def test_list_table_and_csv(tenant: Tenant) -> None:
    table = tenant.ok("users", "list").stdout.splitlines()
    assert table[0].split() == ["UPN", "Name", "Enabled", "Synced", "Job", "title", "Department", "Created"]
    assert table[2].startswith(f"{ADMIN}  MOD Administrator  yes")
    csv_lines = tenant.ok("users", "list", "-o", "csv").stdout.splitlines()
    (admin,) = tenant.json("users", "list")
    assert csv_lines[0] == ",".join(admin)  # the columns JSON has
    assert csv_lines[1].startswith(f"{admin['id']},{ADMIN},MOD Administrator,true,")


def test_list_filters(tenant: Tenant) -> None:
    tenant.create("alice", "billing")
    tenant.create("bob")
    assert [u["userPrincipalName"] for u in tenant.json("users", "list", "--upn-prefix", "al")] == [ALICE]
    assert [u["userPrincipalName"] for u in tenant.json("users", "list", "--role", "billing")] == [ALICE]
    assert [u["userPrincipalName"] for u in tenant.json("users", "list", "--role", "global")] == [ADMIN]
    assert tenant.json("users", "list", "--synced") == []
    assert len(tenant.json("users", "list", "--cloud-only")) == 3


def test_list_synced_filter(synced_tenant: Tenant) -> None:
    synced = tenant_synced(synced_tenant)
    assert len(synced) == 3
    assert sorted(u["userPrincipalName"] for u in synced_tenant.json("users", "list", "--synced")) == sorted(synced)


def tenant_synced(t: Tenant) -> list[str]:
    return [upn for upn, u in t.users().items() if u["onPremisesSyncEnabled"]]


def test_show_user_with_roles(tenant: Tenant) -> None:
    tenant.create("alice", "billing", "user")
    shown = tenant.json("users", "show", ALICE)
    assert shown["userPrincipalName"] == ALICE
    assert shown["roles"] == ["Billing Administrator", "User Administrator"]
    assert tenant.json("users", "show", ADMIN)["roles"] == [GLOBAL_ADMIN]


def test_show_by_object_id(tenant: Tenant) -> None:
    admin_id = tenant.users()[ADMIN]["id"]
    assert tenant.json("users", "show", admin_id)["userPrincipalName"] == ADMIN


def test_show_unknown_user(tenant: Tenant) -> None:
    result = tenant.run("users", "show", f"nobody@{DOMAIN}")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == TARGET + (f"Error: no active user 'nobody@{DOMAIN}'; deleted users are listed by "
                                      "'provisioner deleted list'\n")


# --- create -------------------------------------------------------------------------------------


def test_create_with_roles(tenant: Tenant) -> None:
    result = tenant.run("users", "create", ALICE, "--display-name", "Alice Smith", "--job-title", "Engineer",
                        "--department", "R&D", "--usage-location", "GB", "--role", "billing", "--role", "user",
                        "--yes")
    assert result.exit_code == 0, result.stderr
    assert f"+ user {ALICE}" in result.stdout
    assert f"+ role Billing Administrator -> {ALICE}" in result.stdout
    assert f"+ role User Administrator -> {ALICE}" in result.stdout
    assert "Plan: 1 to create, 2 role assignments to add." in result.stdout
    assert "Applied 3 of 3 change(s)" in result.stderr
    user = tenant.users()[ALICE]
    assert (user["displayName"], user["jobTitle"], user["department"], user["usageLocation"]) == \
        ("Alice Smith", "Engineer", "R&D", "GB")
    assert user["mailNickname"] == "alice"
    assert user["accountEnabled"] is True
    assert tenant.members("billing") == [ALICE]
    assert tenant.members("user") == [ALICE]
    assert [(j["action"], j["status"]) for j in tenant.journal_lines()] == [
        ("create", "ok"), ("assign", "ok"), ("assign", "ok")]


def test_plan_output_ends_with_a_newline(tenant: Tenant) -> None:
    result = tenant.run("users", "create", ALICE, "--display-name", "Alice", "--dry-run")
    assert result.exit_code == 0
    assert result.stdout.endswith(".\n")


def test_create_disabled(tenant: Tenant) -> None:
    tenant.ok("users", "create", ALICE, "--display-name", "Alice", "--disabled", "--yes")
    assert tenant.users()[ALICE]["accountEnabled"] is False


def test_generated_password_shown_once_on_stderr_only(tenant: Tenant) -> None:
    result = tenant.ok("users", "create", ALICE, "--display-name", "Alice", "--yes", "--plan-output", "json")
    [password] = PASSWORD_LINE.findall(result.stderr)
    assert len(password) >= 12
    assert password not in result.stdout
    assert '"passwordProfile"' not in result.stdout or password not in result.stdout
    assert password not in tenant.journal.read_text(encoding="utf-8")
    assert password not in tenant.ok("users", "show", ALICE, "-o", "json").stdout


def test_password_out_file_is_private(tenant: Tenant) -> None:
    out = tenant.root / "passwords.csv"
    result = tenant.ok("users", "create", ALICE, "--display-name", "Alice", "--password-out", str(out), "--yes")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    header, ahead, done = out.read_text(encoding="utf-8").splitlines()
    assert header == "userPrincipalName,password,status"
    upn, password, status = ahead.rsplit(",", 2)
    assert (upn, status) == (ALICE, "pending")  # written before the create was sent
    assert done == f"{ALICE},{password},created"
    assert password not in result.stdout
    assert password not in result.stderr
    assert f"Initial passwords written to {out} (mode 0600)." in result.stderr
    assert password not in tenant.journal.read_text(encoding="utf-8")


def test_password_stdin_strong(tenant: Tenant) -> None:
    result = tenant.ok("users", "create", ALICE, "--display-name", "Alice", "--password-stdin", "--yes",
                       input="Correct-Horse-Battery-9\n")
    assert "Initial password" not in result.stderr
    assert "Correct-Horse-Battery-9" not in result.stdout + result.stderr
    assert "Correct-Horse-Battery-9" not in tenant.journal.read_text(encoding="utf-8")
    assert ALICE in tenant.users()


def test_password_stdin_weak_is_a_usage_error(tenant: Tenant) -> None:
    before = tenant.snapshot()
    result = tenant.run("users", "create", ALICE, "--display-name", "Alice", "--password-stdin", "--yes",
                        input="short\n")
    assert result.exit_code == 64
    assert "--password-stdin:" in result.stderr
    assert "short" not in result.stdout
    assert tenant.snapshot() == before
    assert tenant.journal_lines() == []


def test_password_stdin_empty(tenant: Tenant) -> None:
    result = tenant.run("users", "create", ALICE, "--display-name", "Alice", "--password-stdin", "--yes", input="")
    assert result.exit_code == 64
    assert "Error: --password-stdin: no password on standard input" in result.stderr


def test_create_needs_display_name(tenant: Tenant) -> None:
    result = tenant.run("users", "create", ALICE, "--yes")
    assert result.exit_code == 64
    assert "Error: a UPN and --display-name are needed (or --from FILE)" in result.stderr


def test_create_bad_upn_is_refused_before_any_write(tenant: Tenant) -> None:
    before = tenant.snapshot()
    result = tenant.run("users", "create", "not-an-upn", "--display-name", "X", "--yes")
    assert result.exit_code == 64, result.stderr
    assert "not-an-upn" in result.stderr
    assert tenant.snapshot() == before
    assert tenant.journal_lines() == []


def test_create_usage_location_is_checked_like_a_file_row(tenant: Tenant) -> None:
    before = tenant.snapshot()
    result = tenant.run("users", "create", ALICE, "--display-name", "Alice", "--usage-location", "usa", "--yes")
    assert result.exit_code == 64
    assert ("Error: --usage-location: 'usa' is not a country code; use two letters (ISO 3166), like US or DE"
            in result.stderr)
    assert tenant.snapshot() == before
    assert tenant.ok("users", "create", ALICE, "--display-name", "Alice", "--usage-location", "gb", "--yes",
                     "--password-out", str(tenant.root / "pw.csv"))
    assert tenant.json("users", "show", ALICE)["usageLocation"] == "GB"


def test_create_unknown_domain_fails_with_graphs_reason(tenant: Tenant) -> None:
    before = tenant.snapshot()
    result = tenant.run("users", "create", "x@fabrikam.com", "--display-name", "X", "--yes")
    assert result.exit_code == 1
    assert "verified domain" in result.stderr
    assert "fabrikam.com" in result.stderr
    assert tenant.snapshot() == before


def test_create_unknown_role(tenant: Tenant) -> None:
    result = tenant.run("users", "create", ALICE, "--display-name", "Alice", "--role", "nosuch", "--yes")
    assert result.exit_code != 0
    assert "unknown role 'nosuch'" in result.stderr
    assert "global, billing, password, service, user" in result.stderr
    assert ALICE not in tenant.users()


def test_create_again_is_no_change(tenant: Tenant) -> None:
    tenant.create("alice", "billing")
    journal = tenant.journal_lines()
    result = tenant.ok("users", "create", ALICE, "--display-name", "Alice", "--role", "billing", "--yes")
    assert result.stdout == ""
    assert "already exists" in result.stderr
    assert "No changes. The tenant already matches." in result.stderr
    assert tenant.journal_lines() == journal


def test_create_dry_run_writes_nothing(tenant: Tenant) -> None:
    before = tenant.snapshot()
    result = tenant.ok("users", "create", ALICE, "--display-name", "Alice", "--role", "global", "--dry-run")
    assert f"+ user {ALICE}" in result.stdout
    assert result.stderr.endswith("Dry run: nothing was written.\n")
    assert "Initial password" not in result.stderr
    assert tenant.snapshot() == before
    assert not tenant.journal.exists()


def test_no_terminal_without_yes_a_create_runs_and_a_delete_writes_nothing(tenant: Tenant) -> None:
    assert tenant.run("users", "create", ALICE, "--display-name", "Alice").exit_code == 0
    before = tenant.snapshot()
    journal = tenant.journal_lines()
    result = tenant.run("users", "delete", ALICE)
    assert result.exit_code == 64
    assert result.stderr.endswith(
        "Error: not applied: no terminal to confirm on; re-run with --yes to apply this plan\n")
    assert tenant.snapshot() == before
    assert tenant.journal_lines() == journal


# --- delete -------------------------------------------------------------------------------------


def test_delete_then_listed_as_deleted(tenant: Tenant) -> None:
    tenant.create("alice", "billing")
    result = tenant.ok("users", "delete", ALICE, "--yes")
    assert f"- user {ALICE}" in result.stdout
    assert "Plan: 1 to delete." in result.stdout
    assert "Applied 1 of 1 change(s)" in result.stderr
    assert ALICE not in tenant.users()
    deleted = tenant.deleted()[ALICE]
    assert deleted["daysLeft"] == 29 or deleted["daysLeft"] == 30
    assert tenant.journal_lines()[-1]["action"] == "delete"


def test_delete_unknown_user(tenant: Tenant) -> None:
    result = tenant.run("users", "delete", f"ghost@{DOMAIN}", "--yes")
    assert result.exit_code == 1
    assert f"ghost@{DOMAIN}" in result.stderr
    assert result.stderr.startswith(TARGET + "Error: ")


def test_delete_needs_a_user(tenant: Tenant) -> None:
    result = tenant.run("users", "delete", "--yes")
    assert result.exit_code == 64
    assert "name at least one user" in result.stderr


def test_delete_synced_user_refused(synced_tenant: Tenant) -> None:
    upn = tenant_synced(synced_tenant)[0]
    before = synced_tenant.snapshot()
    result = synced_tenant.run("users", "delete", upn, "--yes")
    assert result.exit_code == 4
    assert "Error: refused" in result.stderr
    assert upn in result.stderr
    assert "on-premises Active Directory" in result.stderr
    assert synced_tenant.snapshot() == before
    assert synced_tenant.journal_lines() == []


def test_delete_last_global_admin_refused(tenant: Tenant) -> None:
    before = tenant.snapshot()
    result = tenant.run("users", "delete", ADMIN, "--yes")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr == TARGET + (
        "Error: refused (1 problem); nothing was written:\n"
        f"  - this plan would leave the tenant without an active Global Administrator (delete {ADMIN}); "
        "assign Global Administrator to another active user first: provisioner roles assign USER global\n")
    assert tenant.snapshot() == before


def test_delete_admin_allowed_when_another_global_admin_exists(tenant: Tenant) -> None:
    tenant.create("alice", "global")
    tenant.ok("users", "delete", ADMIN, "--yes")
    assert tenant.members("global") == [ALICE]


def test_delete_protected_account_refused(tenant: Tenant) -> None:
    tenant.create("alice")
    tenant.config.write_text('[execution]\njournal = "journal.jsonl"\n[safety]\n'
                             f'protected_accounts = ["{ALICE}"]\n', encoding="utf-8")
    result = tenant.run("users", "delete", ALICE, "--yes")
    assert result.exit_code == 4
    assert "protected" in result.stderr
    assert ALICE in tenant.users()


def test_delete_dry_run_writes_nothing(tenant: Tenant) -> None:
    tenant.create("alice")
    before, journal = tenant.snapshot(), tenant.journal_lines()
    result = tenant.ok("users", "delete", ALICE, "--dry-run")
    assert f"- user {ALICE}" in result.stdout
    assert result.stderr.endswith("Dry run: nothing was written.\n")
    assert tenant.snapshot() == before
    assert tenant.journal_lines() == journal


def test_delete_dry_run_json_plan(tenant: Tenant) -> None:
    import json

    tenant.create("alice")
    plan = json.loads(tenant.ok("users", "delete", ALICE, "--dry-run", "--plan-output", "json").stdout)
    assert [(c["action"], c["userPrincipalName"]) for c in plan["changes"]] == [("delete", ALICE)]


def test_delete_without_yes_on_no_terminal(tenant: Tenant) -> None:
    tenant.create("alice")
    before, journal = tenant.snapshot(), tenant.journal_lines()
    result = tenant.run("users", "delete", ALICE)
    assert result.exit_code == 64
    assert "re-run with --yes" in result.stderr
    assert tenant.snapshot() == before
    assert tenant.journal_lines() == journal


# --- restore ------------------------------------------------------------------------------------


def test_restore_tells_which_roles_came_back(tenant: Tenant) -> None:
    tenant.create("alice", "billing", "user")
    tenant.ok("users", "delete", ALICE, "--yes")
    assert tenant.members("billing") == []
    result = tenant.ok("users", "restore", ALICE, "--yes")
    assert f"^ user {ALICE}" in result.stdout
    assert "Plan: 1 to restore." in result.stdout
    assert (f"Restored {ALICE}; its roles came back: Billing Administrator, User Administrator\n"
            in result.stderr)
    assert ALICE in tenant.users()
    assert tenant.deleted() == {}
    assert tenant.members("billing") == [ALICE]
    assert tenant.members("user") == [ALICE]


def test_restore_by_object_id(tenant: Tenant) -> None:
    tenant.create("alice")
    object_id = tenant.users()[ALICE]["id"]
    tenant.ok("users", "delete", ALICE, "--yes")
    result = tenant.ok("users", "restore", object_id, "--yes")
    assert f"Restored {ALICE}; it held no admin roles" in result.stderr
    assert tenant.users()[ALICE]["id"] == object_id


def test_restore_unknown_user(tenant: Tenant) -> None:
    result = tenant.run("users", "restore", f"ghost@{DOMAIN}", "--yes")
    assert result.exit_code == 1
    assert f"Error: no deleted user 'ghost@{DOMAIN}'" in result.stderr


def test_restore_after_30_days_is_refused(tenant: Tenant) -> None:
    tenant.create("alice")
    tenant.ok("users", "delete", ALICE, "--yes")
    advance_clock(tenant.state, timedelta(days=31))
    journal = tenant.journal_lines()
    result = tenant.run("users", "restore", ALICE, "--yes")
    assert result.exit_code in (1, 4)
    assert f"'{ALICE}'" in result.stderr
    assert "purged" in result.stderr or "expired" in result.stderr
    assert tenant.journal_lines() == journal
    assert ALICE not in tenant.users()


def test_restore_on_day_29_still_works(tenant: Tenant) -> None:
    tenant.create("alice")
    tenant.ok("users", "delete", ALICE, "--yes")
    advance_clock(tenant.state, timedelta(days=29))
    assert tenant.deleted()[ALICE]["daysLeft"] in (0, 1)
    tenant.ok("users", "restore", ALICE, "--yes")
    assert ALICE in tenant.users()


def test_restore_upn_conflict_refused_then_new_upn(tenant: Tenant) -> None:
    tenant.create("alice", "billing")
    old_id = tenant.users()[ALICE]["id"]
    tenant.ok("users", "delete", ALICE, "--yes")
    tenant.create("alice")
    new_id = tenant.users()[ALICE]["id"]
    journal = tenant.journal_lines()

    refused = tenant.run("users", "restore", ALICE, "--yes")
    assert refused.exit_code == 4
    assert refused.stderr == TARGET + (
        "Error: refused (1 problem); nothing was written:\n"
        f"  - {ALICE} ({old_id}) cannot be restored as {ALICE}: that name now belongs to another user ({new_id}); "
        "restore it under another name with --new-upn\n")
    assert tenant.journal_lines() == journal

    old = f"alice.old@{DOMAIN}"
    result = tenant.ok("users", "restore", ALICE, "--new-upn", old, "--yes")
    assert f'newUserPrincipalName = "{old}"' in result.stdout
    assert "its roles came back: Billing Administrator" in result.stderr
    users = tenant.users()
    assert (users[ALICE]["id"], users[old]["id"]) == (new_id, old_id)
    assert tenant.members("billing") == [old]


def test_restore_new_upn_needs_one_user(tenant: Tenant) -> None:
    result = tenant.run("users", "restore", ALICE, f"bob@{DOMAIN}", "--new-upn", f"x@{DOMAIN}", "--yes")
    assert result.exit_code == 64
    assert "--new-upn needs exactly one user" in result.stderr


def test_restore_dry_run_writes_nothing(tenant: Tenant) -> None:
    tenant.create("alice")
    tenant.ok("users", "delete", ALICE, "--yes")
    before, journal = tenant.snapshot(), tenant.journal_lines()
    result = tenant.ok("users", "restore", ALICE, "--dry-run")
    assert f"^ user {ALICE}" in result.stdout
    assert tenant.snapshot() == before
    assert tenant.journal_lines() == journal


# --- purge --------------------------------------------------------------------------------------


def test_purge_needs_the_user_deleted_first(tenant: Tenant) -> None:
    tenant.create("alice")
    result = tenant.run("users", "purge", ALICE, "--yes")
    assert result.exit_code == 1
    assert result.stderr == TARGET + (
        f"Error: {ALICE} is not deleted; purge only removes deleted users. "
        f"Delete it first: provisioner users delete {ALICE}\n")
    assert ALICE in tenant.users()


def test_purge_deleted_user(tenant: Tenant) -> None:
    tenant.create("alice")
    tenant.ok("users", "delete", ALICE, "--yes")
    tenant.ok("users", "purge", ALICE, "--yes")
    assert tenant.deleted() == {}
    assert ALICE not in tenant.users()
    assert tenant.journal_lines()[-1]["action"] == "purge"
    again = tenant.run("users", "restore", ALICE, "--yes")
    assert again.exit_code == 1


def test_purge_without_yes_on_no_terminal(tenant: Tenant) -> None:
    tenant.create("alice")
    tenant.ok("users", "delete", ALICE, "--yes")
    before = tenant.snapshot()
    result = tenant.run("users", "purge", ALICE)
    assert result.exit_code == 64
    assert tenant.snapshot() == before


# --- usage and startup --------------------------------------------------------------------------


def test_unknown_command_is_usage_not_changes_present(tenant: Tenant) -> None:
    result = tenant.run("users", "frob")
    assert result.exit_code == 64
    assert "No such command 'frob'" in result.stderr


def test_unknown_option_is_usage(tenant: Tenant) -> None:
    result = tenant.run("users", "list", "--nope")
    assert result.exit_code == 64
    result = tenant.run("users", "list", "-o", "yaml")
    assert result.exit_code == 64


def test_help_does_not_import_msgraph() -> None:
    code = ("import sys\nfrom click.testing import CliRunner\nfrom provisioner.cli import cli\n"
            "r = CliRunner().invoke(cli, ['--help'])\nassert r.exit_code == 0, r.output\n"
            "for sub in (['users', '--help'], ['roles', 'assign', '--help'], ['users', 'create', '--help']):\n"
            "    assert CliRunner().invoke(cli, sub).exit_code == 0\n"
            "bad = sorted(m for m in sys.modules if m.startswith(('msgraph', 'kiota', 'azure')))\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_dry_run_refused_by_a_guardrail_still_shows_its_plan(tenant: Tenant) -> None:
    result = tenant.run("users", "delete", ADMIN, "--dry-run")
    assert result.exit_code == 4
    assert f"- user {ADMIN}" in result.stdout
    assert "without an active Global Administrator" in result.stderr
