"""The local tenant's front door (graph-quirks §10, §13; issue: `local serve` answers only real
clients): 401 without a bearer token, JSON-only writes, Graph's headers on every answer, and a
served tenant that refuses foreign Host and Origin headers."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
from graph_kit import AUTH, DOMAIN, new_user

from provisioner.local import LOCAL_BASE_URL, create_app
from provisioner.local.serve import running_server

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
JSON_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"


def exchange(state, *requests: tuple[str, str, dict]) -> list[httpx.Response]:
    """Send (method, path, httpx keyword arguments) to a tenant in-process, in order."""

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=create_app(state))
        async with httpx.AsyncClient(transport=transport, base_url=LOCAL_BASE_URL) as c:
            return [await c.request(method, LOCAL_BASE_URL + path, **kw) for method, path, kw in requests]

    return asyncio.run(scenario())


def test_no_bearer_token_is_graphs_401(state):
    answers = exchange(state, ("GET", "/users", {}),
                       ("GET", "/users", {"headers": {"Authorization": "Bearer "}}),
                       ("GET", "/users", {"headers": {"Authorization": "Basic dTpw"}}),
                       ("POST", "/$batch", {"json": {"requests": [{"id": "1", "method": "GET", "url": "/users"}]}}),
                       ("GET", "/users", {"headers": {"client-request-id": "c-9", **AUTH}}))
    for resp in answers[:4]:
        assert resp.status_code == 401
        error = resp.json()["error"]
        assert (error["code"], error["message"]) == ("InvalidAuthenticationToken", "Access token is empty.")
        rid = resp.headers["request-id"]
        assert GUID.match(rid)
        assert error["innerError"]["request-id"] == rid
        # No client-request-id was sent: Graph echoes its request-id there.
        assert error["innerError"]["client-request-id"] == rid == resp.headers["client-request-id"]
        assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    assert answers[4].status_code == 200
    assert answers[4].headers["client-request-id"] == "c-9"


def test_writes_take_only_json_bodies(state):
    body = json.dumps(new_user("eve")).encode()
    answers = exchange(
        state,
        ("POST", "/users", {"content": body, "headers": {"Content-Type": "text/plain", **AUTH}}),
        ("POST", "/users", {"content": body, "headers": AUTH}),
        ("POST", "/$batch", {"content": b'{"requests":[]}', "headers": {"Content-Type": "text/plain", **AUTH}}),
        ("GET", f"/users/eve@{DOMAIN}", {"headers": AUTH}),
        ("POST", "/users", {"content": body, "headers": {"Content-Type": "application/json; charset=utf-8",
                                                            **AUTH}}),
    )
    assert [r.status_code for r in answers] == [415, 415, 415, 404, 201]
    assert answers[0].json()["error"] == {
        "code": "UnsupportedMediaType",
        "message": "Content-Type 'text/plain' is not supported. Send the body as application/json.",
        "innerError": answers[0].json()["error"]["innerError"],
    }


def test_graphs_headers_on_every_answer(state):
    created, listed, deleted, missing = exchange(
        state,
        ("POST", "/users", {"json": new_user("ann"), "headers": AUTH}),
        ("GET", "/users?$select=id", {"headers": AUTH}),
        ("DELETE", f"/users/ann@{DOMAIN}", {"headers": AUTH}),
        ("GET", f"/users/ann@{DOMAIN}", {"headers": AUTH}),
    )
    for resp in (created, listed, deleted, missing):
        assert resp.headers["cache-control"] == "no-cache"
        assert resp.headers["strict-transport-security"] == "max-age=31536000"
        assert set(json.loads(resp.headers["x-ms-ags-diagnostic"])["ServerInfo"]) == {
            "DataCenter", "Slice", "Ring", "ScaleUnit", "RoleInstance"}
        assert resp.headers["x-ms-resource-unit"].isdigit()
        assert GUID.match(resp.headers["request-id"])
        assert resp.headers["client-request-id"] == resp.headers["request-id"]
        assert "date" in resp.headers
    for resp in (created, listed):
        assert resp.headers["content-type"] == JSON_TYPE
        assert resp.headers["odata-version"] == "4.0"
        assert resp.headers["vary"] == "Accept-Encoding"
    # 201: Graph's internal v2 URL of the object.
    assert re.fullmatch(r"https://graph\.microsoft\.com/v2/[0-9a-f-]{36}/directoryObjects/"
                        + created.json()["id"] + "/Microsoft.DirectoryServices.User", created.headers["location"])
    # 204: no content headers, no body.
    assert deleted.status_code == 204 and deleted.content == b""
    assert not {"content-type", "odata-version", "vary"} & set(deleted.headers)
    # An error: no OData-Version.
    assert missing.status_code == 404 and "odata-version" not in missing.headers


def test_served_tenant_refuses_foreign_host_and_origin(tmp_path):
    body = json.dumps(new_user("mallory")).encode()
    with running_server(tmp_path / "t.db") as url:
        port = url.split(":")[2].split("/")[0]
        # The drill: a page's text/plain POST, rebound name, foreign Origin, no token.
        drill = httpx.post(url + "/users", content=body, headers={
            "Content-Type": "text/plain", "Host": "attacker.example", "Origin": "http://attacker.example"})
        rebound = httpx.get(url + "/users", headers={"Host": f"attacker.example:{port}", **AUTH})
        other_port = httpx.get(url + "/users", headers={"Host": "127.0.0.1:1", **AUTH})
        foreign = httpx.get(url + "/users", headers={"Origin": "https://attacker.example", **AUTH})
        null_origin = httpx.get(url + "/users", headers={"Origin": "null", **AUTH})
        tokenless = httpx.post(url + "/users", json=new_user("mallory"))
        own = [httpx.get(url + "/users?$select=id", headers={"Host": host, **AUTH})
               for host in (f"127.0.0.1:{port}", f"localhost:{port}")]
        local_page = httpx.get(url + "/users", headers={"Origin": f"http://localhost:{port}", **AUTH})
        after = httpx.get(url + f"/users/mallory@{DOMAIN}", headers=AUTH)
    for resp in (drill, rebound, other_port):
        assert resp.status_code == 421
        assert resp.json()["error"]["code"] == "Request_MisdirectedRequest"
        assert resp.json()["error"]["message"] == (
            f"The local tenant answers requests for 127.0.0.1:{port} or localhost:{port} only, not for Host "
            f"'{resp.request.headers['host']}'.")
    for resp in (foreign, null_origin):
        assert resp.status_code == 403
        assert resp.json()["error"]["code"] == "Authorization_RequestDenied"
    assert tokenless.status_code == 401
    assert [r.status_code for r in own] == [200, 200]
    assert local_page.status_code == 200
    assert after.status_code == 404  # nothing was created
