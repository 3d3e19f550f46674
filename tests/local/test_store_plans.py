"""Lookups by id use the keys: every statement the hot paths run is checked with EXPLAIN QUERY PLAN.

And a tenant file of the previous schema (ids compared case-insensitively) is migrated once on open.
"""

from __future__ import annotations

import re
import sqlite3

import pytest
from graph_kit import create
from starlette.testclient import TestClient

from provisioner.local.graph_app import graph_app
from provisioner.local.store import SCHEMA_VERSION, Store, iso
from provisioner.local.tenant import init_tenant, tenant_now

BILLING = "b0f54661-2d74-4c50-afa3-1ec803f12efe"
ASSIGNMENTS = "/v1.0/roleManagement/directory/roleAssignments"
# A search whose only constraint is the deleted state walks every active (or deleted) user.
_STATE_ONLY = re.compile(r"\((deleted[=<>]\?( AND deleted[=<>]\?)?)\)$")


def full_scans(conn: sqlite3.Connection, statements: list[str]) -> list[tuple[str, str]]:
    """(statement, plan step) for every step that reads a whole table or all users of one state:
    a SCAN (but of the small partial index of deleted users), or a SEARCH on the state alone."""
    found = []
    for sql in statements:
        if sql.lstrip().split(None, 1)[0].upper() not in ("SELECT", "UPDATE", "DELETE"):
            continue
        for row in conn.execute("EXPLAIN QUERY PLAN " + sql):
            step = row[3]
            if step.startswith("SCAN ") and "deleted_users_by_id" not in step:
                found.append((sql, step))
            elif step.startswith("SEARCH ") and _STATE_ONLY.search(step) and "deleted<?" not in step:
                found.append((sql, step))
    return found


@pytest.fixture
def traced(tmp_path):
    """A client on a 50-user tenant, and the list the store's connection logs its statements into."""
    state = tmp_path / "t.db"
    init_tenant(state, seed_users=50, seed=3)
    app = graph_app(state)
    statements: list[str] = []
    with TestClient(app, base_url="http://local.tenant") as client:
        app.state.store.conn.set_trace_callback(statements.append)
        yield client, statements, app.state.store.conn
    app.state.store.close()


def test_hot_paths_seek_by_key(traced):
    client, statements, conn = traced
    user = create(client, "ada")
    upper = user["id"].upper()
    assert client.get(f"/v1.0/users/{upper}").json()["id"] == user["id"]
    assert client.get("/v1.0/users/ada@contoso.onmicrosoft.com").status_code == 200
    assert client.patch(f"/v1.0/users/{upper}", json={"jobTitle": "Analyst"}).status_code == 204
    resp = client.post(ASSIGNMENTS, json={"principalId": upper, "roleDefinitionId": BILLING.upper(),
                                          "directoryScopeId": "/"})
    assert resp.status_code == 201, resp.text
    assert resp.json()["principalId"] == user["id"]
    listed = client.get(ASSIGNMENTS, params={"$filter": f"principalId eq '{upper}'", "$expand": "principal"})
    assert [a["principalId"] for a in listed.json()["value"]] == [user["id"]]
    by_role = client.get(ASSIGNMENTS, params={"$filter": f"roleDefinitionId eq '{BILLING.upper()}'"})
    assert [a["principalId"] for a in by_role.json()["value"]] == [user["id"]]
    assert client.get(f"/v1.0/roleManagement/directory/roleDefinitions/{BILLING.upper()}").status_code == 200
    by_id = client.get("/v1.0/users", params={"$filter": f"id in ('{upper}')"})
    assert [u["id"] for u in by_id.json()["value"]] == [user["id"]]
    assert client.delete(f"/v1.0/users/{upper}").status_code == 204
    assert client.get(f"/v1.0/directory/deletedItems/{upper}").status_code == 200
    deleted = client.get("/v1.0/directory/deletedItems/microsoft.graph.user").json()["value"]
    assert [u["id"] for u in deleted] == [user["id"]]
    assert client.post(f"/v1.0/directory/deletedItems/{upper}/restore").status_code == 200
    assert client.delete(f"/v1.0/users/{upper}").status_code == 204
    assert client.delete(f"/v1.0/directory/deletedItems/{upper}").status_code == 204

    assert len(statements) > 20
    assert full_scans(conn, statements) == []


def test_a_user_lookup_by_any_case_seeks_the_primary_key(tmp_path):
    store = Store(tmp_path / "t.db")
    try:
        plan = [row[3] for row in store.conn.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM users WHERE id = ? AND deleted IS NULL", ("x",))]
        assert plan == ["SEARCH users USING INDEX sqlite_autoindex_users_1 (id=?)"]
    finally:
        store.close()


def _schema_1_file(path, deleted_at: str) -> tuple[str, str]:
    """A tenant file as the previous schema could leave it: an upper-case user id, an assignment held
    under it in upper case and one held under a userPrincipalName. Returns (user id, deleted user id)."""
    init_tenant(path)
    uid, gone = "5D4C3B2A-1111-4222-8333-444455556666", "0A0B0C0D-1111-4222-8333-444455556666"
    conn = sqlite3.connect(path)
    with conn:
        for key, upn, deleted in ((uid, "mixed@contoso.onmicrosoft.com", None),
                                  (gone, gone.replace("-", "") + "gone@contoso.onmicrosoft.com",
                                   deleted_at)):
            conn.execute(
                "INSERT INTO users (id, upn, display_name, mail, account_enabled, sync_enabled, created,"
                " deleted, props) VALUES (?, ?, 'Mixed', NULL, 1, NULL, '2026-01-01T00:00:00Z', ?, '{}')",
                (key, upn, deleted),
            )
        for aid, principal, role in (("a-1", uid, BILLING.upper()),
                                     ("a-2", "mixed@contoso.onmicrosoft.com", "fe930be7-5e62-47db-91af-98c3a49a38b1")):
            conn.execute(
                "INSERT INTO role_assignments (id, role_definition_id, principal_id, directory_scope_id,"
                " app_scope_id, created) VALUES (?, ?, ?, '/', NULL, '2026-01-01T00:00:00Z')",
                (aid, role, principal),
            )
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    conn.close()
    return uid, gone


def test_a_schema_1_file_is_migrated_once_on_open(tmp_path):
    path = tmp_path / "old.db"
    uid, gone = _schema_1_file(path, iso(tenant_now(tmp_path / "clock.db")))
    app = graph_app(path)
    try:
        with TestClient(app, base_url="http://local.tenant") as client:
            assert client.get(f"/v1.0/users/{uid}").json()["id"] == uid.lower()
            held = client.get(ASSIGNMENTS, params={"$filter": f"principalId eq '{uid}'"}).json()["value"]
            assert sorted((a["id"], a["roleDefinitionId"]) for a in held) == [
                ("a-1", BILLING), ("a-2", "fe930be7-5e62-47db-91af-98c3a49a38b1")]
            assert {a["principalId"] for a in held} == {uid.lower()}
            deleted = client.get(f"/v1.0/directory/deletedItems/{gone}").json()
            assert deleted["userPrincipalName"] == gone.lower().replace("-", "") + "gone@contoso.onmicrosoft.com"
        with app.state.store.read() as db:
            assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == (SCHEMA_VERSION,)
    finally:
        app.state.store.close()
