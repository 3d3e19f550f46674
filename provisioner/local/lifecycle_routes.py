"""Routes for the lifecycle endpoints (L§8.3, L§8.4): session revocation and the manager link.
Registered by `graph_app.graph_app`; the semantics live in `lifecycle`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import lifecycle, users
from .graph_app import USER_TYPE, _page, graph
from .odata import context_url, parse_select
from .store import Store
from .user_checks import KNOWN
from .wire import GRAPH_ROOT, empty_response, json_response, request_json


@graph
async def revoke_sessions(store: Store, request: Request) -> Response:
    # Graph documents 204 but answers 200 with a Boolean (known issue); any body is ignored.
    lifecycle.revoke_sessions(store, request.path_params["key"])
    return json_response(request, {"@odata.context": f"{GRAPH_ROOT}/$metadata#Edm.Boolean", "value": True})


@graph
async def get_manager(store: Store, request: Request) -> Response:
    select = parse_select(request.query_params.get("$select"), KNOWN, "user")
    manager = lifecycle.get_manager(store, request.path_params["key"])
    body = {"@odata.context": context_url("directoryObjects", select, entity=True), "@odata.type": USER_TYPE}
    return json_response(request, {**body, **users.user_view(manager, select)})


@graph
async def get_manager_ref(store: Store, request: Request) -> Response:
    manager = lifecycle.get_manager(store, request.path_params["key"])
    return json_response(request, {
        "@odata.context": f"{GRAPH_ROOT}/$metadata#directoryObjects/$ref",
        "@odata.id": f"{GRAPH_ROOT}/directoryObjects/{manager['id']}/Microsoft.DirectoryServices.User",
    })


@graph
async def set_manager(store: Store, request: Request) -> Response:
    lifecycle.set_manager(store, request.path_params["key"], await request_json(request))
    return empty_response(request)


@graph
async def remove_manager(store: Store, request: Request) -> Response:
    lifecycle.remove_manager(store, request.path_params["key"])
    return empty_response(request)


@graph
async def direct_reports(store: Store, request: Request) -> Response:
    select = parse_select(request.query_params.get("$select"), KNOWN, "user")
    found = lifecycle.direct_reports(store, request.path_params["key"])
    items = [{"@odata.type": USER_TYPE, **users.user_view(u, select)} for u in found]
    return json_response(request, _page(request, context_url("directoryObjects", select), items, None, None))


@graph
async def list_domains(store: Store, request: Request) -> Response:
    with store.read() as db:
        rows = db.execute("SELECT name, is_default, is_verified FROM domains ORDER BY name").fetchall()
    items = [{"id": n, "isDefault": bool(d), "isInitial": n.endswith(".onmicrosoft.com"), "isVerified": bool(v)}
             for n, d, v in rows]
    select = parse_select(request.query_params.get("$select"), {"id", "isDefault", "isInitial", "isVerified"},
                          "domain")
    if select:
        items = [{k: i[k] for k in select} for i in items]
    return json_response(request, _page(request, context_url("domains", select), items, None, None))


ROUTES = [
    Route("/v1.0/domains", list_domains, methods=["GET"]),
    Route("/v1.0/users/{key}/revokeSignInSessions", revoke_sessions, methods=["POST"]),
    Route("/v1.0/users/{key}/manager", get_manager, methods=["GET"]),
    Route("/v1.0/users/{key}/manager/$ref", get_manager_ref, methods=["GET"]),
    Route("/v1.0/users/{key}/manager/$ref", set_manager, methods=["PUT"]),
    Route("/v1.0/users/{key}/manager/$ref", remove_manager, methods=["DELETE"]),
    Route("/v1.0/users/{key}/directReports", direct_reports, methods=["GET"]),
]
