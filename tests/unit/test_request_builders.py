"""The Graph requests the product builds stay inside what real Graph accepts (graph-quirks §1,
§4, §6): no $top on roleDefinitions, at most 15 values or `or` operands in a filter, and `$` UPNs
addressed by key."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from provisioner import graph, queries
from provisioner.queries import MAX_IN_VALUES
from provisioner.services.reads import DEFINITIONS_REQUEST, GA_REQUEST, Reader

UPNS = [f"user{i}@contoso.com" for i in range(40)]


def query(request: graph.Request) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query)


def operands(flt: str) -> int:
    """How many operands Graph counts toward its limit of 15: `or` operands and `in` values."""
    values = sum(len(re.findall(r"'(?:[^']|'')*'", m)) for m in re.findall(r"\bin \((.*?)\)", flt))
    return max(values, flt.count(" or ") + 1)


def test_role_definitions_are_never_asked_with_top() -> None:
    for request in (queries.role_definitions_request("x"), DEFINITIONS_REQUEST):
        assert request.url.split("?")[0] == "/roleManagement/directory/roleDefinitions"
        assert "$top" not in query(request)


def test_no_filter_exceeds_15_values_or_or_operands() -> None:
    requests = Reader.user_requests(UPNS)
    assert [len(re.findall(r"'[^']*'", query(r)["$filter"][0])) for r in requests] == [15, 15, 10]
    assert MAX_IN_VALUES == 15
    built = [*requests, queries.users_by_upn_request("u", UPNS[:15]), GA_REQUEST,
             queries.assignments_request("a", principal_id="p", role_id="r")]
    for request in built:
        flt = query(request).get("$filter", [""])[0]
        assert operands(flt) <= 15, request.url


def test_dollar_upns_are_addressed_by_key() -> None:
    assert queries.get_user_request("g", "$svc#01@contoso.com").url.startswith(
        "/users('%24svc%2301%40contoso.com')?$select=")
    assert queries.delete_user_request("d", "$o'neil@contoso.com").url == "/users('%24o''neil%40contoso.com')"
    assert queries.update_user_request("u", "$a@contoso.com", {}).url == "/users('%24a%40contoso.com')"
    # Ids and ordinary UPNs keep the plain form.
    assert queries.delete_user_request("d", "a#b@contoso.com").url == "/users/a%23b@contoso.com"
    oid = "9f3c1a52-0000-4000-8000-000000000001"
    assert queries.delete_user_request("d", oid).url == f"/users/{oid}"
