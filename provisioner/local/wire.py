"""Graph's wire conventions for every answer of the local tenant, routes, realism and `$batch` alike:
the error type and envelope, the request-id and the other headers each response carries, JSON
responses (Starlette and raw ASGI), request bodies, and the ASGI plumbing to read and relay them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
RawHeaders = list[tuple[bytes, bytes]]

GRAPH_ROOT = "https://graph.microsoft.com/v1.0"
JSON_MEDIA_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false"
JSON_CONTENT_TYPE = JSON_MEDIA_TYPE.encode()
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_REQUEST_ID = "graph.request_id"


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


def unknown_property(name: str, type_name: str) -> GraphError:
    """The OData library's 400 for a body property the type does not declare."""
    return GraphError(
        400,
        "BadRequest",
        f"The property '{name}' does not exist on type 'microsoft.graph.{type_name}'. Make sure to only use "
        "property names that are defined by the type or mark the type as open type.",
    )


# -- headers ------------------------------------------------------------------------------------


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (name in lower case), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def request_id(scope: MutableMapping[str, Any] | None = None) -> str:
    """The id a request is answered with: minted once per request scope, so the header and the error
    body agree whoever answers (a route, realism, `$batch`); without a scope (a batch item refused
    before it is dispatched), a fresh one."""
    if scope is None:
        return str(uuid.uuid4())
    rid = scope.get(_REQUEST_ID)
    if rid is None:
        rid = scope[_REQUEST_ID] = str(uuid.uuid4())
    return rid


def id_headers(scope: Scope) -> dict[str, str]:
    """The headers every answer carries: its `request-id`, and the client's own `client-request-id`."""
    headers = {"request-id": request_id(scope)}
    client_id = header(scope, b"client-request-id")
    if client_id:
        headers["client-request-id"] = client_id
    return headers


def tenant_date(now: datetime) -> bytes:
    """An HTTP `Date` value for a tenant-clock time."""
    return format_datetime(now, usegmt=True).encode()


def on_start(send: Send, edit: Callable[[RawHeaders], RawHeaders]) -> Send:
    """An ASGI send that rewrites the response's headers with `edit` as the response starts."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": edit(list(message.get("headers", [])))}
        await send(message)

    return wrapped


def adding_headers(send: Send, extra: RawHeaders) -> Send:
    """An ASGI send that appends `extra` to the response's headers (realism's usage headers)."""
    return on_start(send, lambda headers: [*headers, *extra]) if extra else send


class TenantDate:
    """Stamps every response, whoever answers it, with the tenant clock's `Date`, as Graph stamps its
    own time: the clock can be moved (`local clock advance`), and clients learn "now" from it."""

    def __init__(self, app: ASGIApp, now: Callable[[], datetime]):
        self.app = app
        self.now = now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        def stamp(headers: RawHeaders) -> RawHeaders:
            return [(k, v) for k, v in headers if k.lower() != b"date"] + [(b"date", tenant_date(self.now()))]

        await self.app(scope, receive, on_start(send, stamp))


# -- bodies and responses -----------------------------------------------------------------------


def error_body(code: str, message: str, scope: Scope | None = None, *,
               inner: Mapping[str, str] | None = None, details: list[dict] | None = None) -> bytes:
    """Graph's JSON error envelope for the request of `scope`, with `innerError` carrying date,
    request-id and the client's id (plus `inner`'s extra keys, as the 429 body has)."""
    rid = request_id(scope)
    inner_error: dict[str, str] = dict(inner or {})
    inner_error["date"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    inner_error["request-id"] = rid
    # Without a client-request-id of the client's own, Graph echoes the request-id there.
    inner_error["client-request-id"] = (header(scope, b"client-request-id") if scope else None) or rid
    error: dict[str, Any] = {"code": code, "message": message, "innerError": inner_error}
    if details:
        error["details"] = details
    return json.dumps({"error": error}, separators=(",", ":")).encode()


def json_response(request: Request, body: dict, status: int = 200) -> Response:
    """A Graph JSON response (compact, as Graph sends) with `request-id`."""
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type=JSON_MEDIA_TYPE,
        headers=id_headers(request.scope),
    )


def empty_response(request: Request, status: int = 204) -> Response:
    """A body-less response (204 for PATCH/DELETE)."""
    return Response(status_code=status, headers=id_headers(request.scope))


def text_response(request: Request, text: str) -> Response:
    """A text/plain response (`/users/$count`)."""
    return Response(text, media_type="text/plain", headers=id_headers(request.scope))


def error_response(request: Request, err: GraphError) -> Response:
    """Graph's error envelope for a route's GraphError."""
    body = error_body(err.code, err.message, request.scope, details=err.details)
    return Response(body, status_code=err.status, media_type=JSON_MEDIA_TYPE, headers=id_headers(request.scope))


async def send_json(send: Send, scope: Scope, status: int, body: bytes, extra: RawHeaders | tuple = ()) -> None:
    """Send a complete JSON answer to the request of `scope` from raw ASGI code, with its id headers."""
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", JSON_CONTENT_TYPE),
            (b"content-length", str(len(body)).encode()),
            *((k.encode(), v.encode("latin-1")) for k, v in id_headers(scope).items()),
            *extra,
        ],
    })
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, scope: Scope, status: int, code: str, message: str,
                     extra: RawHeaders | tuple = (), inner: Mapping[str, str] | None = None) -> None:
    """Answer from raw ASGI code (realism, `$batch`) with Graph's error envelope."""
    await send_json(send, scope, status, error_body(code, message, scope, inner=inner), extra)


# A JSON body parsed once, kept in the request's scope beside the bytes it was parsed from: `$batch`
# parsed its items' bodies with the batch, the schema guard parses the others, and the routes and
# the permission check take it from there instead of parsing the same bytes again.
PARSED_BODY = "local.parsed_body"


def kept_body(scope: Scope, raw: bytes) -> object | None:
    """The body parsed from `raw` earlier in this request, or None."""
    kept = scope.get(PARSED_BODY)
    return kept[1] if kept is not None and kept[0] == raw else None


async def request_json(request: Request, *, optional: bool = False) -> dict:
    """`body_json` of the request's body, parsed once per request."""
    raw = await request.body()
    kept = kept_body(request.scope, raw)
    return kept if isinstance(kept, dict) else body_json(raw, optional=optional)


def body_json(raw: bytes, *, optional: bool = False) -> dict:
    """Parse a JSON object request body the way Graph rejects malformed ones."""
    if not raw.strip():
        if optional:
            return {}
        raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise GraphError(
            400,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is "
            "of valid JSON format.",
        ) from exc
    if not isinstance(body, dict):
        raise GraphError(400, "BadRequest", "Unable to read JSON request payload.")
    return body


# -- relaying -----------------------------------------------------------------------------------


async def read_body(receive: Receive) -> bytes:
    """The whole request body."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes) -> Receive:
    """An ASGI ``receive`` that hands over a body already read, once."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def discard(message: Message) -> None:
    """An ASGI send that throws the response away (the answer was lost on the way back)."""
    return None


class Captured:
    """An ASGI send that keeps a whole response (status, headers, body) instead of sending it."""

    def __init__(self) -> None:
        self.start: Message = {}
        self.chunks: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))

    @property
    def status(self) -> int | None:
        return self.start.get("status")

    @property
    def headers(self) -> RawHeaders:
        return list(self.start.get("headers", []))

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    async def relay(self, send: Send, extra: RawHeaders | tuple = ()) -> None:
        """Send the kept response on, with `extra` headers appended."""
        await send({**self.start, "headers": [*self.headers, *extra]})
        await send({"type": "http.response.body", "body": self.body})
