"""Joiner / mover / leaver endpoints over HTTP (L§8.1-8.4): PATCH formats, UPN rename, session
revocation and the manager link, as Graph answers them."""

from __future__ import annotations

import sqlite3

import pytest
from graph_kit import DOMAIN, assert_error, create
from starlette.testclient import TestClient

from provisioner.local.app import create_app
from provisioner.local.tenant import add_domain

INVALID = "Invalid value specified for property '{}' of resource 'User'."
NO_MANAGER = "Resource 'manager' does not exist or one of its queried reference-property objects are not present."
SYNCED = ("Unable to update the specified properties for on-premises mastered Directory Sync objects or "
          "objects currently undergoing migration.")


def _select(client, uid: str, props: str) -> dict:
    resp = client.get(f"/v1.0/users/{uid}?$select={props}")
    assert resp.status_code == 200, resp.text
    return resp.json()


# -- PATCH: Entra's lengths and formats (L§1.2, L§8.1) ------------------------------------------


@pytest.mark.parametrize(("prop", "limit"), [
    ("displayName", 256), ("givenName", 64), ("surname", 64), ("jobTitle", 128), ("department", 64),
    ("companyName", 64), ("city", 128), ("state", 128), ("postalCode", 40), ("country", 128),
    ("streetAddress", 1024), ("mobilePhone", 64), ("employeeId", 16),
])
def test_patch_length_limits(client, prop, limit):
    uid = create(client, "ann")["id"]
    assert client.patch(f"/v1.0/users/{uid}", json={prop: "x" * limit}).status_code == 204
    assert_error(client.patch(f"/v1.0/users/{uid}", json={prop: "x" * (limit + 1)}), 400,
                 "Request_BadRequest", INVALID.format(prop))
    assert _select(client, uid, prop)[prop] == "x" * limit


@pytest.mark.parametrize(("body", "prop"), [
    ({"usageLocation": "USA"}, "usageLocation"),
    ({"usageLocation": "U1"}, "usageLocation"),
    ({"employeeHireDate": "01/03/2025"}, "employeeHireDate"),
    ({"employeeHireDate": "2025-02-30T00:00:00Z"}, "employeeHireDate"),
    ({"preferredLanguage": "English"}, "preferredLanguage"),
    ({"businessPhones": ["+1 555 0100", "+1 555 0101"]}, "businessPhones"),
    ({"ageGroup": "Teen"}, "ageGroup"),
    ({"displayName": ""}, "displayName"),
    ({"displayName": None}, "displayName"),
])
def test_patch_bad_formats(client, body, prop):
    uid = create(client, "ann")["id"]
    assert_error(client.patch(f"/v1.0/users/{uid}", json=body), 400, "Request_BadRequest", INVALID.format(prop))


def test_patch_hr_properties_round_trip(client):
    uid = create(client, "ann")["id"]
    body = {"employeeHireDate": "2025-03-01T00:00:00Z", "employeeType": "Contractor", "preferredLanguage": "en-GB",
            "employeeOrgData": {"costCenter": "CC-4100", "division": "EMEA"}, "companyName": "Contoso"}
    resp = client.patch(f"/v1.0/users/{uid}", json=body)
    assert (resp.status_code, resp.content) == (204, b"")
    got = _select(client, uid, ",".join(body))
    assert {k: got[k] for k in body} == body


# isSipEnabled and employeeOrgData's unknown fields are not declared by v1.0's schema: the schema check
# refuses them first (tests/local/test_schema.py).
@pytest.mark.parametrize("prop", ["assignedLicenses", "signInSessionsValidFromDateTime"])
def test_patch_read_only_properties(client, prop):
    uid = create(client, "ann")["id"]
    assert_error(client.patch(f"/v1.0/users/{uid}", json={prop: []}), 400, "Request_BadRequest",
                 f"Property '{prop}' is read-only and cannot be set.")


def test_patch_unknown_user_is_404(client):
    assert_error(client.patch(f"/v1.0/users/nobody@{DOMAIN}", json={"city": "Oslo"}), 404,
                 "Request_ResourceNotFound")


def test_patch_by_upn_any_case(client):
    create(client, "ann")
    assert client.patch(f"/v1.0/users/ANN@{DOMAIN.upper()}", json={"city": "Oslo"}).status_code == 204
    assert client.get(f"/v1.0/users/ann@{DOMAIN}?$select=city").json()["city"] == "Oslo"


# -- UPN rename (L§2, L§8.2) -------------------------------------------------------------------


def test_rename_moves_the_name(client, state):
    uid = create(client, "ann")["id"]
    add_domain(state, "fabrikam.com")
    assert client.patch(f"/v1.0/users/{uid}", json={"userPrincipalName": "ann.lee@fabrikam.com"}).status_code == 204
    assert client.get("/v1.0/users/ann.lee@fabrikam.com").json()["id"] == uid
    assert_error(client.get(f"/v1.0/users/ann@{DOMAIN}"), 404, "Request_ResourceNotFound")


def test_rename_to_unverified_domain(client):
    uid = create(client, "ann")["id"]
    assert_error(
        client.patch(f"/v1.0/users/{uid}", json={"userPrincipalName": "ann@unverified.example"}), 400,
        "Request_BadRequest",
        "The domain portion of the userPrincipalName property is invalid. You must use one of the verified "
        "domain names in your organization.")


def test_rename_to_a_taken_name_any_case(client):
    uid = create(client, "ann")["id"]
    create(client, "bob")
    err = assert_error(client.patch(f"/v1.0/users/{uid}", json={"userPrincipalName": f"BOB@{DOMAIN}"}), 400,
                       "Request_BadRequest",
                       "Another object with the same value for property userPrincipalName already exists.")
    assert err["details"] == [{"target": "userPrincipalName", "code": "ObjectConflict"}]


@pytest.mark.parametrize("upn", [f"ann.@{DOMAIN}", f"{'a' * 65}@{DOMAIN}", f"ann@{'d' * 40}.onmicrosoft.com",
                                 f"än@{DOMAIN}"])
def test_rename_bad_names(client, upn):
    uid = create(client, "ann")["id"]
    assert_error(client.patch(f"/v1.0/users/{uid}", json={"userPrincipalName": upn}), 400,
                 "Request_BadRequest", "Property userPrincipalName is invalid.")


def test_rename_of_synced_user_refused(client, state):
    uid = create(client, "ann")["id"]
    with sqlite3.connect(state) as db:
        db.execute("UPDATE users SET sync_enabled = 1 WHERE id = ?", (uid,))
    assert_error(client.patch(f"/v1.0/users/{uid}", json={"userPrincipalName": f"ann2@{DOMAIN}"}), 400,
                 "Request_BadRequest", SYNCED)


# -- revokeSignInSessions (L§3.2, L§8.3) ----------------------------------------------------------


def test_revoke_sessions_answers_200_true_and_moves_the_timestamp(client):
    uid = create(client, "ann")["id"]
    assert _select(client, uid, "signInSessionsValidFromDateTime")["signInSessionsValidFromDateTime"] is None
    resp = client.post(f"/v1.0/users/{uid}/revokeSignInSessions")
    assert resp.status_code == 200
    assert resp.json() == {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean", "value": True}
    moved = _select(client, uid, "signInSessionsValidFromDateTime")["signInSessionsValidFromDateTime"]
    created = _select(client, uid, "createdDateTime")["createdDateTime"]
    assert len(moved) == 20 and moved.endswith("Z") and moved >= created


def test_revoke_sessions_takes_no_parameters_and_404s_unknown(client):
    uid = create(client, "ann")["id"]
    assert client.post(f"/v1.0/users/{uid}/revokeSignInSessions").status_code == 200
    # The action declares no parameter: one in the body is refused as Graph's schema says.
    assert client.post(f"/v1.0/users/{uid}/revokeSignInSessions", json={"x": 1}).status_code == 400
    assert_error(client.post("/v1.0/users/00000000-0000-0000-0000-000000000001/revokeSignInSessions"), 404,
                 "Request_ResourceNotFound")


# -- manager (L§5, L§8.4) -----------------------------------------------------------------------


def _ref(uid: str) -> dict:
    return {"@odata.id": f"https://graph.microsoft.com/v1.0/users/{uid}"}


def test_manager_put_get_replace_delete(client):
    ann, bob, cat = (create(client, n)["id"] for n in ("ann", "bob", "cat"))
    assert_error(client.get(f"/v1.0/users/{ann}/manager"), 404, "Request_ResourceNotFound", NO_MANAGER)
    resp = client.put(f"/v1.0/users/{ann}/manager/$ref", json=_ref(bob))
    assert (resp.status_code, resp.content) == (204, b"")
    got = client.get(f"/v1.0/users/{ann}/manager?$select=id,userPrincipalName").json()
    assert got == {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects(id,userPrincipalName)"
                                     "/$entity",
                   "@odata.type": "#microsoft.graph.user", "id": bob, "userPrincipalName": f"bob@{DOMAIN}"}
    # A new PUT replaces the manager; directoryObjects references are accepted too.
    ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{cat}"}
    assert client.put(f"/v1.0/users/{ann}/manager/$ref", json=ref).status_code == 204
    assert client.get(f"/v1.0/users/{ann}/manager/$ref").json()["@odata.id"].endswith(
        f"/directoryObjects/{cat}/Microsoft.DirectoryServices.User")
    reports = client.get(f"/v1.0/users/{cat}/directReports?$select=id").json()["value"]
    assert reports == [{"@odata.type": "#microsoft.graph.user", "id": ann}]
    assert client.delete(f"/v1.0/users/{ann}/manager/$ref").status_code == 204
    assert_error(client.delete(f"/v1.0/users/{ann}/manager/$ref"), 404, "Request_ResourceNotFound", NO_MANAGER)
    assert_error(client.get(f"/v1.0/users/{ann}/manager"), 404, "Request_ResourceNotFound", NO_MANAGER)


def test_manager_errors(client):
    ann = create(client, "ann")["id"]
    assert_error(client.put(f"/v1.0/users/{ann}/manager/$ref"), 400, "BadRequest",
                 "Empty Payload. JSON content expected.")
    assert_error(client.put(f"/v1.0/users/{ann}/manager/$ref", json={"id": ann}), 400, "Request_BadRequest")
    missing = "00000000-0000-0000-0000-000000000009"
    assert_error(client.put(f"/v1.0/users/{ann}/manager/$ref", json=_ref(missing)), 404,
                 "Request_ResourceNotFound", f"Resource '{missing}' does not exist or one of its queried "
                 "reference-property objects are not present.")
    assert_error(client.put(f"/v1.0/users/{ann}/manager/$ref", json=_ref(ann)), 400, "Request_BadRequest",
                 "A user cannot be its own manager.")


def test_deleted_manager_reads_as_none(client):
    ann, bob = create(client, "ann")["id"], create(client, "bob")["id"]
    client.put(f"/v1.0/users/{ann}/manager/$ref", json=_ref(bob))
    assert client.delete(f"/v1.0/users/{bob}").status_code == 204
    assert_error(client.get(f"/v1.0/users/{ann}/manager"), 404, "Request_ResourceNotFound", NO_MANAGER)


def test_manager_and_revoke_inside_batch(state):
    client = TestClient(create_app(state), base_url="http://local.tenant", headers={"Authorization": "Bearer local"})
    ann, bob = create(client, "ann")["id"], create(client, "bob")["id"]
    body = {"requests": [
        {"id": "1", "method": "PUT", "url": f"/users/{ann}/manager/$ref",
         "headers": {"Content-Type": "application/json"}, "body": _ref(bob)},
        {"id": "2", "method": "POST", "url": f"/users/{bob}/revokeSignInSessions"},
        {"id": "3", "method": "GET", "url": f"/users/{bob}/manager"},
    ]}
    answers = {r["id"]: r for r in client.post("/v1.0/$batch", json=body).json()["responses"]}
    assert answers["1"]["status"] == 204
    assert (answers["2"]["status"], answers["2"]["body"]["value"]) == (200, True)
    assert (answers["3"]["status"], answers["3"]["body"]["error"]["message"]) == (404, NO_MANAGER)
