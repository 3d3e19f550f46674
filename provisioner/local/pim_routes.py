"""Routes for PIM (graph-pim-baseline P§A0-A4): the six schedule collections and the role settings.
Registered by `graph_app.graph_app`; the semantics live in `pim` and `pim_policy`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import pim, pim_policy
from .graph_app import _page, graph
from .odata import context_url, parse_query
from .schema_guard import split_top
from .store import Store
from .wire import GRAPH_ROOT, empty_response, json_response, request_json

BASE = "/v1.0/roleManagement/directory"
SETS = {
    ("eligible", "requests"): "roleEligibilityScheduleRequests",
    ("eligible", "schedules"): "roleEligibilitySchedules",
    ("eligible", "instances"): "roleEligibilityScheduleInstances",
    ("active", "requests"): "roleAssignmentScheduleRequests",
    ("active", "schedules"): "roleAssignmentSchedules",
    ("active", "instances"): "roleAssignmentScheduleInstances",
}


def _set(kind: str, layer: str) -> str:
    return f"roleManagement/directory/{SETS[(kind, layer)]}"


def _kind(request: Request) -> str:
    return "eligible" if "/roleEligibility" in request.url.path else "active"


async def _list(store: Store, request: Request, layer: str) -> Response:
    kind = _kind(request)
    if layer == "requests":
        q = parse_query(request, pim.REQUEST_PROPS, "request", set(), "id")
        items, position, count = pim.list_requests(store, kind, q)
    else:
        props = pim.props_for(kind, layer == "schedules")
        q = parse_query(request, props, "schedule", set(), "id")
        items, position, count = pim.list_rows(store, kind, layer == "schedules", q)
    return json_response(request, _page(request, context_url(_set(kind, layer), None), items, position, count))


async def _get(store: Store, request: Request, layer: str) -> Response:
    kind, key = _kind(request), request.path_params["key"]
    item = pim.get_request(store, kind, key) if layer == "requests" else \
        pim.get_row(store, kind, layer == "schedules", key)
    return json_response(request, {"@odata.context": context_url(_set(kind, layer), None, entity=True), **item})


def _handler(name: str, layer: str, verb: str):
    """A named route handler (the permission rules are keyed by name; each kind has its own)."""

    async def handler(store: Store, request: Request) -> Response:
        if verb == "list":
            return await _list(store, request, layer)
        if verb == "get":
            return await _get(store, request, layer)
        kind = _kind(request)
        answer = pim.submit(store, kind, await request_json(request), None)
        body = {"@odata.context": context_url(_set(kind, "requests"), None, entity=True), **answer}
        return json_response(request, body, 201)

    handler.__name__ = handler.__qualname__ = name
    return graph(handler)


def _collection(kind: str, layer: str) -> list[Route]:
    name = SETS[(kind, layer)]
    stem = f"{'eligibility' if kind == 'eligible' else 'assignment'}_{layer}"
    routes = [Route(f"{BASE}/{name}", _handler(f"list_{stem}", layer, "list"), methods=["GET"]),
              Route(f"{BASE}/{name}/{{key}}", _handler(f"get_{stem}", layer, "get"), methods=["GET"])]
    if layer == "requests":
        routes.append(Route(f"{BASE}/{name}", _handler(f"create_{stem}", layer, "create"), methods=["POST"]))
    return routes


# -- role settings ------------------------------------------------------------------------------


def _expands(request: Request) -> tuple[bool, bool]:
    """($expand=policy, and its rules) from `policy($expand=rules)` or `rules`."""
    items = [i.replace(" ", "") for i in split_top(request.query_params.get("$expand", ""))]
    policy = any(i.startswith("policy") for i in items)
    return policy, any("rules" in i for i in items)


@graph
async def list_policy_assignments(store: Store, request: Request) -> Response:
    policy, with_rules = _expands(request)
    items = pim_policy.list_policy_assignments(store, request.query_params.get("$filter"), policy, with_rules)
    return json_response(request, {"@odata.context": f"{GRAPH_ROOT}/$metadata#policies/"
                                   "roleManagementPolicyAssignments", "value": items})


@graph
async def list_policies(store: Store, request: Request) -> Response:
    _, with_rules = _expands(request)
    items = pim_policy.list_policies(store, request.query_params.get("$filter"), with_rules)
    return json_response(request, {"@odata.context": f"{GRAPH_ROOT}/$metadata#policies/roleManagementPolicies",
                                   "value": items})


@graph
async def get_policy(store: Store, request: Request) -> Response:
    _, with_rules = _expands(request)
    item = pim_policy.get_policy(store, request.path_params["pid"], with_rules)
    return json_response(request, {"@odata.context": f"{GRAPH_ROOT}/$metadata#policies/roleManagementPolicies"
                                   "/$entity", **item})


@graph
async def list_policy_rules(store: Store, request: Request) -> Response:
    pid = request.path_params["pid"]
    items = pim_policy.list_rules(store, pid)
    return json_response(request, {"@odata.context": f"{GRAPH_ROOT}/$metadata#policies/roleManagementPolicies"
                                   f"('{pid}')/rules", "value": items})


@graph
async def get_policy_rule(store: Store, request: Request) -> Response:
    pid = request.path_params["pid"]
    item = pim_policy.get_rule(store, pid, request.path_params["rid"])
    return json_response(request, {"@odata.context": f"{GRAPH_ROOT}/$metadata#policies/roleManagementPolicies"
                                   f"('{pid}')/rules/$entity", **item})


@graph
async def update_policy_rule(store: Store, request: Request) -> Response:
    pim_policy.patch_rule(store, request.path_params["pid"], request.path_params["rid"],
                          await request_json(request))
    return empty_response(request)


POLICIES = "/v1.0/policies/roleManagementPolicies"
ROUTES = [
    *(r for kind in ("eligible", "active") for layer in ("requests", "schedules", "instances")
      for r in _collection(kind, layer)),
    Route("/v1.0/policies/roleManagementPolicyAssignments", list_policy_assignments, methods=["GET"]),
    Route(POLICIES, list_policies, methods=["GET"]),
    Route(f"{POLICIES}/{{pid}}", get_policy, methods=["GET"]),
    Route(f"{POLICIES}/{{pid}}/rules", list_policy_rules, methods=["GET"]),
    Route(f"{POLICIES}/{{pid}}/rules/{{rid}}", get_policy_rule, methods=["GET"]),
    Route(f"{POLICIES}/{{pid}}/rules/{{rid}}", update_policy_rule, methods=["PATCH"]),
]
