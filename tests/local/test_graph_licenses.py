"""Licensing over HTTP (L§6, L§8.5-8.9): subscribedSkus, assignLicense and its errors, seats across
soft delete and restore, as Graph answers them."""

from __future__ import annotations

import pytest
from graph_kit import AUTH, assert_error, create
from starlette.testclient import TestClient

from provisioner.local.app import create_app
from provisioner.local.graph_app import graph_app
from provisioner.local.tenant import init_tenant

E5, O365E3, FLOW = ("06ebc4ee-1bb5-47dd-8120-11324bc54e06", "6fd2c87f-b296-42f0-b197-1e91e994b900",
                    "f30db892-07e9-47e9-837c-80727f46fd3d")
P2_PLAN, MFA_PLAN = "eec0eb4f-6444-4f95-aba0-50c24d67f998", "8a256a2b-b617-496d-b51b-e76466e88db0"
NO_LOCATION = "License assignment cannot be done for user with invalid usage location."


@pytest.fixture
def small(tmp_path):
    """A tenant with exactly SPE_E5 (1 seat) and ENTERPRISEPACK (2 seats)."""
    path = tmp_path / "small.db"
    init_tenant(path, skus={"SPE_E5": 1, "ENTERPRISEPACK": 2})
    app = graph_app(path)
    with TestClient(app, base_url="http://local.tenant") as c:
        yield c
    app.state.store.close()


def _skus(client) -> dict[str, dict]:
    resp = client.get("/v1.0/subscribedSkus")
    assert resp.status_code == 200, resp.text
    assert resp.json()["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#subscribedSkus"
    return {s["skuPartNumber"]: s for s in resp.json()["value"]}


def _assign(client, uid: str, add=(), remove=(), **extra):
    body = {"addLicenses": [{"skuId": s, "disabledPlans": list(extra.get("disabled", {}).get(s, []))} for s in add],
            "removeLicenses": list(remove)}
    return client.post(f"/v1.0/users/{uid}/assignLicense", json=body)


def _licensed(client, alias: str) -> str:
    return create(client, alias, usageLocation="GB")["id"]


def test_default_skus_carry_real_ids_and_plans(client):
    skus = _skus(client)
    assert sorted(skus) == ["ENTERPRISEPACK", "FLOW_FREE", "SPE_E5"]
    e5 = skus["SPE_E5"]
    tenant = e5["accountId"]
    assert e5["skuId"] == E5 and e5["id"] == f"{tenant}_{E5}"
    assert (e5["appliesTo"], e5["capabilityStatus"], e5["consumedUnits"]) == ("User", "Enabled", 0)
    assert e5["prepaidUnits"] == {"enabled": 25, "lockedOut": 0, "suspended": 0, "warning": 0}
    plans = {p["servicePlanName"]: p for p in e5["servicePlans"]}
    assert plans["AAD_PREMIUM_P2"] == {"servicePlanId": P2_PLAN, "servicePlanName": "AAD_PREMIUM_P2",
                                       "provisioningStatus": "Success", "appliesTo": "User"}
    one = client.get(f"/v1.0/subscribedSkus/{tenant}_{E5}?$select=skuPartNumber,consumedUnits")
    assert one.json() == {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscribedSkus"
                          "(skuPartNumber,consumedUnits)/$entity", "skuPartNumber": "SPE_E5", "consumedUnits": 0}
    assert_error(client.get(f"/v1.0/subscribedSkus/{tenant}_{FLOW[:-1]}0"), 404, "Request_ResourceNotFound")
    assert_error(client.get("/v1.0/subscribedSkus?$filter=skuPartNumber eq 'SPE_E5'"), 400, "Request_UnsupportedQuery")


def test_init_with_sku_gives_exactly_those(small):
    skus = _skus(small)
    assert {k: v["prepaidUnits"]["enabled"] for k, v in skus.items()} == {"SPE_E5": 1, "ENTERPRISEPACK": 2}


def test_assign_answers_the_default_projection_and_sets_assigned_licenses(small):
    uid = _licensed(small, "ann")
    resp = _assign(small, uid, add=[E5], disabled={E5: [MFA_PLAN]})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#users/$entity"
    assert "assignedLicenses" not in body and body["id"] == uid
    got = small.get(f"/v1.0/users/{uid}?$select=assignedLicenses,licenseAssignmentStates").json()
    assert got["assignedLicenses"] == [{"disabledPlans": [MFA_PLAN], "skuId": E5}]
    [state] = got["licenseAssignmentStates"]
    assert (state["assignedByGroup"], state["state"], state["error"]) == (None, "Active", "None")
    assert _skus(small)["SPE_E5"]["consumedUnits"] == 1
    # Re-adding a held SKU replaces its disabled plans and takes no seat.
    assert _assign(small, uid, add=[E5]).status_code == 200
    assert small.get(f"/v1.0/users/{uid}?$select=assignedLicenses").json()["assignedLicenses"] == [
        {"disabledPlans": [], "skuId": E5}]
    assert _skus(small)["SPE_E5"]["consumedUnits"] == 1
    unlicensed = create(small, "bob")["id"]
    assert small.get(f"/v1.0/users/{unlicensed}?$select=assignedLicenses").json()["assignedLicenses"] == []


def test_assign_errors_in_order_and_nothing_applied(small):
    uid = _licensed(small, "ann")
    nowhere = create(small, "bob")["id"]
    missing = small.post(f"/v1.0/users/{uid}/assignLicense", json={"addLicenses": [{"skuId": E5, "disabledPlans": []}]})
    assert_error(missing, 400, "Request_BadRequest", "One or more parameters of the operation 'assignLicense' are "
                 "missing from the request payload. The missing parameters are: removeLicenses.")
    assert_error(_assign(small, uid, add=["not-a-guid"]), 400, "Request_BadRequest")
    assert_error(_assign(small, uid, add=[FLOW]), 400, "Request_BadRequest",
                 f"License {FLOW} does not correspond to a valid company License.")
    assert_error(_assign(small, uid, add=[O365E3], disabled={O365E3: [P2_PLAN]}), 400, "Request_BadRequest",
                 f"Service plan {P2_PLAN} does not belong to subscription {O365E3}.")
    assert_error(_assign(small, uid, remove=[O365E3]), 400, "Request_BadRequest",
                 "User does not have a corresponding license")
    assert_error(_assign(small, nowhere, add=[E5]), 400, "Request_BadRequest", NO_LOCATION)
    assert_error(_assign(small, "00000000-0000-0000-0000-000000000001", add=[E5]), 404, "Request_ResourceNotFound")
    # null for the unused array is accepted (a production connector sends it).
    ok = small.post(f"/v1.0/users/{uid}/assignLicense",
                    json={"addLicenses": [{"skuId": E5, "disabledPlans": []}], "removeLicenses": None})
    assert ok.status_code == 200
    other = _licensed(small, "cat")
    full = _assign(small, other, add=[O365E3, E5])
    assert_error(full, 400, "Request_BadRequest", f"Subscription {E5} does not have any available licenses.")
    assert small.get(f"/v1.0/users/{other}?$select=assignedLicenses").json()["assignedLicenses"] == []


def test_seats_freed_on_soft_delete_and_taken_back_on_restore_past_the_limit(small):
    ann, bob = _licensed(small, "ann"), _licensed(small, "bob")
    assert _assign(small, ann, add=[E5]).status_code == 200
    assert small.delete(f"/v1.0/users/{ann}").status_code == 204
    assert _skus(small)["SPE_E5"]["consumedUnits"] == 0
    assert _assign(small, bob, add=[E5]).status_code == 200
    restored = small.post(f"/v1.0/directory/deletedItems/{ann}/restore")
    assert restored.status_code == 200, restored.text
    e5 = _skus(small)["SPE_E5"]
    assert (e5["consumedUnits"], e5["prepaidUnits"]["enabled"]) == (2, 1)
    # Removing frees a seat; a swap (remove + add in one call) is one request.
    assert _assign(small, bob, add=[O365E3], remove=[E5]).status_code == 200
    assert _skus(small)["SPE_E5"]["consumedUnits"] == 1


def test_assign_license_inside_batch(tmp_path):
    path = tmp_path / "batch.db"
    init_tenant(path, skus={"ENTERPRISEPACK": 2})
    small = TestClient(create_app(path), base_url="http://local.tenant", headers=AUTH)
    uid = _licensed(small, "ann")
    resp = small.post("/v1.0/$batch", json={"requests": [
        {"id": "1", "method": "POST", "url": f"/users/{uid}/assignLicense", "headers": {"Content-Type":
         "application/json"}, "body": {"addLicenses": [{"skuId": O365E3, "disabledPlans": []}], "removeLicenses": []}},
        {"id": "2", "method": "GET", "url": "/subscribedSkus?$select=skuPartNumber,consumedUnits"}]})
    answers = {r["id"]: r for r in resp.json()["responses"]}
    assert answers["1"]["status"] == 200
    assert answers["2"]["status"] == 200
    assert answers["2"]["body"]["value"] == [{"skuPartNumber": "ENTERPRISEPACK", "consumedUnits": 1}]


def test_licensing_permissions(tmp_path):
    from test_graph_permissions import app, denied

    from provisioner.local import permissions as perms

    tenant = TestClient(create_app(tmp_path / "p.db"), base_url="http://local.tenant", headers=AUTH)
    uid = _licensed(tenant, "ann")
    denied(tenant.get("/v1.0/subscribedSkus", headers=app("User.Read.All")))
    assert tenant.get("/v1.0/subscribedSkus", headers=app("Organization.Read.All")).status_code == 200
    denied(_post_as(tenant, uid, app("User.Read.All", "Organization.Read.All")))
    assert _post_as(tenant, uid, app("LicenseAssignment.ReadWrite.All")).status_code == 200
    assert perms.LICENSE_ADMIN in (perms.RULES["assign_license"].roles or ())


def _post_as(client, uid: str, headers: dict):
    body = {"addLicenses": [{"skuId": O365E3, "disabledPlans": []}], "removeLicenses": []}
    return client.post(f"/v1.0/users/{uid}/assignLicense", json=body, headers=headers)
