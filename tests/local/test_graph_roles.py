"""Role definitions and role assignments under /roleManagement/directory."""

from __future__ import annotations

import base64
import uuid

import pytest
from graph_kit import assert_error, create

BASE = "/v1.0/roleManagement/directory"
CLASSIC = {
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
    "b0f54661-2d74-4c50-afa3-1ec803f12efe": "Billing Administrator",
    "729827e3-9c14-49f7-bb1b-9608f156bbb8": "Helpdesk Administrator",
    "f023fd81-a637-4b56-95fd-791ac0226033": "Service Support Administrator",
    "fe930be7-5e62-47db-91af-98c3a49a38b1": "User Administrator",
    "966707d0-3269-4727-9be2-8c3a10f19b9d": "Password Administrator",
    "e8611ab8-c189-46e8-94e1-60213ab1f814": "Privileged Role Administrator",
}
GA, HELPDESK, BILLING = (
    "62e90394-69f5-4237-9190-012177145e10",
    "729827e3-9c14-49f7-bb1b-9608f156bbb8",
    "b0f54661-2d74-4c50-afa3-1ec803f12efe",
)


def test_role_definitions_include_builtins(client):
    body = client.get(f"{BASE}/roleDefinitions").json()
    assert (
        body["@odata.context"]
        == "https://graph.microsoft.com/v1.0/$metadata#roleManagement/directory/roleDefinitions"
    )
    by_id = {d["id"]: d for d in body["value"]}
    assert len(by_id) >= 40
    for rid, name in CLASSIC.items():
        assert by_id[rid]["displayName"] == name and by_id[rid]["templateId"] == rid
    helpdesk = by_id[HELPDESK]
    assert (
        helpdesk["description"] == "Can reset passwords for non-administrators and Helpdesk Administrators."
    )
    assert (helpdesk["isBuiltIn"], helpdesk["isEnabled"], helpdesk["version"]) == (True, True, "1")
    # isPrivileged is a beta property: v1.0's schema does not declare it, so v1.0 never answers it.
    assert "isPrivileged" not in helpdesk
    assert (
        "microsoft.directory/users/password/update"
        in helpdesk["rolePermissions"][0]["allowedResourceActions"]
    )
    # isPrivileged is a beta property: v1.0 never returns it (graph-facts §7.3).
    assert not any("isPrivileged" in d for d in body["value"])
    names = [d["displayName"] for d in body["value"]]
    assert names == sorted(names, key=str.lower)


@pytest.mark.parametrize(
    "flt,expected",
    [
        ("displayName eq 'helpdesk administrator'", [HELPDESK]),
        (f"id eq '{GA}'", [GA]),
        (f"templateId in ('{GA}','{BILLING}')", [BILLING, GA]),
        ("displayName in ('Billing Administrator','Global Administrator')", [BILLING, GA]),
    ],
)
def test_role_definition_filters(client, flt, expected):
    body = client.get(f"{BASE}/roleDefinitions", params={"$filter": flt, "$select": "id"}).json()
    assert body["value"] == [{"id": i} for i in expected]


def test_role_definition_filter_is_builtin_and_get(client):
    builtins = client.get(f"{BASE}/roleDefinitions?$filter=isBuiltIn eq true").json()["value"]
    assert len(builtins) >= 40
    assert client.get(f"{BASE}/roleDefinitions?$filter=isBuiltIn eq false").json()["value"] == []
    one = client.get(f"{BASE}/roleDefinitions/{GA}").json()
    assert one["@odata.context"].endswith("#roleManagement/directory/roleDefinitions/$entity")
    assert one["displayName"] == "Global Administrator"
    assert_error(
        client.get(f"{BASE}/roleDefinitions/00000000-0000-0000-0000-000000000000"),
        404,
        "Request_ResourceNotFound",
    )


def assign(client, role: str, principal: str, **extra):
    return client.post(
        f"{BASE}/roleAssignments",
        json={
            "@odata.type": "#microsoft.graph.unifiedRoleAssignment",
            "roleDefinitionId": role,
            "principalId": principal,
            "directoryScopeId": "/",
            **extra,
        },
    )


def test_create_assignment_201_with_graph_shaped_id(client):
    user = create(client, "assignee")
    resp = assign(client, HELPDESK, user["id"])
    assert resp.status_code == 201
    body = resp.json()
    raw = uuid.UUID(HELPDESK).bytes_le + uuid.UUID(user["id"]).bytes_le
    expected_id = base64.urlsafe_b64encode(raw).decode().rstrip("=") + "-1"
    assert body == {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#roleManagement/directory/roleAssignments/$entity",
        "id": expected_id,
        "principalId": user["id"],
        "directoryScopeId": "/",
        "roleDefinitionId": HELPDESK,
    }
    got = client.get(f"{BASE}/roleAssignments/{expected_id}").json()
    assert got["principalId"] == user["id"]


def test_assignment_to_a_principal_named_by_upn_holds_its_object_id(client):
    user = create(client, "byname")
    body = assign(client, BILLING, user["userPrincipalName"].upper()).json()
    assert body["principalId"] == user["id"]
    listed = client.get(f"{BASE}/roleAssignments", params={"$filter": f"principalId eq '{user['id']}'"}).json()
    assert [a["id"] for a in listed["value"]] == [body["id"]]


def test_duplicate_assignment_is_conflict(client):
    user = create(client, "twice")
    assert assign(client, BILLING, user["id"]).status_code == 201
    assert_error(
        assign(client, BILLING, user["id"]),
        400,
        "Request_BadRequest",
        "A conflicting object with one or more of the specified property values is present in the directory.",
    )


def test_assignment_validation(client):
    user = create(client, "val")
    missing = "00000000-0000-0000-0000-0000000000aa"
    assert_error(
        assign(client, HELPDESK, missing),
        404,
        "Request_ResourceNotFound",
        f"Resource '{missing}' does not exist or one of its queried reference-property objects are not "
        "present.",
    )
    assert_error(assign(client, missing, user["id"]), 404, "Request_ResourceNotFound")
    no_scope = client.post(
        f"{BASE}/roleAssignments", json={"roleDefinitionId": HELPDESK, "principalId": user["id"]}
    )
    assert_error(
        no_scope, 400, "Request_BadRequest", "Either directoryScopeId or appScopeId must be specified."
    )
    no_role = client.post(
        f"{BASE}/roleAssignments", json={"principalId": user["id"], "directoryScopeId": "/"}
    )
    assert_error(
        no_role,
        400,
        "Request_BadRequest",
        "A value is required for property 'roleDefinitionId' of resource 'UnifiedRoleAssignment'.",
    )
    assert_error(assign(client, HELPDESK, user["id"], bogus=1), 400, "BadRequest")
    au_scope = assign(client, HELPDESK, user["id"], directoryScopeId="/administrativeUnits/" + missing)
    assert_error(au_scope, 404, "Request_ResourceNotFound")
    client.delete(f"/v1.0/users/{user['id']}")
    assert_error(assign(client, HELPDESK, user["id"]), 404, "Request_ResourceNotFound")


def test_list_filter_expand_select(client):
    a, b = create(client, "aa", displayName="Aa"), create(client, "bb", displayName="Bb")
    for user, role in ((a, HELPDESK), (a, BILLING), (b, HELPDESK)):
        assert assign(client, role, user["id"]).status_code == 201
    by_principal = client.get(
        f"{BASE}/roleAssignments", params={"$filter": f"principalId eq '{a['id']}'"}
    ).json()
    assert sorted(x["roleDefinitionId"] for x in by_principal["value"]) == sorted([HELPDESK, BILLING])
    by_role = client.get(
        f"{BASE}/roleAssignments",
        params={"$filter": f"roleDefinitionId eq '{HELPDESK}'", "$expand": "principal"},
    ).json()
    principals = sorted(
        (x["principal"]["@odata.type"], x["principal"]["displayName"]) for x in by_role["value"]
    )
    assert principals == [("#microsoft.graph.user", "Aa"), ("#microsoft.graph.user", "Bb")]
    both = client.get(
        f"{BASE}/roleAssignments",
        params={
            "$filter": f"principalId eq '{b['id']}' and roleDefinitionId eq '{HELPDESK}'",
            "$select": "id,principalId",
            "$expand": "roleDefinition",
        },
    ).json()
    assert both["@odata.context"].endswith("#roleManagement/directory/roleAssignments(id,principalId)")
    [item] = both["value"]
    assert set(item) == {"id", "principalId", "roleDefinition"}
    assert item["roleDefinition"]["displayName"] == "Helpdesk Administrator"
    # Graph's OData layer answers an undeclared navigation property (code BadRequest, not Request_*).
    assert_error(
        client.get(f"{BASE}/roleAssignments?$expand=owner"),
        400,
        "BadRequest",
        "Parsing OData Select and Expand failed: Could not find a property named 'owner' on type "
        "'microsoft.graph.unifiedRoleAssignment'.",
    )


def test_list_pages(client):
    for i in range(5):
        assign(client, HELPDESK, create(client, f"p{i}")["id"])
    url, ids = f"{BASE}/roleAssignments?$top=2", []
    while url:
        body = client.get(url).json()
        ids += [x["id"] for x in body["value"]]
        url = body.get("@odata.nextLink")
    assert len(ids) == len(set(ids)) == 6


def test_delete_assignment(client):
    user = create(client, "rm")
    aid = assign(client, HELPDESK, user["id"]).json()["id"]
    resp = client.delete(f"{BASE}/roleAssignments/{aid}")
    assert resp.status_code == 204 and resp.content == b""
    assert_error(client.get(f"{BASE}/roleAssignments/{aid}"), 404, "Request_ResourceNotFound")
    assert_error(client.delete(f"{BASE}/roleAssignments/{aid}"), 404, "Request_ResourceNotFound")


def test_last_global_administrator_can_be_removed_as_in_graph(client):
    [only] = client.get(f"{BASE}/roleAssignments", params={"$filter": f"roleDefinitionId eq '{GA}'"}).json()[
        "value"
    ]
    assert client.delete(f"{BASE}/roleAssignments/{only['id']}").status_code == 204
    assert (
        client.get(f"{BASE}/roleAssignments", params={"$filter": f"roleDefinitionId eq '{GA}'"}).json()[
            "value"
        ]
        == []
    )
