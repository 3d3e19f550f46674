"""Graph wire primitives: the error type routes raise and the JSON/error responses they send."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

GRAPH_ROOT = "https://graph.microsoft.com/v1.0"


class GraphError(Exception):
    """An error Graph would answer with: HTTP status, `error.code`, message and optional details."""

    def __init__(self, status: int, code: str, message: str, details: list[dict] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def not_found(key: str) -> GraphError:
    """Graph's 404 for a missing directory object (observed wording)."""
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.",
    )


def bad_request(message: str, details: list[dict] | None = None) -> GraphError:
    """A 400 `Request_BadRequest`, the code Entra uses for most validation failures."""
    return GraphError(400, "Request_BadRequest", message, details)


def unsupported_query(message: str = "Unsupported Query.") -> GraphError:
    """A 400 `Request_UnsupportedQuery` (advanced-only operators without the advanced headers, ...)."""
    return GraphError(400, "Request_UnsupportedQuery", message)


def request_id(request: Request) -> str:
    """The request's own id, minted once and shared by the header and the error body."""
    rid = request.scope.get("graph.request_id")
    if rid is None:
        rid = str(uuid.uuid4())
        request.scope["graph.request_id"] = rid
    return rid


def _headers(request: Request) -> dict[str, str]:
    headers = {"request-id": request_id(request)}
    client_id = request.headers.get("client-request-id")
    if client_id:
        headers["client-request-id"] = client_id
    return headers


def json_response(request: Request, body: dict, status: int = 200) -> Response:
    """A Graph JSON response (compact, as Graph sends) with `request-id`."""
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type="application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false",
        headers=_headers(request),
    )


def empty_response(request: Request, status: int = 204) -> Response:
    """A body-less response (204 for PATCH/DELETE)."""
    return Response(status_code=status, headers=_headers(request))


def text_response(request: Request, text: str) -> Response:
    """A text/plain response (`/users/$count`)."""
    return Response(text, media_type="text/plain", headers=_headers(request))


def error_response(request: Request, err: GraphError) -> Response:
    """Graph's error envelope with `innerError` date, request-id and client-request-id."""
    inner = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id(request),
        "client-request-id": request.headers.get("client-request-id", request_id(request)),
    }
    body: dict = {"error": {"code": err.code, "message": err.message, "innerError": inner}}
    if err.details:
        body["error"]["details"] = err.details
    return json_response(request, body, err.status)
