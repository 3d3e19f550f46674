"""Real Graph behaviours the local tenant answers always, as the live service does
(graph-quirks §1, §2, §4, §6; graph-facts §7.3)."""

from __future__ import annotations

import pytest
from graph_kit import DOMAIN, assert_error, create, new_user

BASE = "/v1.0/roleManagement/directory"
GA, HELPDESK, BILLING = (
    "62e90394-69f5-4237-9190-012177145e10",
    "729827e3-9c14-49f7-bb1b-9608f156bbb8",
    "b0f54661-2d74-4c50-afa3-1ec803f12efe",
)
NOT_A_ROLE = "0997a1d0-0d1d-4acb-b408-d5ca73121e90"


def not_found(key: str) -> str:
    return f"Resource '{key}' does not exist or one of its queried reference-property objects are not present."


# -- §1: roleDefinitions takes no $top ------------------------------------------------------------


@pytest.mark.parametrize("top,message", [
    ("1", "This resource requires a minimum page size of 20."),
    ("19", "This resource requires a minimum page size of 20."),
    ("0", "This resource requires a minimum page size of 20."),
    ("20", "Invalid/unsupported query request"),
    ("999", "Invalid/unsupported query request"),
])
def test_role_definitions_refuse_top(client, top, message):
    resp = client.get(f"{BASE}/roleDefinitions", params={"$select": "id", "$top": top})
    assert_error(resp, 400, "Request_UnsupportedQuery", message)


def test_role_definitions_without_top_come_whole(client):
    body = client.get(f"{BASE}/roleDefinitions", params={"$select": "id"}).json()
    assert len(body["value"]) == 43 and "@odata.nextLink" not in body


def test_role_definitions_never_carry_is_privileged(client):
    one = client.get(f"{BASE}/roleDefinitions/{GA}").json()
    assert "isPrivileged" not in one and one["displayName"] == "Global Administrator"
    # v1.0's schema does not declare it: refused as Graph refuses an undeclared property.
    assert_error(client.get(f"{BASE}/roleDefinitions", params={"$select": "id,isPrivileged"}), 400, "BadRequest")
    assert_error(client.get(f"{BASE}/roleDefinitions", params={"$filter": "isPrivileged eq true"}), 400,
                 "Request_UnsupportedQuery")


# -- §2: a role the tenant never instantiated -----------------------------------------------------


def by_role(client, role: str, **extra):
    return client.get(f"{BASE}/roleAssignments", params={"$filter": f"roleDefinitionId eq '{role}'", **extra})


def test_never_instantiated_role_is_404_until_its_first_assignment_and_after_its_last(client):
    assert [a["roleDefinitionId"] for a in by_role(client, GA).json()["value"]] == [GA]  # instantiated at creation
    for extra in ({}, {"$expand": "principal"}):
        assert_error(by_role(client, HELPDESK, **extra), 404, "Request_ResourceNotFound", not_found(HELPDESK))
    assert_error(by_role(client, NOT_A_ROLE), 404, "Request_ResourceNotFound", not_found(NOT_A_ROLE))
    # The same role inside a larger filter, in any case.
    user = create(client, "ann")
    both = client.get(f"{BASE}/roleAssignments", params={
        "$filter": f"principalId eq '{user['id']}' and roleDefinitionId eq '{HELPDESK.upper()}'"})
    assert_error(both, 404, "Request_ResourceNotFound")
    # Unfiltered and principal-filtered listings are not affected.
    assert client.get(f"{BASE}/roleAssignments").status_code == 200
    assert client.get(f"{BASE}/roleAssignments", params={"$filter": f"principalId eq '{user['id']}'"}).json()[
        "value"] == []

    body = {"principalId": user["id"], "roleDefinitionId": HELPDESK, "directoryScopeId": "/"}
    assignment = client.post(f"{BASE}/roleAssignments", json=body).json()
    assert [a["principalId"] for a in by_role(client, HELPDESK).json()["value"]] == [user["id"]]
    assert client.delete(f"{BASE}/roleAssignments/{assignment['id']}").status_code == 204
    # Instantiated once, it stays: no holders is an empty list now.
    assert by_role(client, HELPDESK).json()["value"] == []
    assert_error(by_role(client, BILLING), 404, "Request_ResourceNotFound")


def test_expand_principal_is_404_when_a_matching_principal_is_deleted(client):
    ann, bob = create(client, "ann"), create(client, "bob")
    for user in (ann, bob):
        body = {"principalId": user["id"], "roleDefinitionId": HELPDESK, "directoryScopeId": "/"}
        assert client.post(f"{BASE}/roleAssignments", json=body).status_code == 201
    assert client.delete(f"/v1.0/users/{bob['id']}").status_code == 204
    # One dangling assignment hides the live ones when principals are expanded...
    assert_error(by_role(client, HELPDESK, **{"$expand": "principal"}), 404, "Request_ResourceNotFound",
                 not_found(bob["id"]))
    # ...but not without $expand, nor for a role the deleted user does not hold.
    assert [a["principalId"] for a in by_role(client, HELPDESK).json()["value"]] == [ann["id"]]
    assert len(by_role(client, GA, **{"$expand": "principal"}).json()["value"]) == 1
    assert client.post(f"/v1.0/directory/deletedItems/{bob['id']}/restore").status_code == 200
    assert len(by_role(client, HELPDESK, **{"$expand": "principal"}).json()["value"]) == 2


# -- §4: $ in a userPrincipalName -----------------------------------------------------------------


def test_dollar_upn_is_accepted_and_addressed_by_key(client):
    upn = f"$svc#01@{DOMAIN}"
    created = client.post("/v1.0/users", json=new_user("svc", userPrincipalName=upn))
    assert created.status_code == 201, created.text
    uid = created.json()["id"]
    # /users/$... breaks the OData URL convention: Graph answers 400 (observed message).
    assert_error(client.get(f"/v1.0/users/%24svc%2301@{DOMAIN}"), 400, "BadRequest",
                 "The request URI is not valid. Since the segment 'users' refers to a collection, this must be the "
                 "last segment in the request URI or it must be followed by an function or action that can be "
                 "bound to it otherwise all intermediate segments must refer to a single resource.")
    key = f"/v1.0/users('%24svc%2301%40{DOMAIN}')"
    got = client.get(key, params={"$select": "id,userPrincipalName"})
    assert got.json()["id"] == uid and got.json()["userPrincipalName"] == upn
    assert client.patch(key, json={"jobTitle": "Robot"}).status_code == 204
    assert client.get(f"/v1.0/users/{uid}", params={"$select": "jobTitle"}).json()["jobTitle"] == "Robot"
    # A quote inside the key is doubled, as OData literals are.
    quoted = f"o'neil@{DOMAIN}"
    assert client.post("/v1.0/users", json=new_user("oneil", userPrincipalName=quoted)).status_code == 201
    assert client.get(f"/v1.0/users('o''neil@{DOMAIN}')").json()["userPrincipalName"] == quoted
    assert_error(client.get("/v1.0/users('unquoted)"), 400, "BadRequest")
    assert client.delete(key).status_code == 204
    assert_error(client.get(key), 404, "Request_ResourceNotFound")


# -- §6: at most 15 `or` clauses (and `in` values) in a filter --------------------------------------


def too_many(n: int) -> str:
    return (f"Too many child clauses specified in search filter expression containing 'OR' operators: {n}. "
            "Max allowed: 15.")


@pytest.mark.parametrize("n", [15, 16, 18])
def test_or_clauses_and_in_values_are_capped_at_15(client, n):
    upns = [f"u{i}@{DOMAIN}" for i in range(n)]
    ors = " or ".join(f"userPrincipalName eq '{u}'" for u in upns)
    ins = "userPrincipalName in (" + ",".join(f"'{u}'" for u in upns) + ")"
    for flt in (ors, ins, f"accountEnabled eq true and ({ors})"):
        resp = client.get("/v1.0/users", params={"$filter": flt})
        if n <= 15:
            assert resp.status_code == 200, resp.text
        else:
            assert_error(resp, 400, "Request_UnsupportedQuery", too_many(n))
    ids = " or ".join(f"principalId eq '{i:08d}-0000-0000-0000-000000000000'" for i in range(n))
    resp = client.get(f"{BASE}/roleAssignments", params={"$filter": ids})
    assert resp.status_code == (200 if n <= 15 else 400)
