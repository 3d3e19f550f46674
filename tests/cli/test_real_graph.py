"""The product against behaviours of real Graph the local tenant now shows always (graph-quirks
§1, §2, §4, §6; graph-facts §7.3): each of these failed before the product coped."""

from __future__ import annotations

import re
import sqlite3

from cli_tenant import ADMIN, DOMAIN, Tenant

GA = "62e90394-69f5-4237-9190-012177145e10"
DOLLAR = f"$svc#01@{DOMAIN}"
BATCH_ITEM_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/\d+"


def test_a_role_never_instantiated_has_no_holders(tenant: Tenant) -> None:
    # Billing Administrator was never assigned in this tenant: Graph lists its assignments as 404.
    assert tenant.members("billing") == []
    assert tenant.json("users", "list", "--role", "billing") == []
    assert {r["alias"]: r["holders"] for r in tenant.json("roles", "list")} == {
        "global": 1, "billing": 0, "password": 0, "service": 0, "user": 0}
    alice = tenant.create("alice", "billing")
    assert tenant.members("billing") == [alice]
    assert [u["userPrincipalName"] for u in tenant.json("users", "list", "--role", "billing")] == [alice]


def test_no_global_administrator_ever_is_no_holders(tenant: Tenant) -> None:
    """A tenant where Global Administrator was never instantiated: every read of its holders (the
    guardrails' GA read, the re-check before a GA-removing write, audit) takes 404 as none."""
    alice = tenant.create("alice")
    with sqlite3.connect(tenant.state) as db:
        db.execute("DELETE FROM role_assignments WHERE role_definition_id = ?", (GA,))
        db.execute("DELETE FROM instantiated_roles WHERE role_definition_id = ?", (GA,))
    assert tenant.members("global") == []
    result = tenant.ok("users", "delete", alice, "--yes")
    assert "Applied 1 of 1 change(s)" in result.stderr
    assert tenant.json("users", "show", ADMIN)["roles"] == []
    assert tenant.json("audit")["roles"][0]["holderCount"] == 0


def test_dollar_upn_end_to_end(tenant: Tenant) -> None:
    tenant.create("$svc#01")
    shown = tenant.json("users", "show", DOLLAR)
    assert shown["userPrincipalName"] == DOLLAR
    assert tenant.ok("users", "delete", DOLLAR, "--yes").exit_code == 0
    assert DOLLAR not in tenant.users() and DOLLAR in tenant.deleted()
    assert tenant.ok("users", "restore", DOLLAR, "--yes").exit_code == 0
    assert tenant.json("users", "show", DOLLAR)["id"] == shown["id"]
    tenant.ok("users", "delete", DOLLAR, "--yes")
    tenant.ok("users", "purge", DOLLAR, "--yes")
    assert DOLLAR not in tenant.deleted()


def test_roles_privileged_come_from_the_catalog(tenant: Tenant) -> None:
    """v1.0 role definitions carry no isPrivileged: the catalog says which roles are privileged."""
    rows = {r["displayName"]: r["isPrivileged"] for r in tenant.json("roles", "list", "--all")}
    assert (rows["Global Administrator"], rows["Helpdesk Administrator"], rows["Security Administrator"],
            rows["Billing Administrator"], rows["Message Center Reader"]) == (True, True, True, False, False)


def test_plan_audit_and_deleted_list_never_send_top_to_role_definitions(tenant: Tenant) -> None:
    # The local tenant refuses $top on roleDefinitions as Graph does: these would fail if sent.
    tenant.create("alice", "password")
    assert tenant.json("deleted", "list") == []
    assert tenant.json("audit")["roles"][0]["roleName"] == "Global Administrator"
    assert tenant.ok("roles", "list", "--all").exit_code == 0


def test_batched_writes_are_journaled_with_the_batch_request_id_and_item_id(tenant: Tenant) -> None:
    """Items of a $batch carry no request-id (graph-quirks §3): the journal names the batch's
    request-id and the item's id, which is what Microsoft support can trace."""
    tenant.create("alice", "billing")
    tenant.ok("users", "delete", f"alice@{DOMAIN}", "--yes")
    journal = tenant.journal_lines()
    assert [j["action"] for j in journal] == ["create", "assign", "delete"]
    for line in journal:
        assert re.fullmatch(BATCH_ITEM_ID, line["requestId"]), line
    assert len({j["requestId"] for j in journal}) == 3
