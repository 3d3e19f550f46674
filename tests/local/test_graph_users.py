"""POST/GET/PATCH/DELETE /users over HTTP: shapes, validation and errors as Graph answers them."""

from __future__ import annotations

import sqlite3

import pytest
from graph_kit import DOMAIN, PASSWORD, assert_error, create, new_user

from provisioner.local.tenant import add_domain

DEFAULT_KEYS = [
    "@odata.context",
    "id",
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
]


def test_new_tenant_has_admin_with_global_administrator(client):
    users = client.get("/v1.0/users").json()["value"]
    assert [u["userPrincipalName"] for u in users] == [f"admin@{DOMAIN}"]
    assignments = client.get("/v1.0/roleManagement/directory/roleAssignments").json()["value"]
    assert assignments == [
        {
            "id": assignments[0]["id"],
            "principalId": users[0]["id"],
            "directoryScopeId": "/",
            "roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10",
        }
    ]


def test_create_returns_201_default_properties(client):
    resp = client.post(
        "/v1.0/users",
        json=new_user("adelev", displayName="Adele Vance", givenName="Adele", surname="Vance", jobTitle="PM"),
    )
    assert resp.status_code == 201
    body = resp.json()
    assert list(body) == DEFAULT_KEYS
    assert body["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#users/$entity"
    assert body["displayName"] == "Adele Vance"
    assert body["givenName"] == "Adele" and body["surname"] == "Vance" and body["jobTitle"] == "PM"
    assert body["mail"] is None
    assert body["businessPhones"] == []
    assert body["userPrincipalName"] == f"adelev@{DOMAIN}"
    assert len(resp.headers["request-id"]) == 36


def test_create_stores_selectable_properties(client):
    created = create(client, "amy", department="Sales", usageLocation="US", mail=f"amy@{DOMAIN}")
    got = client.get(
        f"/v1.0/users/{created['id']}?$select=accountEnabled,department,usageLocation,mail,"
        "mailNickname,onPremisesSyncEnabled,createdDateTime,passwordProfile"
    ).json()
    assert got["@odata.context"] == (
        "https://graph.microsoft.com/v1.0/$metadata#users(accountEnabled,department,usageLocation,mail,"
        "mailNickname,onPremisesSyncEnabled,createdDateTime,passwordProfile)/$entity"
    )
    assert got["accountEnabled"] is True
    assert (got["department"], got["usageLocation"], got["mail"], got["mailNickname"]) == (
        "Sales",
        "US",
        f"amy@{DOMAIN}",
        "amy",
    )
    assert got["onPremisesSyncEnabled"] is None
    assert got["createdDateTime"].endswith("Z") and len(got["createdDateTime"]) == 20
    assert got["passwordProfile"] is None


def test_password_is_never_stored_or_echoed(client, state):
    resp = client.post("/v1.0/users", json=new_user("secret"))
    assert PASSWORD not in resp.text
    dump = "\n".join(sqlite3.connect(state).iterdump())
    assert PASSWORD not in dump
    bad = client.post("/v1.0/users", json=new_user("weak", passwordProfile={"password": "abcdefgh1"}))
    assert "abcdefgh1" not in bad.text


def test_duplicate_upn_is_object_conflict(client):
    create(client, "dup")
    resp = client.post("/v1.0/users", json=new_user("DUP"))
    err = assert_error(
        resp,
        400,
        "Request_BadRequest",
        "Another object with the same value for property userPrincipalName already exists.",
    )
    assert err["details"] == [{"target": "userPrincipalName", "code": "ObjectConflict"}]


def test_duplicate_mail_is_proxy_conflict(client):
    create(client, "m1", mail=f"shared@{DOMAIN}")
    resp = client.post("/v1.0/users", json=new_user("m2", mail=f"SHARED@{DOMAIN}"))
    err = assert_error(
        resp,
        400,
        "Request_BadRequest",
        "Another object with the same value for property proxyAddresses already exists.",
    )
    assert err["details"][0] == {"target": "proxyAddresses", "code": "ObjectConflict"}


@pytest.mark.parametrize(
    "missing", ["accountEnabled", "displayName", "mailNickname", "passwordProfile", "userPrincipalName"]
)
def test_required_properties(client, missing):
    body = new_user("req")
    del body[missing]
    assert_error(
        client.post("/v1.0/users", json=body),
        400,
        "Request_BadRequest",
        f"A value is required for property '{missing}' of resource 'User'.",
    )


def test_password_required_inside_profile(client):
    body = new_user("nopw", passwordProfile={"forceChangePasswordNextSignIn": True})
    assert_error(
        client.post("/v1.0/users", json=body),
        400,
        "Request_BadRequest",
        "A value is required for property 'passwordProfile.password' of resource 'User'.",
    )


@pytest.mark.parametrize(
    "upn",
    [
        "noat",
        "a@b@" + DOMAIN,
        ".lead@" + DOMAIN,
        "trail.@" + DOMAIN,
        "two..dots@" + DOMAIN,
        "sp ace@" + DOMAIN,
        "acc\u00e9nt@" + DOMAIN,
        "x" * 65 + "@" + DOMAIN,
        "paren(s)@" + DOMAIN,
    ],
)
def test_upn_format_and_characters(client, upn):
    assert_error(
        client.post("/v1.0/users", json=new_user("u", userPrincipalName=upn)),
        400,
        "Request_BadRequest",
        "Property userPrincipalName is invalid.",
    )


def test_upn_allowed_special_characters(client):
    created = create(client, "ok", userPrincipalName=f"o'k.a-b_c!d#e^f~g@{DOMAIN}")
    assert created["userPrincipalName"] == f"o'k.a-b_c!d#e^f~g@{DOMAIN}"


def test_upn_domain_must_be_verified(client, state):
    resp = client.post("/v1.0/users", json=new_user("x", userPrincipalName="x@fabrikam.com"))
    assert_error(
        resp,
        400,
        "Request_BadRequest",
        "The domain portion of the userPrincipalName property is invalid. "
        "You must use one of the verified domain names in your organization.",
    )
    add_domain(state, "fabrikam.com")
    assert (
        client.post("/v1.0/users", json=new_user("x", userPrincipalName="x@fabrikam.com")).status_code == 201
    )


@pytest.mark.parametrize("nick", ["has space", "a@b", "semi;colon", "x" * 65, "", "caf\u00e9"])
def test_mail_nickname_validity(client, nick):
    assert_error(
        client.post("/v1.0/users", json=new_user("n", mailNickname=nick)),
        400,
        "Request_BadRequest",
        "Invalid value specified for property 'mailNickname' of resource 'User'.",
    )


@pytest.mark.parametrize(
    "password",
    [
        "Sh0rt!",
        "alllowercase1",
        "ALLUPPER123",
        "NoDigitsOrSymbols",
        "P\u00e4ssw0rd!x",
        "A" * 250 + "a1!bcdefg",
    ],
)
def test_password_policy_rejects(client, password):
    body = new_user("p", passwordProfile={"password": password})
    assert_error(
        client.post("/v1.0/users", json=body),
        400,
        "Request_BadRequest",
        "The specified password does not comply with password complexity requirements. "
        "Please provide a different password.",
    )


@pytest.mark.parametrize("password", ["abcdefG1", "abcdefg!1", "ABCDEF1!", "Pass word1", "A" * 253 + "a1!"])
def test_password_policy_accepts(client, password):
    assert (
        client.post("/v1.0/users", json=new_user("p", passwordProfile={"password": password})).status_code
        == 201
    )


@pytest.mark.parametrize("prop", ["id", "createdDateTime", "onPremisesSyncEnabled", "deletedDateTime"])
def test_read_only_properties_refused(client, prop):
    value = True if prop == "onPremisesSyncEnabled" else "2020-01-01T00:00:00Z"
    assert_error(
        client.post("/v1.0/users", json=new_user("r", **{prop: value})),
        400,
        "Request_BadRequest",
        f"Property '{prop}' is read-only and cannot be set.",
    )


def test_unknown_property_and_bad_types(client):
    # user is an open type: the directory, not the OData reader, refuses the undeclared property.
    assert_error(
        client.post("/v1.0/users", json=new_user("r", favouriteColour="blue")),
        400,
        "Request_BadRequest",
        "Invalid property 'favouriteColour'.",
    )
    assert_error(
        client.post("/v1.0/users", json=new_user("r", accountEnabled="yes")),
        400,
        "Request_BadRequest",
        "Invalid value specified for property 'accountEnabled' of resource 'User'.",
    )
    assert_error(
        client.post("/v1.0/users", json=new_user("r", usageLocation="USA")),
        400,
        "Request_BadRequest",
        "Invalid value specified for property 'usageLocation' of resource 'User'.",
    )


def test_malformed_json(client):
    resp = client.post("/v1.0/users", content=b"{not json", headers={"content-type": "application/json"})
    assert_error(resp, 400, "BadRequest")
    assert_error(
        client.post("/v1.0/users", content=b""), 400, "BadRequest", "Empty Payload. JSON content expected."
    )


def test_get_by_id_and_by_upn_case_insensitive_urlencoded(client):
    created = create(client, "o'neil")
    by_id = client.get(f"/v1.0/users/{created['id']}").json()
    by_upn = client.get("/v1.0/users/O%27NEIL%40Contoso.onmicrosoft.com").json()
    assert by_id == by_upn
    assert by_upn["id"] == created["id"]
    hashed = create(client, "a#b")
    assert client.get(f"/v1.0/users/a%23b@{DOMAIN}").json()["id"] == hashed["id"]


def test_unknown_user_is_404(client):
    missing = "00000000-0000-0000-0000-000000000001"
    for resp in (
        client.get(f"/v1.0/users/{missing}"),
        client.patch(f"/v1.0/users/{missing}", json={}),
        client.delete(f"/v1.0/users/{missing}"),
        client.get(f"/v1.0/users/nobody@{DOMAIN}"),
    ):
        err = assert_error(resp, 404, "Request_ResourceNotFound")
        key = missing if "nobody" not in str(resp.url) else f"nobody@{DOMAIN}"
        assert err["message"] == (
            f"Resource '{key}' does not exist or one of its queried reference-property "
            "objects are not present."
        )


def test_client_request_id_is_echoed(client):
    resp = client.get("/v1.0/users/missing@" + DOMAIN, headers={"client-request-id": "abc-123"})
    assert resp.json()["error"]["innerError"]["client-request-id"] == "abc-123"
    assert resp.headers["client-request-id"] == "abc-123"


def test_patch_updates_and_returns_204(client):
    created = create(client, "pat")
    resp = client.patch(
        f"/v1.0/users/{created['id']}",
        json={"jobTitle": "Boss", "accountEnabled": False, "userPrincipalName": f"patricia@{DOMAIN}"},
    )
    assert resp.status_code == 204 and resp.content == b""
    got = client.get(
        f"/v1.0/users/patricia@{DOMAIN}?$select=jobTitle,accountEnabled,userPrincipalName"
    ).json()
    assert (got["jobTitle"], got["accountEnabled"], got["userPrincipalName"]) == (
        "Boss",
        False,
        f"patricia@{DOMAIN}",
    )
    assert client.get(f"/v1.0/users/pat@{DOMAIN}").status_code == 404


def test_patch_validates(client):
    a, b = create(client, "pa"), create(client, "pb")
    assert_error(
        client.patch(f"/v1.0/users/{a['id']}", json={"userPrincipalName": f"pb@{DOMAIN}"}),
        400,
        "Request_BadRequest",
        "Another object with the same value for property userPrincipalName already exists.",
    )
    assert_error(
        client.patch(f"/v1.0/users/{a['id']}", json={"userPrincipalName": "pa@other.com"}),
        400,
        "Request_BadRequest",
    )
    assert_error(
        client.patch(f"/v1.0/users/{b['id']}", json={"passwordProfile": {"password": "weak"}}),
        400,
        "Request_BadRequest",
    )
    assert_error(
        client.patch(f"/v1.0/users/{b['id']}", json={"id": "x"}),
        400,
        "Request_BadRequest",
        "Property 'id' is read-only and cannot be set.",
    )
    assert (
        client.patch(
            f"/v1.0/users/{b['id']}", json={"passwordProfile": {"password": "N3w-Passw0rd"}}
        ).status_code
        == 204
    )


def _synced_user(client, state) -> str:
    created = create(client, "synced")
    with sqlite3.connect(state) as db:
        db.execute("UPDATE users SET sync_enabled = 1 WHERE id = ?", (created["id"],))
    return created["id"]


def test_synced_user_on_premises_attributes_are_refused(client, state):
    uid = _synced_user(client, state)
    assert_error(
        client.patch(f"/v1.0/users/{uid}", json={"displayName": "New"}),
        400,
        "Request_BadRequest",
        "Unable to update the specified properties for on-premises mastered Directory Sync objects or "
        "objects currently undergoing migration.",
    )
    assert client.patch(f"/v1.0/users/{uid}", json={"usageLocation": "GB"}).status_code == 204
    got = client.get(f"/v1.0/users/{uid}?$select=displayName,usageLocation,onPremisesSyncEnabled").json()
    assert (got["displayName"], got["usageLocation"], got["onPremisesSyncEnabled"]) == ("Synced", "GB", True)


def test_synced_user_delete_is_refused(client, state):
    uid = _synced_user(client, state)
    err = assert_error(client.delete(f"/v1.0/users/{uid}"), 400, "Request_BadRequest")
    assert "on-premises" in err["message"]
    assert client.get(f"/v1.0/users/{uid}").status_code == 200


def test_delete_is_soft_and_frees_upn(client):
    created = create(client, "gone")
    assert client.delete(f"/v1.0/users/gone@{DOMAIN}").status_code == 204
    assert client.get(f"/v1.0/users/{created['id']}").status_code == 404
    again = create(client, "gone")
    assert again["id"] != created["id"]


def test_unknown_route_and_method(client):
    assert_error(
        client.get("/v1.0/groups"), 400, "BadRequest", "Resource not found for the segment 'groups'."
    )
    assert_error(client.put("/v1.0/users"), 405, "Request_BadRequest")


def test_bearer_token_is_accepted(client):
    assert client.get("/v1.0/users", headers={"Authorization": "Bearer anything"}).status_code == 200


def test_state_is_shared_between_apps_on_one_file(client, state):
    from starlette.testclient import TestClient

    from provisioner.local.graph_app import graph_app

    created = create(client, "shared")
    with TestClient(graph_app(state)) as other:
        assert other.get(f"/v1.0/users/{created['id']}").json()["id"] == created["id"]
        other.delete(f"/v1.0/users/{created['id']}")
    assert client.get(f"/v1.0/users/{created['id']}").status_code == 404


def test_the_tenant_keeps_a_salted_hash_of_the_password_and_never_answers_it(client, state):
    from provisioner.local import has_password

    upn = "hash@contoso.onmicrosoft.com"
    body = {"accountEnabled": True, "displayName": "Hash", "mailNickname": "hash", "userPrincipalName": upn,
            "passwordProfile": {"password": "Xy7!abcdefgh", "forceChangePasswordNextSignIn": True}}
    created = client.post("/v1.0/users", json=body)
    assert created.status_code == 201
    assert "Hash" in created.text and "Xy7!abcdefgh" not in created.text and "_password" not in created.text
    assert has_password(state, upn, "Xy7!abcdefgh") is True
    assert has_password(state, upn, "Xy7!abcdefgX") is False
    changed = client.patch(f"/v1.0/users/{upn}", json={"passwordProfile": {"password": "Nw8!zyxwvuts"}})
    assert changed.status_code == 204
    assert (has_password(state, upn, "Nw8!zyxwvuts"), has_password(state, upn, "Xy7!abcdefgh")) == (True, False)
