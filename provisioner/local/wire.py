"""Graph wire primitives: the error type routes raise and the JSON/error responses they send."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

GRAPH_ROOT = "https://graph.microsoft.com/v1.0"
JSON_MEDIA_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false"


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
        media_type=JSON_MEDIA_TYPE,
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
    body = error_body(err.code, err.message, request_id(request), request.headers.get("client-request-id"),
                      details=err.details)
    return Response(body, status_code=err.status, media_type=JSON_MEDIA_TYPE, headers=_headers(request))


def error_body(code: str, message: str, request_id: str, client_request_id: str | None = None, *,
               inner: Mapping[str, str] | None = None, details: list[dict] | None = None) -> bytes:
    """Graph's JSON error envelope, with `innerError` carrying date, request-id and the client's id
    (plus `inner`'s extra keys, as the 429 body has)."""
    inner_error: dict[str, str] = dict(inner or {})
    inner_error["date"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    inner_error["request-id"] = request_id
    # Without a client-request-id of the client's own, Graph echoes the request-id there.
    inner_error["client-request-id"] = client_request_id or request_id
    error: dict[str, Any] = {"code": code, "message": message, "innerError": inner_error}
    if details:
        error["details"] = details
    return json.dumps({"error": error}, separators=(",", ":")).encode()
