"""Soft delete, deleted items, restore, permanent delete and the 30-day window."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from graph_kit import DOMAIN, assert_error, create

from provisioner.local.tenant import add_domain, advance_clock, tenant_now

EVENTUAL = {"ConsistencyLevel": "eventual"}
GA = "62e90394-69f5-4237-9190-012177145e10"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"


@pytest.fixture
def deleted(client):
    """A user with a role assignment, then soft-deleted."""
    user = create(client, "del", mail=f"del@{DOMAIN}", jobTitle="Clerk")
    resp = client.post(
        "/v1.0/roleManagement/directory/roleAssignments",
        json={"roleDefinitionId": USER_ADMIN, "principalId": user["id"], "directoryScopeId": "/"},
    )
    assert resp.status_code == 201
    assert client.delete(f"/v1.0/users/{user['id']}").status_code == 204
    return user


def test_deleted_user_listed_with_rewritten_upn(client, state, deleted):
    body = client.get("/v1.0/directory/deletedItems/microsoft.graph.user").json()
    assert body["@odata.context"] == (
        "https://graph.microsoft.com/v1.0/$metadata#directory/deletedItems/microsoft.graph.user"
    )
    [item] = body["value"]
    assert item["@odata.type"] == "#microsoft.graph.user"
    assert item["id"] == deleted["id"]
    assert item["userPrincipalName"] == deleted["id"].replace("-", "") + f"del@{DOMAIN}"
    stamp = datetime.strptime(item["deletedDateTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert timedelta(0) <= tenant_now(state) - stamp < timedelta(minutes=1)
    assert item["jobTitle"] == "Clerk"
    alias = client.get("/v1.0/directory/deletedItems/graph.user").json()
    assert alias["value"] == body["value"]


def test_deleted_user_is_gone_from_users_and_assignments(client, deleted):
    assert client.get(f"/v1.0/users/{deleted['id']}").status_code == 404
    assert client.get(f"/v1.0/users/del@{DOMAIN}").status_code == 404
    listed = client.get(
        f"/v1.0/roleManagement/directory/roleAssignments?$filter=principalId eq '{deleted['id']}'"
    )
    assert listed.json()["value"] == []


def test_bare_deleted_items_is_refused(client):
    assert_error(
        client.get("/v1.0/directory/deletedItems"),
        400,
        "Request_UnsupportedQuery",
        "Searches against this resource are not supported. Only specific instances can be queried.",
    )


def test_deleted_list_query_options(client):
    for alias in ("a1", "b2", "c3"):
        uid = create(client, alias)["id"]
        client.delete(f"/v1.0/users/{uid}")
        advance_clock(client.app.state.store.path, timedelta(hours=1))
    url = "/v1.0/directory/deletedItems/microsoft.graph.user"
    selected = client.get(url + "?$select=id,deletedDateTime").json()
    assert selected["@odata.context"].endswith("microsoft.graph.user(id,deletedDateTime)")
    assert all(set(v) == {"@odata.type", "id", "deletedDateTime"} for v in selected["value"])
    flt = {"$filter": f"endswith(userPrincipalName,'b2@{DOMAIN}')"}
    assert_error(client.get(url, params=flt), 400, "Request_UnsupportedQuery")
    hit = client.get(url, params={**flt, "$count": "true"}, headers=EVENTUAL).json()
    assert hit["@odata.count"] == 1 and hit["value"][0]["displayName"] == "B2"
    order = {"$orderby": "deletedDateTime desc", "$select": "displayName"}
    assert_error(
        client.get(url, params=order),
        400,
        "Request_UnsupportedQuery",
        "Sorting not supported for current query.",
    )
    newest = client.get(url, params={**order, "$count": "true", "$top": "2"}, headers=EVENTUAL).json()
    assert [v["displayName"] for v in newest["value"]] == ["C3", "B2"]
    rest = client.get(newest["@odata.nextLink"], headers=EVENTUAL).json()
    assert [v["displayName"] for v in rest["value"]] == ["A1"] and "@odata.nextLink" not in rest
    assert_error(client.get(url + "?$top=1000"), 400, "Request_BadRequest")


def test_get_deleted_item(client, deleted):
    body = client.get(f"/v1.0/directory/deletedItems/{deleted['id']}").json()
    assert body["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#directoryObjects/$entity"
    assert body["@odata.type"] == "#microsoft.graph.user"
    assert body["id"] == deleted["id"] and body["deletedDateTime"].endswith("Z")
    active = client.get("/v1.0/users").json()["value"][0]["id"]
    assert_error(client.get(f"/v1.0/directory/deletedItems/{active}"), 404, "Request_ResourceNotFound")


def test_restore_brings_back_everything(client, deleted):
    resp = client.post(f"/v1.0/directory/deletedItems/{deleted['id']}/restore")
    assert resp.status_code == 200
    body = resp.json()
    assert body["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#directoryObjects/$entity"
    assert body["@odata.type"] == "#microsoft.graph.user"
    assert body["userPrincipalName"] == f"del@{DOMAIN}" and body["jobTitle"] == "Clerk"
    assert body["mail"] == f"del@{DOMAIN}"
    got = client.get(f"/v1.0/users/del@{DOMAIN}?$select=id,deletedDateTime").json()
    assert got["id"] == deleted["id"] and got["deletedDateTime"] is None
    roles = client.get(
        f"/v1.0/roleManagement/directory/roleAssignments?$filter=principalId eq '{deleted['id']}'"
    )
    assert [a["roleDefinitionId"] for a in roles.json()["value"]] == [USER_ADMIN]
    assert client.get("/v1.0/directory/deletedItems/microsoft.graph.user").json()["value"] == []


def test_restore_onto_taken_upn_needs_new_upn(client, state, deleted):
    create(client, "del")
    err = assert_error(
        client.post(f"/v1.0/directory/deletedItems/{deleted['id']}/restore", json={}),
        400,
        "Request_BadRequest",
    )
    assert err["details"] == [{"target": "userPrincipalName", "code": "ObjectConflict"}]
    bad_domain = client.post(
        f"/v1.0/directory/deletedItems/{deleted['id']}/restore",
        json={"newUserPrincipalName": "del2@unverified.com"},
    )
    assert_error(bad_domain, 400, "Request_BadRequest")
    add_domain(state, "fabrikam.com")
    ok = client.post(
        f"/v1.0/directory/deletedItems/{deleted['id']}/restore",
        json={"newUserPrincipalName": "del2@fabrikam.com", "autoReconcileProxyConflict": True},
    )
    assert ok.status_code == 200 and ok.json()["userPrincipalName"] == "del2@fabrikam.com"


def test_restore_with_mail_conflict_and_auto_reconcile(client, deleted):
    create(client, "other", mail=f"DEL@{DOMAIN}")
    url = f"/v1.0/directory/deletedItems/{deleted['id']}/restore"
    err = assert_error(client.post(url), 400, "Request_BadRequest")
    assert err["details"][0] == {"target": "proxyAddresses", "code": "ObjectConflict"}
    assert_error(client.post(url, json={"autoReconcileProxyConflict": "yes"}), 400, "Request_BadRequest")
    ok = client.post(url, json={"autoReconcileProxyConflict": True})
    assert ok.status_code == 200 and ok.json()["mail"] is None


def test_restore_unknown_is_404(client):
    missing = "11111111-2222-3333-4444-555555555555"
    assert_error(
        client.post(f"/v1.0/directory/deletedItems/{missing}/restore"),
        404,
        "Request_ResourceNotFound",
        f"Resource '{missing}' does not exist or one of its queried reference-property objects are not "
        "present.",
    )


def test_permanent_delete(client, deleted, state):
    assert client.delete(f"/v1.0/directory/deletedItems/{deleted['id']}").status_code == 204
    assert_error(client.get(f"/v1.0/directory/deletedItems/{deleted['id']}"), 404, "Request_ResourceNotFound")
    assert_error(
        client.delete(f"/v1.0/directory/deletedItems/{deleted['id']}"), 404, "Request_ResourceNotFound"
    )
    with sqlite3.connect(state) as db:
        assert db.execute(
            "SELECT COUNT(*) FROM role_assignments WHERE principal_id = ?", (deleted["id"],)
        ).fetchone() == (0,)


def test_active_user_cannot_be_purged(client):
    user = create(client, "alive")
    assert_error(client.delete(f"/v1.0/directory/deletedItems/{user['id']}"), 404, "Request_ResourceNotFound")


def test_thirty_day_window(client, state, deleted):
    advance_clock(state, timedelta(days=29, hours=23))
    assert client.get(f"/v1.0/directory/deletedItems/{deleted['id']}").status_code == 200
    before = tenant_now(state)
    after = advance_clock(state, timedelta(hours=2))
    assert after - before >= timedelta(hours=2) and after.tzinfo is not None
    assert_error(client.get(f"/v1.0/directory/deletedItems/{deleted['id']}"), 404, "Request_ResourceNotFound")
    assert client.get("/v1.0/directory/deletedItems/microsoft.graph.user").json()["value"] == []
    assert_error(
        client.post(f"/v1.0/directory/deletedItems/{deleted['id']}/restore"), 404, "Request_ResourceNotFound"
    )
