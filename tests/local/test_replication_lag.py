"""Replication lag reaches past creates (graph-quirks §5), when lag is switched on: a role
assignment just made 404s by id, a user just deleted 404s under deleted items (get, restore,
permanent delete), a user just restored 404s; each becomes visible once the lag has passed."""

from __future__ import annotations

import asyncio

import httpx
from graph_kit import AUTH, new_user

from provisioner.local import LOCAL_BASE_URL, Realism, create_app

LAG = 0.3
HELPDESK = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
ASSIGNMENTS = "/roleManagement/directory/roleAssignments"


def test_lag_on_assignments_deleted_items_and_restores(state):
    async def scenario() -> dict[str, int]:
        seen: dict[str, int] = {}
        transport = httpx.ASGITransport(app=create_app(state, Realism(replication_lag_s=LAG)))
        async with httpx.AsyncClient(transport=transport, base_url=LOCAL_BASE_URL, headers=AUTH) as c:

            async def call(name: str, method: str, path: str, **kw) -> httpx.Response:
                resp = await c.request(method, LOCAL_BASE_URL + path, **kw)
                seen[name] = resp.status_code
                return resp

            uid = (await call("create", "POST", "/users", json=new_user("ann"))).json()["id"]
            await asyncio.sleep(LAG + 0.05)
            body = {"principalId": uid, "roleDefinitionId": HELPDESK, "directoryScopeId": "/"}
            aid = (await call("assign", "POST", ASSIGNMENTS, json=body)).json()["id"]
            await call("assignment get, fresh", "GET", f"{ASSIGNMENTS}/{aid}")
            await call("assignment delete, fresh", "DELETE", f"{ASSIGNMENTS}/{aid}")
            await asyncio.sleep(LAG + 0.05)
            await call("assignment get, later", "GET", f"{ASSIGNMENTS}/{aid}")

            await call("delete", "DELETE", f"/users/{uid}")
            await call("deleted get, fresh", "GET", f"/directory/deletedItems/{uid}")
            await call("restore, fresh", "POST", f"/directory/deletedItems/{uid}/restore")
            await call("purge, fresh", "DELETE", f"/directory/deletedItems/{uid}")
            await asyncio.sleep(LAG + 0.05)
            await call("deleted get, later", "GET", f"/directory/deletedItems/{uid}")
            await call("restore, later", "POST", f"/directory/deletedItems/{uid}/restore")
            await call("user get, just restored", "GET", f"/users/{uid}")
            await asyncio.sleep(LAG + 0.05)
            await call("user get, later", "GET", f"/users/{uid}")
            await call("delete again", "DELETE", f"/users/{uid}")
            await asyncio.sleep(LAG + 0.05)
            await call("purge, later", "DELETE", f"/directory/deletedItems/{uid}")
        return seen

    assert asyncio.run(scenario()) == {
        "create": 201, "assign": 201,
        "assignment get, fresh": 404, "assignment delete, fresh": 404, "assignment get, later": 200,
        "delete": 204, "deleted get, fresh": 404, "restore, fresh": 404, "purge, fresh": 404,
        "deleted get, later": 200, "restore, later": 200, "user get, just restored": 404, "user get, later": 200,
        "delete again": 204, "purge, later": 204,
    }


def test_lag_on_assign_license_after_a_usage_location_change(state):
    """L§6.8: right after a PATCH of usageLocation, assignLicense answers 400 'invalid usage
    location' until the lag has passed; a PATCH without usageLocation does not start the lag."""
    from provisioner.local.tenant import init_tenant

    init_tenant(state, skus={"SPE_E5": 2})
    body = {"addLicenses": [{"skuId": "06ebc4ee-1bb5-47dd-8120-11324bc54e06", "disabledPlans": []}],
            "removeLicenses": []}

    async def scenario() -> list[tuple[int, str]]:
        seen = []
        transport = httpx.ASGITransport(app=create_app(state, Realism(replication_lag_s=LAG)))
        async with httpx.AsyncClient(transport=transport, base_url=LOCAL_BASE_URL, headers=AUTH) as c:
            uid = (await c.post(LOCAL_BASE_URL + "/users", json=new_user("ann"))).json()["id"]
            await asyncio.sleep(LAG + 0.05)
            for patch in ({"jobTitle": "Clerk"}, {"usageLocation": "GB"}, None):
                if patch is not None:
                    assert (await c.patch(LOCAL_BASE_URL + f"/users/{uid}", json=patch)).status_code == 204
                else:
                    await asyncio.sleep(LAG + 0.05)
                resp = await c.post(LOCAL_BASE_URL + f"/users/{uid}/assignLicense", json=body)
                seen.append((resp.status_code, resp.json().get("error", {}).get("message", "")))
        return seen

    assert asyncio.run(scenario()) == [
        (400, "License assignment cannot be done for user with invalid usage location."),  # none set yet
        (400, "License assignment cannot be done for user with invalid usage location."),  # set, not replicated
        (200, ""),
    ]
