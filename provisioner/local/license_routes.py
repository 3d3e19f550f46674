"""Routes for licensing (L§8.5, L§8.6): the tenant's subscribed SKUs and assignLicense.
Registered by `graph_app.graph_app`; the semantics live in `licenses`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import licenses, users
from .graph_app import _page, graph
from .odata import context_url, parse_select
from .store import Store
from .wire import json_response, not_found, request_json, unsupported_query

SKU_PROPERTIES = {"accountId", "accountName", "appliesTo", "capabilityStatus", "consumedUnits", "id", "prepaidUnits",
                  "servicePlans", "skuId", "skuPartNumber", "subscriptionIds"}


def _select(request: Request) -> list[str] | None:
    # subscribedSkus takes $select only: no $filter (L§6.1); filter client-side.
    if "$filter" in request.query_params:
        raise unsupported_query("Unsupported Query.")
    return parse_select(request.query_params.get("$select"), SKU_PROPERTIES, "subscribedSku")


@graph
async def list_subscribed_skus(store: Store, request: Request) -> Response:
    select = _select(request)
    items = [{k: s[k] for k in select} if select else s for s in licenses.subscribed_skus(store)]
    return json_response(request, _page(request, context_url("subscribedSkus", select), items, None, None))


@graph
async def get_subscribed_sku(store: Store, request: Request) -> Response:
    select = _select(request)
    key = request.path_params["key"].lower()
    found = [s for s in licenses.subscribed_skus(store) if s["id"].lower() == key]
    if not found:
        raise not_found(request.path_params["key"])
    body = {"@odata.context": context_url("subscribedSkus", select, entity=True)}
    return json_response(request, {**body, **({k: found[0][k] for k in select} if select else found[0])})


@graph
async def assign_license(store: Store, request: Request) -> Response:
    # 200 with the default user projection, not assignedLicenses (L§6.3, observed).
    user = licenses.assign_license(store, request.path_params["key"], await request_json(request))
    body = {"@odata.context": context_url("users", None, entity=True)}
    return json_response(request, {**body, **users.user_view(user, None)})


ROUTES = [
    Route("/v1.0/subscribedSkus", list_subscribed_skus, methods=["GET"]),
    Route("/v1.0/subscribedSkus/{key}", get_subscribed_sku, methods=["GET"]),
    Route("/v1.0/users/{key}/assignLicense", assign_license, methods=["POST"]),
]
