"""roles list/members/assign/revoke, end to end on the local tenant."""

from __future__ import annotations

from cli_tenant import ADMIN, DOMAIN, Tenant

TARGET = "Target: local (local tenant, simulated)\n"
ALICE = f"alice@{DOMAIN}"
CLASSIC = [
    ("global", "Global administrator", "Global Administrator", "62e90394-69f5-4237-9190-012177145e10", True),
    ("billing", "Billing administrator", "Billing Administrator", "b0f54661-2d74-4c50-afa3-1ec803f12efe", False),
    ("password", "Password administrator", "Helpdesk Administrator", "729827e3-9c14-49f7-bb1b-9608f156bbb8", True),
    ("service", "Service administrator", "Service Support Administrator", "f023fd81-a637-4b56-95fd-791ac0226033",
     False),
    ("user", "User management administrator", "User Administrator", "fe930be7-5e62-47db-91af-98c3a49a38b1", True),
]


def test_list_the_five_classic_roles(tenant: Tenant) -> None:
    rows = tenant.json("roles", "list")
    assert [(r["alias"], r["classicName"], r["displayName"], r["templateId"], r["isPrivileged"]) for r in rows] \
        == CLASSIC
    assert [r["holders"] for r in rows] == [1, 0, 0, 0, 0]


def test_list_table(tenant: Tenant) -> None:
    result = tenant.ok("roles", "list")
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["Alias", "Classic", "name"]
    assert lines[0].split()[-2:] == ["Active", "Eligible"]
    assert lines[2].split() == ["global", "Global", "administrator", "Global", "Administrator",
                                "62e90394-69f5-4237-9190-012177145e10", "yes", "1", "0"]
    assert len(lines) == 7
    assert result.stderr == TARGET


def test_list_all_puts_classic_first_then_the_rest(tenant: Tenant) -> None:
    rows = tenant.json("roles", "list", "--all")
    assert [r["alias"] for r in rows[:5]] == ["global", "billing", "password", "service", "user"]
    rest = [r["displayName"] for r in rows[5:]]
    assert len(rest) > 20
    assert rest == sorted(rest, key=str.lower)
    assert "Password Administrator" in rest
    assert all(r["alias"] is None for r in rows[5:])


def test_holders_counted(tenant: Tenant) -> None:
    tenant.create("alice", "billing", "global")
    holders = {r["alias"]: r["holders"] for r in tenant.json("roles", "list")}
    assert holders == {"global": 2, "billing": 1, "password": 0, "service": 0, "user": 0}


def test_members(tenant: Tenant) -> None:
    result = tenant.ok("roles", "members", "global", "-o", "json")
    assert result.stderr == TARGET + "Role: Global Administrator (62e90394-69f5-4237-9190-012177145e10)\n"
    assert tenant.members("global") == [ADMIN]
    assert tenant.members("billing") == []


def test_members_by_any_name(tenant: Tenant) -> None:
    tenant.create("alice", "password")
    for name in ("password", "Helpdesk Administrator", "helpdesk administrator",
                 "729827e3-9c14-49f7-bb1b-9608f156bbb8"):
        assert tenant.members(name) == [ALICE], name
    assert tenant.members("Company Administrator") == [ADMIN]
    assert tenant.members("966707d0-3269-4727-9be2-8c3a10f19b9d") == []
    ambiguous = tenant.run("roles", "members", "Password Administrator")
    assert ambiguous.exit_code == 64
    assert ambiguous.stderr.splitlines()[-1].startswith("Error: 'Password administrator' names two roles: ")


def test_members_unknown_role_lists_aliases(tenant: Tenant) -> None:
    result = tenant.run("roles", "members", "nosuch")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "unknown role 'nosuch'" in result.stderr
    assert "use an alias (global, billing, password, service, user), a role name or a template id" in result.stderr
    assert "provisioner roles list --all" in result.stderr


def test_assign_and_revoke(tenant: Tenant) -> None:
    tenant.create("alice")
    result = tenant.ok("roles", "assign", ALICE, "billing", "service", "--yes")
    assert f"+ role Billing Administrator -> {ALICE}" in result.stdout
    assert "Applied 2 of 2 change(s)" in result.stderr
    assert tenant.members("billing") == [ALICE]
    assert tenant.members("service") == [ALICE]
    assert tenant.json("users", "show", ALICE)["roles"] == ["Billing Administrator", "Service Support Administrator"]

    result = tenant.ok("roles", "revoke", ALICE, "billing", "--yes")
    assert "Billing Administrator" in result.stdout
    assert tenant.members("billing") == []
    assert tenant.members("service") == [ALICE]
    assert [(j["action"], j["roleName"]) for j in tenant.journal_lines()[-3:]] == [
        ("assign", "Billing Administrator"), ("assign", "Service Support Administrator"),
        ("revoke", "Billing Administrator")]


def test_assign_a_held_role_is_a_no_op_said_so(tenant: Tenant) -> None:
    tenant.create("alice", "billing")
    journal = tenant.journal_lines()
    result = tenant.ok("roles", "assign", ALICE, "billing", "--yes")
    assert result.stdout == ""
    # `users create --role` granted it through PIM (the tenant has P2): active permanent, not outside PIM.
    assert result.stderr == TARGET + (f"{ALICE} already holds Billing Administrator (active permanent);"
                                      " nothing to assign\n"
                                      "No changes. The tenant already matches.\n")
    assert tenant.journal_lines() == journal


def test_revoke_a_role_not_held_is_a_no_op(tenant: Tenant) -> None:
    tenant.create("alice")
    result = tenant.ok("roles", "revoke", ALICE, "billing", "--yes")
    assert result.stdout == ""
    assert "No changes. The tenant already matches." in result.stderr


def test_assign_unknown_role(tenant: Tenant) -> None:
    tenant.create("alice")
    journal = tenant.journal_lines()
    result = tenant.run("roles", "assign", ALICE, "nosuch", "--yes")
    assert result.exit_code == 1
    assert "unknown role 'nosuch'" in result.stderr
    assert "global, billing, password, service, user" in result.stderr
    assert tenant.journal_lines() == journal


def test_assign_unknown_user(tenant: Tenant) -> None:
    result = tenant.run("roles", "assign", f"ghost@{DOMAIN}", "billing", "--yes")
    assert result.exit_code == 1
    assert f"ghost@{DOMAIN}" in result.stderr
    assert tenant.members("billing") == []


def test_assign_needs_user_and_role(tenant: Tenant) -> None:
    result = tenant.run("roles", "assign", ALICE, "--yes")
    assert result.exit_code == 64
    assert "name a user and at least one role" in result.stderr


def test_revoke_last_global_admin_refused(tenant: Tenant) -> None:
    before = tenant.snapshot()
    result = tenant.run("roles", "revoke", ADMIN, "global", "--yes")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr == TARGET + (
        "Error: refused (1 problem); nothing was written:\n"
        "  - this plan would leave the tenant without an active Global Administrator "
        f"(revoke Global Administrator from {ADMIN}); "
        "assign Global Administrator to another active user first: provisioner roles assign USER global\n")
    assert tenant.snapshot() == before
    assert tenant.journal_lines() == []


def test_revoke_global_when_another_holder_exists(tenant: Tenant) -> None:
    tenant.create("alice", "global")
    tenant.ok("roles", "revoke", ADMIN, "Company Administrator", "--yes")
    assert tenant.members("global") == [ALICE]


def test_assign_dry_run_writes_nothing(tenant: Tenant) -> None:
    tenant.create("alice")
    before, journal = tenant.snapshot(), tenant.journal_lines()
    result = tenant.ok("roles", "assign", ALICE, "global", "--dry-run")
    assert f"+ role Global Administrator -> {ALICE}" in result.stdout
    assert result.stderr.endswith("Dry run: nothing was written.\n")
    assert tenant.snapshot() == before
    assert tenant.journal_lines() == journal


def test_assign_adds_without_a_prompt_and_revoke_asks(tenant: Tenant) -> None:
    """As peers do: adding needs no confirmation; removing needs one (--yes without a terminal)."""
    tenant.create("alice")
    assert tenant.run("roles", "assign", ALICE, "global").exit_code == 0
    before = tenant.snapshot()
    result = tenant.run("roles", "revoke", ALICE, "global")
    assert result.exit_code == 64
    assert result.stderr.endswith(
        "Error: not applied: no terminal to confirm on; re-run with --yes to apply this plan\n")
    assert tenant.snapshot() == before


def test_confirm_always_asks_even_for_an_assign(tenant: Tenant) -> None:
    tenant.create("alice")
    tenant.config.write_text('[safety]\nconfirm = "always"\n[execution]\njournal = "journal.jsonl"\n',
                             encoding="utf-8")
    before = tenant.snapshot()
    assert tenant.run("roles", "assign", ALICE, "billing").exit_code == 64
    assert tenant.snapshot() == before


def test_assign_with_the_arguments_swapped_explains_the_order(tenant: Tenant) -> None:
    result = tenant.run("roles", "assign", "global", ALICE, "--yes")
    assert result.exit_code == 64
    assert result.stderr.splitlines()[-1] == (
        f"Error: the user comes first, then the roles: provisioner roles assign {ALICE} global")
