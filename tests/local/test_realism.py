"""Realism on demand: throttling, faults, latency and replication lag, per request and per batch item."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
import pytest
from graph_kit import AUTH
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from provisioner.local.app import LOCAL_BASE_URL, compose
from provisioner.local.batch import BatchApp
from provisioner.local.middleware import LatencyMiddleware, RealismMiddleware
from provisioner.local.realism import Realism
from provisioner.local.throttle import request_cost, retry_after_seconds

TENANT = "0785ef7c-0000-4000-8000-000000000001"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def users_stand_in() -> tuple[Starlette, list[str]]:
    """Just enough of Graph's users and role assignments to see what realism lets through."""
    users: dict[str, dict] = {}
    log: list[str] = []

    async def create(request: Request) -> Response:
        body = await request.json()
        user = {"id": str(uuid.uuid4()), "userPrincipalName": body["userPrincipalName"]}
        users[user["id"]] = user
        log.append("create " + user["userPrincipalName"])
        return JSONResponse(user, status_code=201)

    async def item(request: Request) -> Response:
        key = request.path_params["key"].lower()
        user = users.get(key) or next((u for u in users.values() if u["userPrincipalName"] == key), None)
        if user is None:
            return JSONResponse({"error": {"code": "Request_ResourceNotFound", "message": key}}, 404)
        return JSONResponse(user)

    async def listing(request: Request) -> Response:
        return JSONResponse({"value": list(users.values())})

    async def assign(request: Request) -> Response:
        body = await request.json()
        log.append("assign " + body["principalId"])
        return JSONResponse({"id": "a-1", **body}, status_code=201)

    async def restore(request: Request) -> Response:
        return JSONResponse({"id": request.path_params["id"], "userPrincipalName": "back@contoso.com"})

    app = Starlette(routes=[
        Route("/v1.0/users", create, methods=["POST"]),
        Route("/v1.0/users", listing, methods=["GET"]),
        Route("/v1.0/users/{key}", item, methods=["GET", "PATCH", "DELETE"]),
        Route("/v1.0/roleManagement/directory/roleAssignments", assign, methods=["POST"]),
        Route("/v1.0/directory/deletedItems/{id}/restore", restore, methods=["POST"]),
    ])
    return app, log


async def call(app, method: str, path: str, *, body: dict | None = None, token: str | None = None,
               query: str = "") -> tuple[int, dict[str, str], dict | None]:
    """One request straight into the ASGI app (no httpx), for tests that need thousands of them."""
    raw = json.dumps(body).encode() if body is not None else b""
    headers = [(b"content-type", b"application/json")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(),
             "query_string": query.encode(), "headers": headers, "root_path": "", "scheme": "http",
             "http_version": "1.1", "server": ("local.tenant", 80), "client": ("127.0.0.1", 1)}
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    out: dict = {"body": b""}

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
        else:
            out["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return out["status"], out["headers"], json.loads(out["body"]) if out["body"] else None


def throttled_app(clock: FakeClock, **settings) -> tuple[RealismMiddleware, list[str]]:
    graph, log = users_stand_in()
    realism = Realism(throttle=True, **settings)
    return RealismMiddleware(graph, realism, tenant_id=TENANT, clock=clock), log


def new_user(i: int | str) -> dict:
    return {"userPrincipalName": f"u{i}@contoso.com"}


# -- settings --------------------------------------------------------------------------------


def test_realism_is_off_by_default_and_reads_the_environment():
    assert Realism() == Realism.from_env({})
    assert not Realism().active
    assert Realism().write_budget() is None
    env = {
        "PROVISIONER_LOCAL_THROTTLE": "1",
        "PROVISIONER_LOCAL_TENANT_SIZE": "s",
        "PROVISIONER_LOCAL_TIME_SCALE": "10",
        "PROVISIONER_LOCAL_LATENCY_MS": "20",
        "PROVISIONER_LOCAL_JITTER_MS": "5",
        "PROVISIONER_LOCAL_FAULT_RATE": "0.1",
        "PROVISIONER_LOCAL_DROP_RATE": "0.05",
        "PROVISIONER_LOCAL_REPLICATION_LAG": "2.5",
        "PROVISIONER_LOCAL_SEED": "7",
    }
    realism = Realism.from_env(env)
    assert realism == Realism(throttle=True, tenant_size="S", time_scale=10.0, latency_ms=20.0, jitter_ms=5.0,
                              fault_rate=0.1, drop_rate=0.05, replication_lag_s=2.5, seed=7)
    assert realism.active
    assert realism.write_budget() == (3000, 15.0)
    assert realism.resource_budget() == (3500, 1.0)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PROVISIONER_LOCAL_THROTTLE": "maybe"}, "PROVISIONER_LOCAL_THROTTLE='maybe' is not a valid bool"),
        ({"PROVISIONER_LOCAL_TIME_SCALE": "fast"}, "PROVISIONER_LOCAL_TIME_SCALE='fast' is not a valid float"),
        ({"PROVISIONER_LOCAL_FAULT_RATE": "2"},
         "local tenant realism settings: fault_rate must be between 0 and 1, not 2.0"),
        ({"PROVISIONER_LOCAL_TENANT_SIZE": "XL"},
         "local tenant realism settings: tenant size must be S, M or L, not 'XL'"),
        ({"PROVISIONER_LOCAL_TIME_SCALE": "0"},
         "local tenant realism settings: time scale must be greater than 0, not 0.0"),
    ],
)
def test_bad_environment_values_are_named(env, message):
    with pytest.raises(ValueError) as e:
        Realism.from_env(env)
    assert str(e.value) == message


@pytest.mark.parametrize(
    ("method", "path", "query", "cost"),
    [
        ("GET", "/v1.0/users", "", (2, 0)),
        ("GET", "/v1.0/users/", "", (2, 0)),
        ("GET", "/v1.0/users", "$select=id", (1, 0)),
        ("GET", "/v1.0/users", "%24select=id&%24top=5", (1, 0)),
        ("GET", "/v1.0/users", "$top=999", (2, 0)),
        ("GET", "/v1.0/users/abc", "", (1, 0)),
        ("GET", "/v1.0/users/abc", "$select=id", (1, 0)),
        ("GET", "/v1.0/roleManagement/directory/roleAssignments", "$expand=principal", (2, 0)),
        ("GET", "/v1.0/users/abc/memberOf", "", (2, 0)),
        ("GET", "/v1.0/groups/g/transitiveMembers", "", (5, 0)),
        ("GET", "/v1.0/directory/deletedItems/microsoft.graph.user", "", (1, 0)),
        ("POST", "/v1.0/users", "", (1, 1)),
        ("PATCH", "/v1.0/users/abc", "", (1, 1)),
        ("DELETE", "/v1.0/directory/deletedItems/abc", "", (1, 1)),
        ("POST", "/v1.0/directory/deletedItems/abc/restore", "", (1, 1)),
        ("POST", "/v1.0/directoryObjects/getByIds", "", (5, 0)),
    ],
)
def test_request_costs_follow_the_documented_table(method, path, query, cost):
    assert request_cost(method, path, query.encode()) == cost


def test_retry_after_is_whole_seconds_at_least_one():
    assert [retry_after_seconds(w) for w in (0.0001, 0.999, 1.0, 1.2, 10.0)] == [1, 1, 1, 2, 10]


# -- throttling ------------------------------------------------------------------------------


def test_write_budget_throttles_the_3001st_write_with_graph_headers_and_body():
    clock = FakeClock()
    app, log = throttled_app(clock, time_scale=10)

    async def scenario():
        results = [await call(app, "POST", "/v1.0/users", body=new_user(i), token="t1") for i in range(3000)]
        assert {r[0] for r in results} == {201}
        assert results[0][1]["x-ms-resource-unit"] == "1"
        assert "x-ms-throttle-limit-percentage" not in results[2399][1]
        assert results[2400][1]["x-ms-throttle-limit-percentage"] == "0.80"
        assert results[2999][1]["x-ms-throttle-limit-percentage"] == "1.00"
        return await call(app, "POST", "/v1.0/users", body=new_user("x"), token="t1")

    status, headers, body = asyncio.run(scenario())
    assert status == 429
    assert headers["retry-after"] == "1"
    app_guid = str(uuid.uuid5(uuid.NAMESPACE_URL, "local-tenant-app:" + _token_key("t1")))
    assert headers["x-ms-throttle-scope"] == f"Tenant_Application/Write/{app_guid}/{TENANT}"
    assert headers["x-ms-throttle-information"] == "WriteLimitExceeded"
    assert headers["request-id"] == body["error"]["innerError"]["request-id"]
    assert "x-ms-resource-unit" not in headers
    inner = body["error"]["innerError"]
    assert body["error"]["code"] == "TooManyRequests"
    assert body["error"]["message"] == "Please retry again later."
    assert (inner["code"], inner["message"], inner["status"]) == ("429", "Please retry after", "429")
    assert len(log) == 3000  # the refused write was not applied

    # 15 s / 3000 writes at time scale 10: one write comes back every 5 ms.
    clock.now += 0.005
    assert asyncio.run(call(app, "POST", "/v1.0/users", body=new_user("y"), token="t1"))[0] == 201
    # Reads have their own (resource unit) budget and still pass.
    assert asyncio.run(call(app, "GET", "/v1.0/users", token="t1"))[0] == 200


def _token_key(token: str) -> str:
    import hashlib

    return hashlib.sha256(f"Bearer {token}".encode()).hexdigest()[:32]


def test_resource_units_throttle_reads_and_keep_counting_while_throttled():
    clock = FakeClock()
    app, _ = throttled_app(clock, tenant_size="S")

    async def scenario():
        ok = [await call(app, "GET", "/v1.0/users") for _ in range(1750)]  # 2 RU each, 3,500 RU
        assert {r[0] for r in ok} == {200}
        first = await call(app, "GET", "/v1.0/users")
        for _ in range(2000):
            await call(app, "GET", "/v1.0/users")
        last = await call(app, "GET", "/v1.0/users")
        other_app = await call(app, "GET", "/v1.0/users", token="someone-else")
        return first, last, other_app

    first, last, other_app = asyncio.run(scenario())
    assert first[0] == 429
    assert first[1]["retry-after"] == "1"
    assert first[1]["x-ms-throttle-information"] == "ResourceUnitLimitExceeded"
    assert first[1]["x-ms-throttle-scope"].startswith("Tenant_Application/ReadWrite/")
    # Charged while throttled, down to one window of debt: (3,500 + 2) RU at 350 RU/s.
    assert last[0] == 429
    assert last[1]["retry-after"] == "11"
    assert other_app[0] == 200  # buckets are per app


def test_tenant_wide_write_budget_spans_apps():
    clock = FakeClock()
    app, _ = throttled_app(clock)

    async def scenario():
        for a in range(6):
            for i in range(3000):
                status, _, _ = await call(app, "DELETE", f"/v1.0/users/u{i}", token=f"app{a}")
                assert status == 404
        return await call(app, "DELETE", "/v1.0/users/u1", token="app7")

    status, headers, _ = asyncio.run(scenario())
    assert status == 429
    assert headers["x-ms-throttle-scope"].startswith("Tenant/Write/")
    assert headers["x-ms-throttle-scope"].endswith("/" + TENANT)
    assert headers["x-ms-throttle-information"] == "WriteLimitExceeded"
    assert headers["retry-after"] == "1"


def test_items_inside_a_batch_are_throttled_separately_while_the_batch_is_200():
    clock = FakeClock()
    inner, log = throttled_app(clock, time_scale=1)
    app = BatchApp(inner)

    async def scenario():
        for i in range(2990):
            await call(inner, "POST", "/v1.0/users", body=new_user(i), token="t")
        batch = {"requests": [
            {"id": str(i), "method": "POST", "url": "/users", "headers": {"Content-Type": "application/json"},
             "body": new_user(f"b{i}")} for i in range(20)
        ]}
        return await call(app, "POST", "/v1.0/$batch", body=batch, token="t")

    status, headers, body = asyncio.run(scenario())
    assert status == 200
    statuses = sorted(item["status"] for item in body["responses"])
    assert statuses == [201] * 10 + [429] * 10
    throttled = [item for item in body["responses"] if item["status"] == 429]
    for item in throttled:
        assert item["headers"]["Retry-After"] == "1"
        assert item["headers"]["x-ms-throttle-information"] == "WriteLimitExceeded"
        assert item["headers"]["x-ms-throttle-scope"].startswith("Tenant_Application/Write/")
        assert item["body"]["error"]["code"] == "TooManyRequests"
    created = [item for item in body["responses"] if item["status"] == 201]
    assert all(item["headers"]["x-ms-resource-unit"] == "1" for item in created)
    assert len(log) == 3000


# -- faults ----------------------------------------------------------------------------------


def test_faults_answer_503_with_retry_after_or_504_and_some_504_writes_were_applied():
    graph, log = users_stand_in()
    app = RealismMiddleware(graph, Realism(fault_rate=1.0, fault_applied_share=1.0, seed=3), tenant_id=TENANT)

    async def scenario():
        return [await call(app, "POST", "/v1.0/users", body=new_user(i)) for i in range(40)]

    results = asyncio.run(scenario())
    assert {r[0] for r in results} == {503, 504}
    for i, (status, headers, body) in enumerate(results):
        if status == 503:
            assert headers["retry-after"] == "1"
            assert body["error"]["code"] == "serviceNotAvailable"
            assert f"create u{i}@contoso.com" not in log
        else:
            assert "retry-after" not in headers
            assert body["error"] == {"code": "UnknownError", "message": "",
                                     "innerError": body["error"]["innerError"]}
            assert f"create u{i}@contoso.com" in log  # applied, then the answer was lost
    assert len(log) == sum(1 for r in results if r[0] == 504)


def test_504s_on_writes_are_not_applied_when_the_share_is_zero():
    graph, log = users_stand_in()
    app = RealismMiddleware(graph, Realism(fault_rate=1.0, fault_applied_share=0.0, seed=1), tenant_id=TENANT)

    async def scenario():
        return await asyncio.gather(*(call(app, "POST", "/v1.0/users", body=new_user(i)) for i in range(20)))

    statuses = asyncio.run(scenario())
    assert {s[0] for s in statuses} == {503, 504}
    assert log == []


def test_fault_rate_is_a_probability():
    graph, _ = users_stand_in()
    app = RealismMiddleware(graph, Realism(fault_rate=0.25, seed=42), tenant_id=TENANT)

    async def scenario():
        return [(await call(app, "GET", "/v1.0/users"))[0] for _ in range(2000)]

    faults = sum(1 for s in asyncio.run(scenario()) if s != 200)
    assert 400 < faults < 600


# -- latency ---------------------------------------------------------------------------------


def test_latency_and_jitter_delay_each_http_request():
    graph, _ = users_stand_in()
    app = LatencyMiddleware(graph, Realism(latency_ms=60, jitter_ms=40, seed=5))

    async def timed():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=LOCAL_BASE_URL,
                                     headers=AUTH) as c:
            durations = []
            for _ in range(5):
                start = time.perf_counter()
                resp = await c.get(LOCAL_BASE_URL + "/users")
                durations.append(time.perf_counter() - start)
                assert resp.status_code == 200
            return durations

    durations = asyncio.run(timed())
    assert all(0.06 <= d < 0.2 for d in durations)
    assert max(durations) - min(durations) > 0.002  # jitter varies the delay


def test_time_scale_does_not_shorten_latency():
    graph, _ = users_stand_in()
    app = compose(graph, Realism(latency_ms=50, time_scale=100), tenant_id=TENANT)

    async def one():
        start = time.perf_counter()
        status, _, _ = await call(app, "GET", "/v1.0/users")
        return status, time.perf_counter() - start

    status, took = asyncio.run(one())
    assert status == 200
    assert took >= 0.05


# -- replication lag -------------------------------------------------------------------------


def test_new_user_is_not_found_until_replicated():
    clock = FakeClock()
    graph, log = users_stand_in()
    app = RealismMiddleware(graph, Realism(replication_lag_s=2.0), tenant_id=TENANT, clock=clock)

    async def scenario():
        status, _, user = await call(app, "POST", "/v1.0/users", body=new_user("new"))
        assert status == 201
        uid = user["id"]
        early = [
            await call(app, "GET", f"/v1.0/users/{uid}"),
            await call(app, "PATCH", f"/v1.0/users/{uid}", body={"jobTitle": "x"}),
            await call(app, "GET", "/v1.0/users/U%40contoso.com".replace("U", "unew")),
            await call(app, "POST", "/v1.0/roleManagement/directory/roleAssignments",
                       body={"principalId": uid, "roleDefinitionId": "r", "directoryScopeId": "/"}),
        ]
        clock.now += 2.0
        late = [
            await call(app, "GET", f"/v1.0/users/{uid}"),
            await call(app, "POST", "/v1.0/roleManagement/directory/roleAssignments",
                       body={"principalId": uid, "roleDefinitionId": "r", "directoryScopeId": "/"}),
        ]
        return uid, early, late

    uid, early, late = asyncio.run(scenario())
    for status, headers, body in early:
        assert status == 404
        assert body["error"]["code"] == "Request_ResourceNotFound"
        assert headers["request-id"] == body["error"]["innerError"]["request-id"]
    assert early[0][2]["error"]["message"] == (
        f"Resource '{uid}' does not exist or one of its queried reference-property objects are not present."
    )
    assert early[2][2]["error"]["message"].startswith("Resource 'unew@contoso.com' does not exist")
    assert [s for s, _, _ in late] == [200, 201]
    assert log == ["create unew@contoso.com", f"assign {uid}"]  # the lagging assignment never arrived


def test_restored_user_lags_too_and_listing_is_unaffected():
    clock = FakeClock()
    graph, _ = users_stand_in()
    app = RealismMiddleware(graph, Realism(replication_lag_s=1.0), tenant_id=TENANT, clock=clock)

    async def scenario():
        restored = await call(app, "POST", "/v1.0/directory/deletedItems/abc/restore")
        by_id = await call(app, "GET", "/v1.0/users/abc")
        by_upn = await call(app, "GET", "/v1.0/users/back@contoso.com")
        listing = await call(app, "GET", "/v1.0/users")
        clock.now += 1.0
        after = await call(app, "GET", "/v1.0/users/abc")
        return restored, by_id, by_upn, listing, after

    restored, by_id, by_upn, listing, after = asyncio.run(scenario())
    assert restored[0] == 200
    assert by_id[0] == 404 and by_upn[0] == 404
    assert listing[0] == 200
    assert after[0] == 404  # the stand-in has no such user: the lag no longer answers for it
    assert after[2]["error"]["message"] == "abc"


# -- against the real local tenant -----------------------------------------------------------


def test_lag_on_the_real_tenant_inside_a_batch_then_visible(tmp_path):
    from provisioner.local import create_app, init_tenant

    state = tmp_path / "t.db"
    init_tenant(state)
    app = create_app(state, Realism(replication_lag_s=0.3))
    body = {"accountEnabled": True, "displayName": "Dee", "mailNickname": "dee",
            "userPrincipalName": "dee@contoso.onmicrosoft.com",
            "passwordProfile": {"forceChangePasswordNextSignIn": True, "password": "xWwvJ]6NMw+bWH-d"}}

    async def scenario():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=LOCAL_BASE_URL,
                                     headers=AUTH) as c:
            created = await c.post(LOCAL_BASE_URL + "/users", json=body)
            uid = created.json()["id"]
            assignment = {"principalId": uid, "roleDefinitionId": "fe930be7-5e62-47db-91af-98c3a49a38b1",
                          "directoryScopeId": "/"}
            early = await c.post(LOCAL_BASE_URL + "/$batch", json={"requests": [
                {"id": "get", "method": "GET", "url": f"/users/{uid}"},
                {"id": "assign", "method": "POST", "url": "/roleManagement/directory/roleAssignments",
                 "headers": {"Content-Type": "application/json"}, "body": assignment},
            ]})
            await asyncio.sleep(0.3)
            late_get = await c.get(f"{LOCAL_BASE_URL}/users/{uid}")
            late_assign = await c.post(LOCAL_BASE_URL + "/roleManagement/directory/roleAssignments",
                                       json=assignment)
            return created, early, late_get, late_assign

    created, early, late_get, late_assign = asyncio.run(scenario())
    assert created.status_code == 201
    assert early.status_code == 200
    items = {i["id"]: i for i in early.json()["responses"]}
    assert items["get"]["status"] == 404
    assert items["get"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert items["assign"]["status"] == 404
    assert items["assign"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert late_get.status_code == 200
    assert late_get.json()["userPrincipalName"] == "dee@contoso.onmicrosoft.com"
    assert late_assign.status_code == 201
    assert late_assign.json()["principalId"] == created.json()["id"]


def test_throttled_real_tenant_reports_resource_units(tmp_path):
    from provisioner.local import transport

    async def scenario():
        t = transport(tmp_path / "t.db", Realism(throttle=True))
        async with httpx.AsyncClient(transport=t, base_url=LOCAL_BASE_URL, headers=AUTH) as c:
            return [await c.get(LOCAL_BASE_URL + url) for url in
                    ("/users", "/users?$select=id", "/roleManagement/directory/roleAssignments?$expand=principal")]

    responses = asyncio.run(scenario())
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.headers["x-ms-resource-unit"] for r in responses] == ["2", "1", "2"]
