"""The Graph v1.0 routes of the local tenant as a Starlette app (everything but `$batch`)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import lifecycle, pim, roles, users
from .odata import context_url, next_link, parse_query, parse_select
from .permissions import authorize
from .schema_guard import SchemaGuard
from .store import Store
from .user_checks import KNOWN
from .wire import (
    GraphError,
    bad_request,
    empty_response,
    error_response,
    json_response,
    request_json,
    text_response,
)

Handler = Callable[[Request], Awaitable[Response]]
USER_TYPE = "#microsoft.graph.user"


def graph(handler: Callable[[Store, Request], Awaitable[Response]]) -> Handler:
    """Give a handler the tenant store, after the token's permissions allow it (403 otherwise), and
    turn GraphError into Graph's error envelope."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        try:
            await authorize(request.app.state.store, request, handler.__name__)
            return await handler(request.app.state.store, request)
        except GraphError as err:
            return error_response(request, err)

    return endpoint


def _select(request: Request, resource: str, known: set[str]) -> list[str] | None:
    return parse_select(request.query_params.get("$select"), known, resource)


def _entity(request: Request, entity_set: str, select: list[str] | None, view: dict, status: int = 200,
            typed: bool = False) -> Response:
    """One object's answer: `@odata.context` of the set's `$entity` (with `@odata.type` when the set
    holds other kinds of object too), then the object's properties."""
    body = {"@odata.context": context_url(entity_set, select, entity=True)}
    if typed:
        body["@odata.type"] = USER_TYPE
    return json_response(request, {**body, **view}, status)


def _page(request: Request, context: str, items: list[dict], position, count) -> dict:
    body: dict = {"@odata.context": context}
    if count is not None:
        body["@odata.count"] = count
    if position is not None:
        body["@odata.nextLink"] = next_link(request, position)
    body["value"] = items
    return body


# -- users -----------------------------------------------------------------------------------

# Graph's observed answer to /users/$x@y: a segment starting with `$` is an OData system segment.
DOLLAR_SEGMENT = (
    "The request URI is not valid. Since the segment 'users' refers to a collection, this must be the last "
    "segment in the request URI or it must be followed by an function or action that can be bound to it "
    "otherwise all intermediate segments must refer to a single resource."
)


def user_key(request: Request) -> str:
    """The id or userPrincipalName a user path names: `/users/{key}` or the key form
    `/users('{key}')` (a quote inside doubled), which a UPN starting with `$` needs (graph-quirks §4)."""
    literal = request.path_params.get("literal")
    if literal is None:
        key = request.path_params["key"]
        if key.startswith("$"):
            raise GraphError(400, "BadRequest", DOLLAR_SEGMENT)
        return key
    if len(literal) < 2 or literal[0] != "'" or literal[-1] != "'" or "'" in literal[1:-1].replace("''", ""):
        raise GraphError(400, "BadRequest", f"Bad Request - Error in query syntax: the key ({literal}) is not "
                                            "a quoted string.")
    return literal[1:-1].replace("''", "'")



@graph
async def list_users(store: Store, request: Request) -> Response:
    q = parse_query(request, users.PROPS, "user", KNOWN, "userPrincipalName")
    found, position, count = users.list_users(store, q)
    items = [users.user_view(u, q.select) for u in found]
    return json_response(request, _page(request, context_url("users", q.select), items, position, count))


@graph
async def create_user(store: Store, request: Request) -> Response:
    user = users.create_user(store, await request_json(request))
    answer = _entity(request, "users", None, users.user_view(user, None), 201)
    # Graph's own internal v2 URL of the new object (graph-quirks §13); clients must not follow it.
    answer.headers["location"] = (f"https://graph.microsoft.com/v2/{store.tenant_id()}/directoryObjects/{user['id']}"
                                  "/Microsoft.DirectoryServices.User")
    return answer


@graph
async def count_users(store: Store, request: Request) -> Response:
    if request.headers.get("consistencylevel", "").lower() != "eventual":
        raise bad_request("$count is not currently supported.")
    return text_response(request, str(users.count_users(store)))


@graph
async def get_user(store: Store, request: Request) -> Response:
    select = _select(request, "user", KNOWN)
    user = users.get_user(store, user_key(request))
    return _entity(request, "users", select, users.user_view(user, select))


@graph
async def update_user(store: Store, request: Request) -> Response:
    lifecycle.update_user(store, user_key(request), await request_json(request))
    return empty_response(request)


@graph
async def delete_user(store: Store, request: Request) -> Response:
    users.delete_user(store, user_key(request))
    return empty_response(request)


# -- deleted items ---------------------------------------------------------------------------

DELETED_DEFAULT = ("deletedDateTime", *users.DEFAULT_PROPS)


@graph
async def deleted_items_root(store: Store, request: Request) -> Response:
    # The cast segment is required; Graph refuses the bare collection.
    raise GraphError(
        400,
        "Request_UnsupportedQuery",
        "Searches against this resource are not supported. Only specific instances can be queried.",
    )


@graph
async def list_deleted_users(store: Store, request: Request) -> Response:
    users.purge_expired(store)
    q = parse_query(request, users.DELETED_PROPS, "user", KNOWN, "id")
    found, position, count = users.list_users(store, q, deleted=True)
    items = [{"@odata.type": USER_TYPE, **users.user_view(u, q.select, DELETED_DEFAULT)} for u in found]
    context = context_url("directory/deletedItems/microsoft.graph.user", q.select)
    return json_response(request, _page(request, context, items, position, count))


@graph
async def get_deleted_item(store: Store, request: Request) -> Response:
    select = _select(request, "user", KNOWN)
    user = users.get_deleted(store, request.path_params["key"])
    return _entity(request, "directoryObjects", select, users.user_view(user, select, DELETED_DEFAULT), typed=True)


@graph
async def restore_deleted_item(store: Store, request: Request) -> Response:
    body = await request_json(request, optional=True)
    user = users.restore_user(store, request.path_params["key"], body)
    return _entity(request, "directoryObjects", None, users.user_view(user, None), typed=True)


@graph
async def purge_deleted_item(store: Store, request: Request) -> Response:
    users.purge_user(store, request.path_params["key"])
    return empty_response(request)


# -- role management -------------------------------------------------------------------------

DEFINITIONS_SET = "roleManagement/directory/roleDefinitions"
ASSIGNMENTS_SET = "roleManagement/directory/roleAssignments"


@graph
async def list_role_definitions(store: Store, request: Request) -> Response:
    roles.refuse_top(request.query_params.get("$top"))
    q = parse_query(
        request, roles.DEFINITION_PROPS, "unifiedRoleDefinition", set(roles.DEFINITION_FIELDS), "displayName"
    )
    found, position = roles.list_definitions(store, q)
    items = [roles.definition_view(d, q.select) for d in found]
    return json_response(
        request, _page(request, context_url(DEFINITIONS_SET, q.select), items, position, None)
    )


@graph
async def get_role_definition(store: Store, request: Request) -> Response:
    select = _select(request, "unifiedRoleDefinition", set(roles.DEFINITION_FIELDS))
    found = roles.get_definition(store, request.path_params["key"])
    return _entity(request, DEFINITIONS_SET, select, roles.definition_view(found, select))


@graph
async def list_role_assignments(store: Store, request: Request) -> Response:
    q = parse_query(
        request, roles.ASSIGNMENT_PROPS, "unifiedRoleAssignment", set(roles.ASSIGNMENT_FIELDS), "id"
    )
    roles.check_expand(q.expand)
    pim.sweep(store)  # time-bound PIM assignments end by the tenant clock
    found, position, count = roles.list_assignments(store, q, request.query_params.get("$filter"))
    items = [roles.assignment_view(a, q.select, q.expand) for a in found]
    return json_response(
        request, _page(request, context_url(ASSIGNMENTS_SET, q.select), items, position, count)
    )


@graph
async def create_role_assignment(store: Store, request: Request) -> Response:
    item = roles.create_assignment(store, await request_json(request))
    return _entity(request, ASSIGNMENTS_SET, None, roles.assignment_view(item, None, []), 201)


@graph
async def get_role_assignment(store: Store, request: Request) -> Response:
    select = _select(request, "unifiedRoleAssignment", set(roles.ASSIGNMENT_FIELDS))
    expands = [e.strip() for e in request.query_params.get("$expand", "").split(",") if e.strip()]
    roles.check_expand(expands)
    pim.sweep(store)
    item = roles.get_assignment(store, request.path_params["key"], expands)
    return _entity(request, ASSIGNMENTS_SET, select, roles.assignment_view(item, select, expands))


@graph
async def delete_role_assignment(store: Store, request: Request) -> Response:
    roles.delete_assignment(store, request.path_params["key"])
    return empty_response(request)


# -- app -------------------------------------------------------------------------------------


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    if status == 405:
        err = GraphError(
            405, "Request_BadRequest", "Specified HTTP method is not allowed for the request uri."
        )
    else:
        segment = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        err = GraphError(
            400 if status == 404 else status, "BadRequest", f"Resource not found for the segment '{segment}'."
        )
    return error_response(request, err)


ROUTES = [
    Route("/v1.0/users", list_users, methods=["GET"]),
    Route("/v1.0/users", create_user, methods=["POST"]),
    Route("/v1.0/users/$count", count_users, methods=["GET"]),
    Route("/v1.0/users/{key}", get_user, methods=["GET"]),
    Route("/v1.0/users/{key}", update_user, methods=["PATCH"]),
    Route("/v1.0/users/{key}", delete_user, methods=["DELETE"]),
    Route("/v1.0/users({literal})", get_user, methods=["GET"]),
    Route("/v1.0/users({literal})", update_user, methods=["PATCH"]),
    Route("/v1.0/users({literal})", delete_user, methods=["DELETE"]),
    Route("/v1.0/directory/deletedItems", deleted_items_root, methods=["GET"]),
    Route("/v1.0/directory/deletedItems/microsoft.graph.user", list_deleted_users, methods=["GET"]),
    Route("/v1.0/directory/deletedItems/graph.user", list_deleted_users, methods=["GET"]),
    Route("/v1.0/directory/deletedItems/{key}", get_deleted_item, methods=["GET"]),
    Route("/v1.0/directory/deletedItems/{key}", purge_deleted_item, methods=["DELETE"]),
    Route("/v1.0/directory/deletedItems/{key}/restore", restore_deleted_item, methods=["POST"]),
    Route("/v1.0/roleManagement/directory/roleDefinitions", list_role_definitions, methods=["GET"]),
    Route("/v1.0/roleManagement/directory/roleDefinitions/{key}", get_role_definition, methods=["GET"]),
    Route("/v1.0/roleManagement/directory/roleAssignments", list_role_assignments, methods=["GET"]),
    Route("/v1.0/roleManagement/directory/roleAssignments", create_role_assignment, methods=["POST"]),
    Route("/v1.0/roleManagement/directory/roleAssignments/{key}", get_role_assignment, methods=["GET"]),
    Route("/v1.0/roleManagement/directory/roleAssignments/{key}", delete_role_assignment, methods=["DELETE"]),
]


def graph_app(state_path: str | Path) -> Starlette:
    """The local tenant's Graph v1.0 API over the state file at `state_path` (created if missing).

    `app.state.store` is the tenant's `Store`, for code that composes this app (batch, realism).
    """
    from .license_routes import ROUTES as LICENSE_ROUTES
    from .lifecycle_routes import ROUTES as LIFECYCLE_ROUTES  # they build on this module's helpers
    from .pim_routes import ROUTES as PIM_ROUTES

    # Graph's published schema is checked before any route (schema_guard).
    app = Starlette(routes=ROUTES + LIFECYCLE_ROUTES + LICENSE_ROUTES + PIM_ROUTES,
                    exception_handlers={HTTPException: _http_error},
                    middleware=[Middleware(SchemaGuard)])
    app.state.store = Store(state_path)
    return app
