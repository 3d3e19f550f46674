"""GET /users query options: $top, $select, $filter, $count, $orderby, advanced queries, paging."""

from __future__ import annotations

import pytest
from graph_kit import DOMAIN, assert_error, create

from provisioner.local.tenant import init_tenant

EVENTUAL = {"ConsistencyLevel": "eventual"}


@pytest.fixture
def people(client):
    """Five users besides the admin, with distinct names and mail."""
    for alias, name, mail in [
        ("ann", "Ann Bell", "ann@x.com"),
        ("bob", "Bob Stone", None),
        ("cat", "Cat Ames", "cat@y.com"),
        ("dan", "Dan Bell", "dan@x.com"),
        ("eve", "Eve Ng", None),
    ]:
        extra = {"mail": mail} if mail else {}
        create(client, alias, displayName=name, **extra)
    client.patch(f"/v1.0/users/eve@{DOMAIN}", json={"accountEnabled": False})
    return client


def upns(resp) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [u["userPrincipalName"].split("@")[0] for u in resp.json()["value"]]


def test_default_order_is_upn_and_default_page(people):
    assert upns(people.get("/v1.0/users")) == ["admin", "ann", "bob", "cat", "dan", "eve"]
    body = people.get("/v1.0/users").json()
    assert body["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#users"
    assert "@odata.nextLink" not in body and "@odata.count" not in body


@pytest.mark.parametrize("top", ["0", "1000", "-1", "abc"])
def test_top_out_of_range(client, top):
    assert_error(
        client.get(f"/v1.0/users?$top={top}"),
        400,
        "Request_BadRequest",
        f"Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive.",
    )


def test_select(people):
    body = people.get("/v1.0/users?$select=displayName,accountEnabled&$top=2").json()
    assert (
        body["@odata.context"]
        == "https://graph.microsoft.com/v1.0/$metadata#users(displayName,accountEnabled)"
    )
    assert body["value"] == [
        {"displayName": "MOD Administrator", "accountEnabled": True},
        {"displayName": "Ann Bell", "accountEnabled": True},
    ]
    assert_error(
        people.get("/v1.0/users?$select=nope"),
        400,
        "BadRequest",
        "Parsing OData Select and Expand failed: Could not find a property named 'nope' on type "
        "'microsoft.graph.user'.",
    )


@pytest.mark.parametrize(
    "flt,expected",
    [
        ("userPrincipalName eq 'ANN@contoso.onmicrosoft.com'", ["ann"]),
        ("displayName eq 'bob stone'", ["bob"]),
        ("mail eq 'cat@y.com'", ["cat"]),
        ("startswith(displayName,'Da')", ["dan"]),
        ("startswith(userPrincipalName,'a')", ["admin", "ann"]),
        ("startswith(mail,'ann@')", ["ann"]),
        (
            "userPrincipalName in ('bob@contoso.onmicrosoft.com','eve@contoso.onmicrosoft.com')",
            ["bob", "eve"],
        ),
        ("accountEnabled eq false", ["eve"]),
        ("onPremisesSyncEnabled eq true", []),
        ("startswith(displayName,'A') or startswith(displayName,'B')", ["ann", "bob"]),
        ("startswith(mail,'d') and accountEnabled eq true", ["dan"]),
        ("(displayName eq 'Ann Bell' or displayName eq 'Eve Ng') and accountEnabled eq true", ["ann"]),
        ("startswith(displayName,'50%')", []),
        ("displayName eq 'O''Brien'", []),
    ],
)
def test_default_filters(people, flt, expected):
    assert upns(people.get("/v1.0/users", params={"$filter": flt})) == expected


@pytest.mark.parametrize(
    "flt,expected",
    [
        ("endswith(mail,'@x.com')", ["ann", "dan"]),
        ("endswith(userPrincipalName,'contoso.onmicrosoft.com') and startswith(displayName,'C')", ["cat"]),
        ("accountEnabled ne true", ["eve"]),
        ("not(startswith(displayName,'A'))", ["bob", "cat", "dan", "eve", "admin"]),
        ("mail ne null", ["admin", "ann", "cat", "dan"]),
    ],
)
def test_advanced_filters_need_header_and_count(people, flt, expected):
    plain = people.get("/v1.0/users", params={"$filter": flt})
    assert_error(plain, 400, "Request_UnsupportedQuery", "Unsupported Query.")
    header_only = people.get("/v1.0/users", params={"$filter": flt}, headers=EVENTUAL)
    assert_error(header_only, 400, "Request_UnsupportedQuery")
    resp = people.get("/v1.0/users", params={"$filter": flt, "$count": "true"}, headers=EVENTUAL)
    assert sorted(upns(resp)) == sorted(expected)
    assert resp.json()["@odata.count"] == len(expected)


def test_filter_errors(people):
    assert_error(
        people.get(
            "/v1.0/users", params={"$filter": "endswith(displayName,'x')", "$count": "true"}, headers=EVENTUAL
        ),
        400,
        "Request_UnsupportedQuery",
        "Unsupported or invalid query filter clause specified for property 'displayName' of resource 'User'.",
    )
    assert_error(
        people.get("/v1.0/users", params={"$filter": "shoeSize eq '9'"}),
        400,
        "Request_UnsupportedQuery",
        "Property 'shoeSize' does not exist as a declared property or extension property.",
    )
    assert_error(people.get("/v1.0/users", params={"$filter": "displayName eq"}), 400, "BadRequest")
    assert_error(
        people.get("/v1.0/users", params={"$filter": "accountEnabled eq 'yes'"}), 400, "Request_BadRequest"
    )


def test_count_param_ignored_without_header(people):
    body = people.get("/v1.0/users?$count=true").json()
    assert "@odata.count" not in body and len(body["value"]) == 6
    body = people.get("/v1.0/users?$count=true&$top=2", headers=EVENTUAL).json()
    assert body["@odata.count"] == 6 and len(body["value"]) == 2


def test_count_segment(people):
    assert_error(
        people.get("/v1.0/users/$count"), 400, "Request_BadRequest", "$count is not currently supported."
    )
    resp = people.get("/v1.0/users/$count", headers=EVENTUAL)
    assert resp.status_code == 200 and resp.text == "6"
    assert resp.headers["content-type"].startswith("text/plain")


def test_orderby(people):
    assert upns(people.get("/v1.0/users?$orderby=displayName")) == [
        "ann",
        "bob",
        "cat",
        "dan",
        "eve",
        "admin",
    ]
    assert upns(people.get("/v1.0/users?$orderby=displayName desc&$top=2")) == ["admin", "eve"]
    assert upns(people.get("/v1.0/users?$orderby=userPrincipalName desc")) == [
        "eve",
        "dan",
        "cat",
        "bob",
        "ann",
        "admin",
    ]
    sorting = "Sorting not supported for current query."
    assert_error(people.get("/v1.0/users?$orderby=createdDateTime"), 400, "Request_UnsupportedQuery", sorting)
    assert_error(people.get("/v1.0/users?$orderby=jobTitle"), 400, "Request_UnsupportedQuery", sorting)
    combined = {"$orderby": "displayName", "$filter": "startswith(displayName,'D')"}
    assert_error(people.get("/v1.0/users", params=combined), 400, "Request_UnsupportedQuery", sorting)
    assert upns(people.get("/v1.0/users", params={**combined, "$count": "true"}, headers=EVENTUAL)) == ["dan"]
    resp = people.get(
        "/v1.0/users?$orderby=createdDateTime&$count=true&$select=createdDateTime,id", headers=EVENTUAL
    )
    keys = [(u["createdDateTime"], u["id"]) for u in resp.json()["value"]]
    assert len(keys) == 6 and keys == sorted(keys)


def test_paging_keeps_options_and_visits_every_user_once(people):
    url = "/v1.0/users?$top=2&$select=id,userPrincipalName&$orderby=displayName desc"
    seen, pages = [], 0
    while url:
        body = people.get(url).json()
        pages += 1
        assert body["@odata.context"].endswith("#users(id,userPrincipalName)")
        seen += [u["userPrincipalName"].split("@")[0] for u in body["value"]]
        url = body.get("@odata.nextLink")
        if url:
            assert url.startswith("http://local.tenant/v1.0/users?")
            assert (
                "$top=2" in url
                and "$select=id,userPrincipalName" in url
                and "$orderby=displayName%20desc" in url
            )
            assert "$skiptoken=" in url
    assert pages == 3
    assert seen == ["admin", "eve", "dan", "cat", "bob", "ann"]


def test_paging_with_filter_and_count_only_on_first_page(people):
    first = people.get(
        "/v1.0/users",
        params={"$filter": "endswith(mail,'.com')", "$count": "true", "$top": "2"},
        headers=EVENTUAL,
    ).json()
    assert first["@odata.count"] == 4
    second = people.get(first["@odata.nextLink"], headers=EVENTUAL).json()
    assert "@odata.count" not in second
    assert len(first["value"]) + len(second["value"]) == 4 and "@odata.nextLink" not in second


def test_bad_skiptoken(client):
    assert_error(
        client.get("/v1.0/users?$skiptoken=%%%"), 400, "Request_BadRequest", "Invalid $skiptoken value."
    )


def test_listing_a_large_tenant_pages_with_keyset(state, client):
    summary = init_tenant(state, seed_users=2500, synced_fraction=0.2, seed=7)
    assert summary["users"] == 2501 and summary["seeded"] == 2500 and summary["created"] is False
    url, total, ids = "/v1.0/users?$top=999&$select=id", 0, set()
    while url:
        body = client.get(url).json()
        ids.update(u["id"] for u in body["value"])
        total += len(body["value"])
        url = body.get("@odata.nextLink")
    assert total == len(ids) == 2501
    synced = client.get(
        "/v1.0/users",
        params={"$filter": "onPremisesSyncEnabled eq true", "$count": "true", "$top": "1"},
        headers=EVENTUAL,
    ).json()["@odata.count"]
    assert synced == summary["synced"] and 400 < synced < 600
