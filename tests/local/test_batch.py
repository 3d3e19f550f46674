"""`POST /v1.0/$batch` over the ASGI transport, against a small recording Graph stand-in."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest
from graph_kit import AUTH, new_user
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from provisioner.local.app import LOCAL_BASE_URL, compose

JSON_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def stand_in() -> tuple[Starlette, list[str]]:
    """A Graph stand-in: echoes requests, fails on /fail, answers 204 on DELETE; logs call order."""
    calls: list[str] = []

    async def echo(request: Request) -> Response:
        calls.append(f"{request.method} {request.url.path}")
        body = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "query": dict(request.query_params),
                "headers": {k: v for k, v in request.headers.items() if k != "content-length"},
                "body": json.loads(body) if body else None,
            },
            status_code=201 if request.method == "POST" else 200,
            headers={"request-id": "rid-" + str(len(calls)), "Location": "/users/x"},
        )

    async def fail(request: Request) -> Response:
        calls.append(f"{request.method} {request.url.path}")
        return JSONResponse({"error": {"code": "Request_BadRequest", "message": "nope"}}, status_code=400)

    async def delete(request: Request) -> Response:
        calls.append(f"{request.method} {request.url.path}")
        return Response(status_code=204)

    async def text(request: Request) -> Response:
        return Response(b"\x00binary", media_type="application/octet-stream")

    async def boom(request: Request) -> Response:
        raise RuntimeError("handler crashed")

    app = Starlette(routes=[
        Route("/v1.0/fail", fail, methods=["GET", "POST"]),
        Route("/v1.0/text", text),
        Route("/v1.0/boom", boom),
        Route("/v1.0/users/{id}", delete, methods=["DELETE"]),
        Route("/v1.0/{rest:path}", echo, methods=["GET", "POST", "PATCH"]),
    ])
    return app, calls


async def post_batch(payload, *, app=None, headers=None) -> httpx.Response:
    if app is None:
        app = compose(stand_in()[0], tenant_id="t")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=LOCAL_BASE_URL, headers=AUTH) as client:
        content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return await client.post(LOCAL_BASE_URL + "/$batch", content=content,
                                 headers={"Content-Type": "application/json", **(headers or {})})


def run(coro):
    return asyncio.run(coro)


def by_id(resp: httpx.Response) -> dict:
    return {item["id"]: item for item in resp.json()["responses"]}


def test_items_are_dispatched_with_path_query_headers_body_and_auth():
    payload = {"requests": [
        {"id": "1", "method": "POST", "url": "/users",
         "headers": {"Content-Type": "application/json"}, "body": {"displayName": "A"}},
        {"id": "2", "method": "GET", "url": "users?$select=id,userPrincipalName&$filter=startswith(displayName,'a b')",
         "headers": {"ConsistencyLevel": "eventual"}},
        {"id": "3", "method": "GET", "url": "/users/caf%C3%A9%40contoso.com"},
    ]}
    resp = run(post_batch(payload, headers={"Authorization": "Bearer tok", "client-request-id": "c-1"}))
    assert resp.status_code == 200
    assert resp.headers["content-type"] == JSON_TYPE
    assert GUID.match(resp.headers["request-id"])
    assert resp.headers["client-request-id"] == "c-1"
    items = by_id(resp)
    assert [r["id"] for r in resp.json()["responses"]] == ["1", "2", "3"]

    one = items["1"]
    assert one["status"] == 201
    # Graph sends no request-id on an item (graph-quirks §3), whatever answered it.
    assert one["headers"] == {"Cache-Control": "no-cache", "x-ms-resource-unit": "1",
                              "Content-Type": "application/json", "Location": "/users/x"}
    assert one["body"]["method"] == "POST"
    assert one["body"]["path"] == "/v1.0/users"
    assert one["body"]["body"] == {"displayName": "A"}
    assert one["body"]["headers"]["content-type"] == "application/json"
    assert one["body"]["headers"]["authorization"] == "Bearer tok"
    assert one["body"]["headers"]["host"] == "local.tenant"

    two = items["2"]["body"]
    assert two["path"] == "/v1.0/users"
    assert two["query"] == {"$select": "id,userPrincipalName", "$filter": "startswith(displayName,'a b')"}
    assert two["headers"]["consistencylevel"] == "eventual"
    assert two["body"] is None

    assert items["3"]["body"]["path"] == "/v1.0/users/café@contoso.com"


def test_204_item_has_no_body_and_binary_body_is_base64():
    payload = {"requests": [
        {"id": "d", "method": "DELETE", "url": "/users/u1"},
        {"id": "t", "method": "GET", "url": "/text"},
    ]}
    items = by_id(run(post_batch(payload)))
    assert items["d"] == {"id": "d", "status": 204, "headers": {"Cache-Control": "no-cache", "x-ms-resource-unit": "1"}}
    assert items["t"]["status"] == 200
    assert items["t"]["headers"] == {"Cache-Control": "no-cache", "x-ms-resource-unit": "1",
                                     "Content-Type": "application/octet-stream"}
    assert items["t"]["body"] == "AGJpbmFyeQ=="


def test_crashing_item_answers_500_and_others_still_run():
    payload = {"requests": [
        {"id": "a", "method": "GET", "url": "/boom"},
        {"id": "b", "method": "GET", "url": "/users"},
    ]}
    resp = run(post_batch(payload))
    assert resp.status_code == 200
    items = by_id(resp)
    assert items["a"]["status"] == 500
    assert items["b"]["status"] == 200


def test_twenty_items_pass_and_twenty_one_are_refused():
    twenty = {"requests": [{"id": str(i), "method": "GET", "url": "/users"} for i in range(20)]}
    resp = run(post_batch(twenty))
    assert resp.status_code == 200
    assert sorted(int(k) for k in by_id(resp)) == list(range(20))

    resp = run(post_batch({"requests": twenty["requests"] + [{"id": "20", "method": "GET", "url": "/users"}]}))
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["code"] == "BadRequest"
    assert err["message"] == "The batch has 21 requests; a batch may hold at most 20."
    assert GUID.match(err["innerError"]["request-id"])
    assert err["innerError"]["request-id"] == resp.headers["request-id"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$", err["innerError"]["date"])


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        ([{"id": "1", "method": "GET", "url": "/a"}, {"id": "1", "method": "GET", "url": "/b"}],
         "Request Id 1 has to be unique in a batch."),
        ([{"id": "A", "method": "GET", "url": "/a"}, {"id": "a", "method": "GET", "url": "/b"}],
         "Request Id a has to be unique in a batch."),
        ([{"method": "GET", "url": "/a"}],
         "Request at index 0 has no id; every request needs a string id."),
        ([{"id": "1", "url": "/a"}], "Request 1 has no method."),
        ([{"id": "1", "method": "GET"}], "Request 1 has no url."),
        ([{"id": "1", "method": "POST", "url": "/users", "body": {"a": 1}}],
         "Request 1 has a body but no Content-Type header."),
        ([{"id": "1", "method": "GET", "url": "/a", "dependsOn": ["9"]}],
         "Request 1 depends on an unknown request id '9'."),
        ([{"id": "1", "method": "GET", "url": "/a", "dependsOn": ["2"]},
          {"id": "2", "method": "GET", "url": "/b", "dependsOn": ["1"]}],
         "The dependsOn references of the batch form a cycle."),
        ([{"id": "1", "method": "GET", "url": "/a"}, {"id": "2", "method": "GET", "url": "/b"},
          {"id": "3", "method": "GET", "url": "/c", "dependsOn": ["1"]}],
         "Batch should be either fully sequential or fully parallel."),
        ([], "Invalid batch payload format: 'requests' must be a non-empty array."),
    ],
)
def test_malformed_batches_are_refused_whole(requests, message):
    resp = run(post_batch({"requests": requests}))
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "BadRequest"
    assert resp.json()["error"]["message"] == message


def test_invalid_json_and_wrong_method():
    resp = run(post_batch(b"{not json"))
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == "Invalid batch payload format: the body is not valid JSON."

    async def get():
        app = compose(stand_in()[0], tenant_id="t")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
            return await client.get(LOCAL_BASE_URL + "/$batch")

    resp = run(get())
    assert resp.status_code == 405
    assert resp.json()["error"]["code"] == "BadRequest"


def test_absolute_url_and_unknown_method_fail_only_their_item():
    payload = {"requests": [
        {"id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users"},
        {"id": "2", "method": "TRACE", "url": "/users"},
        {"id": "3", "method": "GET", "url": "/users"},
    ]}
    resp = run(post_batch(payload))
    assert resp.status_code == 200
    items = by_id(resp)
    assert items["1"]["status"] == 400
    assert items["1"]["body"]["error"]["message"] == "The url of a batch request must be relative, such as /users."
    assert items["2"]["status"] == 405
    assert items["3"]["status"] == 200


def test_sequential_batch_runs_in_dependency_order_and_424s_after_a_failure():
    app, calls = stand_in()
    payload = {"requests": [
        {"id": "4", "method": "GET", "url": "/d", "dependsOn": ["3"]},
        {"id": "3", "method": "POST", "url": "/fail", "dependsOn": ["2"]},
        {"id": "2", "method": "GET", "url": "/b", "dependsOn": ["1"]},
        {"id": "1", "method": "GET", "url": "/a"},
    ]}
    resp = run(post_batch(payload, app=compose(app, tenant_id="t")))
    assert resp.status_code == 200
    assert calls == ["GET /v1.0/a", "GET /v1.0/b", "POST /v1.0/fail"]
    items = by_id(resp)
    assert [items[k]["status"] for k in "1234"] == [200, 200, 400, 424]
    assert items["4"]["headers"] == {"Cache-Control": "no-cache", "x-ms-resource-unit": "1",
                                     "Content-Type": "application/json"}
    assert items["4"]["body"]["error"]["code"] == "FailedDependency"


def test_parallel_items_run_concurrently():
    in_flight = 0
    peak = 0

    async def slow(scope, receive, send):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    payload = {"requests": [{"id": str(i), "method": "GET", "url": "/users"} for i in range(5)]}
    resp = run(post_batch(payload, app=compose(slow, tenant_id="t")))
    assert resp.status_code == 200
    assert peak == 5


# -- against the real local tenant -----------------------------------------------------------


def create_item(rid: str, alias: str) -> dict:
    return {"id": rid, "method": "POST", "url": "/users", "headers": {"Content-Type": "application/json"},
            "body": new_user(alias)}


def test_batch_creates_users_in_the_local_tenant(tmp_path):
    from provisioner.local import transport

    async def scenario():
        t = transport(tmp_path / "t.db")
        async with httpx.AsyncClient(transport=t, base_url=LOCAL_BASE_URL, headers=AUTH) as c:
            batch = await c.post(LOCAL_BASE_URL + "/$batch", json={"requests": [
                *(create_item(str(i), f"user{i}") for i in range(19)),
                create_item("dup", "user0"),
            ]})
            listing = await c.get(LOCAL_BASE_URL + "/users?$filter=startswith(userPrincipalName,'user')&$top=999")
            return batch, listing

    batch, listing = run(scenario())
    assert batch.status_code == 200
    items = by_id(batch)
    created = [items[str(i)] for i in range(19)]
    assert {item["status"] for item in created} == {201}
    assert all(GUID.match(item["body"]["id"]) for item in created)
    assert all(item["headers"] == {"Cache-Control": "no-cache", "x-ms-resource-unit": "1", "OData-Version": "4.0",
                                   "Content-Type": JSON_TYPE + ";charset=utf-8",
                                   "Location": item["headers"]["Location"]} for item in created)
    assert all(item["headers"]["Location"].startswith("https://graph.microsoft.com/v2/") for item in created)
    assert items["dup"]["headers"] == {"Cache-Control": "no-cache", "x-ms-resource-unit": "1",
                                       "Content-Type": "application/json"}
    assert set(items["dup"]["body"]["error"]["innerError"]) == {"date", "request-id", "client-request-id"}
    assert items["dup"]["status"] == 400
    assert items["dup"]["body"]["error"]["code"] == "Request_BadRequest"
    assert [d["code"] for d in items["dup"]["body"]["error"]["details"]] == ["ObjectConflict"]
    assert listing.status_code == 200
    assert sorted(u["userPrincipalName"] for u in listing.json()["value"]) == sorted(
        f"user{i}@contoso.onmicrosoft.com" for i in range(19)
    )


def test_sequential_batch_create_then_read_and_424_on_a_failed_create(tmp_path):
    from provisioner.local import create_app

    payload = {"requests": [
        create_item("1", "carol"),
        {"id": "2", "method": "GET", "url": "/users/carol@contoso.onmicrosoft.com?$select=id,displayName",
         "dependsOn": ["1"]},
        {**create_item("3", "carol"), "dependsOn": ["2"]},
        {"id": "4", "method": "DELETE", "url": "/users/carol@contoso.onmicrosoft.com", "dependsOn": ["3"]},
    ]}
    resp = run(post_batch(payload, app=create_app(tmp_path / "t.db")))
    items = by_id(resp)
    assert [items[k]["status"] for k in "1234"] == [201, 200, 400, 424]
    assert items["2"]["body"]["displayName"] == "Carol"
    assert items["2"]["body"]["id"] == items["1"]["body"]["id"]
