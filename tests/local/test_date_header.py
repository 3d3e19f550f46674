"""Every answer of the local tenant carries a `Date` on the tenant clock, whoever makes it: a route,
an error handler, realism (429, 503/504) or `$batch`; clients learn "now" from whatever they get."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
from graph_kit import AUTH, new_user

from provisioner.local import LOCAL_BASE_URL, Realism, advance_clock, create_app, init_tenant, tenant_now
from provisioner.local.serve import running_server

AHEAD = timedelta(days=40)


def tenant_ahead(tmp_path):
    state = tmp_path / "t.db"
    init_tenant(state)
    advance_clock(state, AHEAD)
    return state


def assert_tenant_date(resp: httpx.Response, state) -> None:
    """One `Date` header, on the tenant clock (40 days ahead of real time), to the second."""
    dates = resp.headers.get_list("date")
    assert len(dates) == 1, (resp.status_code, dates)
    date = parsedate_to_datetime(dates[0])
    assert abs(date - tenant_now(state)) < timedelta(seconds=3), (resp.status_code, dates[0])
    assert date - datetime.now(UTC) > AHEAD - timedelta(seconds=3)


def send_all(state, realism: Realism, requests: list[tuple[str, str, dict | None]]) -> list[httpx.Response]:
    async def scenario():
        transport = httpx.ASGITransport(app=create_app(state, realism))
        async with httpx.AsyncClient(transport=transport, base_url=LOCAL_BASE_URL, headers=AUTH) as c:
            return [await c.request(method, LOCAL_BASE_URL + path, json=body) for method, path, body in requests]

    return asyncio.run(scenario())


def test_routes_errors_and_batches_carry_the_tenant_date(tmp_path):
    state = tenant_ahead(tmp_path)
    responses = send_all(state, Realism(), [
        ("POST", "/users", new_user("dee")),
        ("GET", "/users/dee@contoso.onmicrosoft.com", None),
        ("PATCH", "/users/dee@contoso.onmicrosoft.com", {"jobTitle": "Analyst"}),
        ("GET", "/users/nobody@contoso.onmicrosoft.com", None),
        ("GET", "/nothing/here", None),
        ("PUT", "/users", None),
        ("POST", "/$batch", {"requests": [{"id": "1", "method": "GET", "url": "/users?$top=1"}]}),
        ("POST", "/$batch", {"requests": []}),
    ])
    assert [r.status_code for r in responses] == [201, 200, 204, 404, 400, 405, 200, 400]
    for resp in responses:
        assert_tenant_date(resp, state)


def test_realism_answers_carry_the_tenant_date(tmp_path):
    state = tenant_ahead(tmp_path)
    faults = send_all(state, Realism(fault_rate=1.0, fault_applied_share=0.0, seed=7),
                      [("GET", "/users", None)] * 4)
    assert {r.status_code for r in faults} == {503, 504}
    for resp in faults:
        assert_tenant_date(resp, state)

    # 3,500 resource units per 10 s on a small tenant: about 175 batches of 20 one-unit reads spend
    # them (more as the bucket refills); the first batch with a refused item puts it in debt.
    reads = {"requests": [{"id": str(i), "method": "GET", "url": "/users?$select=id"} for i in range(20)]}

    async def until_throttled():
        transport = httpx.ASGITransport(app=create_app(state, Realism(throttle=True, tenant_size="S")))
        async with httpx.AsyncClient(transport=transport, base_url=LOCAL_BASE_URL, headers=AUTH) as c:
            for _ in range(1000):
                batch = await c.post(LOCAL_BASE_URL + "/$batch", json=reads)
                if 429 in {item["status"] for item in batch.json()["responses"]}:
                    return batch, await c.get(LOCAL_BASE_URL + "/users")
        raise AssertionError("never throttled")

    batch, after = asyncio.run(until_throttled())
    assert batch.status_code == 200
    assert after.status_code == 429
    assert_tenant_date(batch, state)
    assert_tenant_date(after, state)


def test_served_answers_carry_one_tenant_date(tmp_path):
    state = tenant_ahead(tmp_path)
    with running_server(state) as url:
        for resp in (httpx.get(url + "/users?$top=1", headers=AUTH), httpx.get(url + "/users/nobody", headers=AUTH)):
            assert_tenant_date(resp, state)
