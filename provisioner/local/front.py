"""The front door of the local tenant, in front of every route, realism and `$batch`: what Graph
checks before a request reaches a resource (a bearer token, a JSON body on writes), and the
headers Graph puts on every answer (graph-quirks §10, §13).

Only the presence of a token is checked here: what a token may do is decided behind this door.
Items of a `$batch` do not pass it again: the batch passed it once, and Graph sends none of
these headers on an item (graph-quirks §3).
"""

from __future__ import annotations

import json

from .throttle import request_cost
from .wire import (
    JSON_MEDIA_TYPE,
    WRITE_METHODS,
    ASGIApp,
    Message,
    RawHeaders,
    Receive,
    Scope,
    Send,
    header,
    request_id,
    send_error,
)

EMPTY_TOKEN = "Access token is empty."
# The shape of Graph's diagnostic header (graph-quirks §13); the values name this tenant, not a data center.
AGS_DIAGNOSTIC = json.dumps(
    {"ServerInfo": {"DataCenter": "Local", "Slice": "E", "Ring": "5", "ScaleUnit": "000",
                    "RoleInstance": "LOCAL-TENANT"}},
    separators=(",", ":"),
).encode()
JSON_CHARSET = (JSON_MEDIA_TYPE + ";charset=utf-8").encode()


def bearer_token(scope: Scope) -> str:
    """The token of an `Authorization: Bearer ...` header ("" when there is none)."""
    value = (header(scope, b"authorization") or "").strip()
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def is_json(content_type: str) -> bool:
    """`application/json` (with parameters, as Graph's own odata ones) or a `+json` type."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class FrontDoor:
    """401 without a bearer token, 415 for a write whose body is not JSON, then Graph's headers."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _stamping(send, scope)
        if not bearer_token(scope):
            # Graph's observed body (graph-quirks §10); a web page cannot add this header to a
            # cross-site request without a preflight, so this also keeps pages out of `local serve`.
            await send_error(send, scope, 401, "InvalidAuthenticationToken", EMPTY_TOKEN)
            return
        if scope["method"] in WRITE_METHODS:
            content_type = header(scope, b"content-type")
            if content_type is not None and not is_json(content_type):
                # A text/plain POST is what a web form or `fetch` can send without a preflight.
                await send_error(send, scope, 415, "UnsupportedMediaType",
                                 f"Content-Type '{content_type}' is not supported. Send the body as "
                                 "application/json.")
                return
            if content_type is None and _has_body(scope):
                await send_error(send, scope, 415, "UnsupportedMediaType",
                                 "A request body needs a Content-Type header; send it as application/json.")
                return
        await self.app(scope, receive, send)


def _has_body(scope: Scope) -> bool:
    length = header(scope, b"content-length")
    chunked = (header(scope, b"transfer-encoding") or "").lower() == "chunked"
    return chunked or (length is not None and length.strip() not in ("", "0"))


def _stamping(send: Send, scope: Scope) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": graph_headers(scope, message["status"], list(message.get("headers", [])))}
        await send(message)

    return wrapped


def graph_headers(scope: Scope, status: int, headers: RawHeaders) -> RawHeaders:
    """The headers real Graph sends on an answer (graph-quirks §13), added to `headers`: no-cache,
    HSTS, the diagnostic header, resource units, the client-request-id (Graph echoes its request-id
    when the client sent none), `Vary` and, on a JSON success, OData-Version and the charset."""
    names = {k.lower() for k, _ in headers}
    out = list(headers)
    content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    if status < 400 and content_type.startswith(JSON_MEDIA_TYPE.encode()) and b"charset" not in content_type:
        out = [(k, JSON_CHARSET if k.lower() == b"content-type" else v) for k, v in out]
        if b"odata-version" not in names:
            out.append((b"odata-version", b"4.0"))
    extra: list[tuple[bytes, bytes]] = [
        (b"cache-control", b"no-cache"),
        (b"strict-transport-security", b"max-age=31536000"),
        (b"x-ms-ags-diagnostic", AGS_DIAGNOSTIC),
        (b"request-id", request_id(scope).encode()),
        (b"client-request-id", (header(scope, b"client-request-id") or request_id(scope)).encode("latin-1")),
    ]
    if b"content-type" in names:
        extra.append((b"vary", b"Accept-Encoding"))
    if b"x-ms-resource-unit" not in names:
        ru, _ = request_cost(scope["method"], scope["path"], scope.get("query_string", b""))
        extra.append((b"x-ms-resource-unit", str(ru).encode()))
    return out + [(k, v) for k, v in extra if k not in names]
