"""assignLicense on a tenant past its seats (a restore took them back, L§6.9): removing a license
and changing the disabled plans of one a user holds take no seat and go through; a new one is
refused. The seat count is only read for a SKU the user does not hold yet."""

from __future__ import annotations

from graph_kit import create
from starlette.testclient import TestClient

from provisioner.local.graph_app import graph_app
from provisioner.local.tenant import init_tenant

E5, MFA_PLAN = "06ebc4ee-1bb5-47dd-8120-11324bc54e06", "8a256a2b-b617-496d-b51b-e76466e88db0"


def _assign(client, uid: str, add=(), remove=(), disabled=()) -> int:
    body = {"addLicenses": [{"skuId": s, "disabledPlans": list(disabled)} for s in add], "removeLicenses": list(remove)}
    return client.post(f"/v1.0/users/{uid}/assignLicense", json=body).status_code


def _consumed(client) -> int:
    return next(s["consumedUnits"] for s in client.get("/v1.0/subscribedSkus").json()["value"]
                if s["skuPartNumber"] == "SPE_E5")


def test_held_licenses_change_and_go_past_the_limit_new_ones_do_not(tmp_path) -> None:
    path = tmp_path / "t.db"
    init_tenant(path, skus={"SPE_E5": 1})
    app = graph_app(path)
    with TestClient(app, base_url="http://local.tenant") as c:
        ann, bob, cat = (create(c, alias, usageLocation="GB")["id"] for alias in ("ann", "bob", "cat"))
        assert _assign(c, ann, add=[E5]) == 200
        assert c.delete(f"/v1.0/users/{ann}").status_code == 204
        assert _assign(c, bob, add=[E5]) == 200
        assert c.post(f"/v1.0/directory/deletedItems/{ann}/restore").status_code == 200
        assert _consumed(c) == 2  # one seat enabled, two taken
        assert _assign(c, bob, add=[E5], disabled=[MFA_PLAN]) == 200  # held: no seat needed
        assert _assign(c, cat, add=[E5]) == 400  # a new holder: no free seat
        assert _assign(c, ann, remove=[E5]) == 200
        assert _consumed(c) == 1
        bob_licenses = c.get(f"/v1.0/users/{bob}?$select=assignedLicenses").json()["assignedLicenses"]
        assert bob_licenses == [{"disabledPlans": [MFA_PLAN], "skuId": E5}]
    app.state.store.close()
