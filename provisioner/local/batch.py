"""`POST /v1.0/$batch`: Graph's JSON batching (graph-facts §10).

Each item is dispatched as an in-process ASGI call to the (realism-wrapped) Graph app, so each
one is throttled, faulted and lagged on its own while the batch itself answers 200. The scope is
built directly, without an HTTP round-trip per item, and each item's JSON answer is spliced into
the batch response without being parsed again.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import quote, unquote

from provisioner.local.commits import GroupLost
from provisioner.local.wire import (
    JSON_CONTENT_TYPE,
    JSON_MEDIA_TYPE,
    PARSED_BODY,
    ASGIApp,
    Captured,
    Receive,
    Scope,
    Send,
    error_body,
    header,
    read_body,
    replay,
    send_error,
    send_json,
)

MAX_REQUESTS = 20
BATCH_PATH = "/v1.0/$batch"
METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"})
_SAFE_QUERY = "!#$%&'()*+,/:;=?@[]~"
# Graph writes these item header names in this casing; SDK code looks them up case-sensitively.
_HEADER_NAMES = {
    "content-type": "Content-Type",
    "retry-after": "Retry-After",
    "location": "Location",
    "cache-control": "Cache-Control",
    "odata-version": "OData-Version",
    "etag": "ETag",
    "preference-applied": "Preference-Applied",
}
# What Graph never puts on an item (graph-quirks §3): the request id is in an error's body only,
# and the transport-level headers belong to the batch's own answer.
_OUTER_ONLY = frozenset({"content-length", "request-id", "client-request-id", "date", "strict-transport-security",
                         "x-ms-ags-diagnostic", "vary"})


class BatchError(Exception):
    """A malformed batch: the whole batch is refused with 400 BadRequest."""


class _Item:
    __slots__ = ("id", "key", "method", "url", "headers", "body", "depends_on")

    def __init__(self, raw: Any, index: int):
        if not isinstance(raw, dict):
            raise BatchError(f"Request at index {index} is not a JSON object.")
        rid, method, url = raw.get("id"), raw.get("method"), raw.get("url")
        if not isinstance(rid, str) or not rid:
            raise BatchError(f"Request at index {index} has no id; every request needs a string id.")
        if not isinstance(method, str) or not method:
            raise BatchError(f"Request {rid} has no method.")
        if not isinstance(url, str) or not url:
            raise BatchError(f"Request {rid} has no url.")
        headers = raw.get("headers") or {}
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise BatchError(f"Request {rid}: headers must be an object of strings.")
        depends_on = raw.get("dependsOn") or []
        if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
            raise BatchError(f"Request {rid}: dependsOn must be an array of request ids.")
        self.id = rid
        self.key = rid.lower()  # ids are not case-sensitive
        self.method = method.upper()
        self.url = url
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = raw.get("body")
        self.depends_on = [d.lower() for d in depends_on]
        if self.body is not None and "content-type" not in self.headers:
            raise BatchError(f"Request {rid} has a body but no Content-Type header.")


def parse_batch(payload: bytes) -> list[_Item]:
    """Validate a batch payload; raises BatchError with Graph's kind of message when malformed."""
    try:
        doc = json.loads(payload)
    except ValueError:
        raise BatchError("Invalid batch payload format: the body is not valid JSON.") from None
    raw_items = doc.get("requests") if isinstance(doc, dict) else None
    if not isinstance(raw_items, list) or not raw_items:
        raise BatchError("Invalid batch payload format: 'requests' must be a non-empty array.")
    if len(raw_items) > MAX_REQUESTS:
        raise BatchError(
            f"The batch has {len(raw_items)} requests; a batch may hold at most {MAX_REQUESTS}."
        )
    items = [_Item(raw, i) for i, raw in enumerate(raw_items)]
    seen: set[str] = set()
    for item in items:
        if item.key in seen:
            raise BatchError(f"Request Id {item.id} has to be unique in a batch.")
        seen.add(item.key)
    for item in items:
        for dep in item.depends_on:
            if dep not in seen or dep == item.key:
                raise BatchError(f"Request {item.id} depends on an unknown request id '{dep}'.")
    return items


def execution_order(items: list[_Item]) -> list[_Item] | None:
    """None for a fully parallel batch, else the one order of a fully sequential batch.

    Graph refuses a batch that mixes dependent and independent requests (OBSERVED: "Batch should
    be either fully sequential or fully parallel."); a cycle cannot be ordered either.
    """
    if not any(item.depends_on for item in items):
        return None
    done: set[str] = set()
    order: list[_Item] = []
    pending = list(items)
    while pending:
        ready = [item for item in pending if all(d in done for d in item.depends_on)]
        if len(ready) != 1:
            if not ready:
                raise BatchError("The dependsOn references of the batch form a cycle.")
            raise BatchError("Batch should be either fully sequential or fully parallel.")
        order.append(ready[0])
        done.add(ready[0].key)
        pending.remove(ready[0])
    return order


class BatchApp:
    """ASGI app answering `POST /v1.0/$batch` by dispatching each item to `app`.

    `grouped` (the store's) makes the items' writes one transaction, committed before the answer."""

    def __init__(self, app: ASGIApp, grouped: Callable[[], AbstractContextManager[None]] | None = None):
        self.app = app
        self.grouped = grouped or contextlib.nullcontext

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await send_error(send, scope, 405, "BadRequest",
                             f"The HTTP method '{scope['method']}' is not allowed for $batch; use POST.")
            return
        try:
            items = parse_batch(await read_body(receive))
            order = execution_order(items)
        except BatchError as e:
            await send_error(send, scope, 400, "BadRequest", str(e))
            return
        try:
            with self.grouped():
                parts = await self._run(scope, items, order)
        except GroupLost:  # the items' writes were rolled back: none may be answered as done
            await send_error(send, scope, 500, "InternalServerError", "The request failed.")
            return
        body = b'{"responses":[' + b",".join(parts) + b"]}"
        await send_json(send, scope, 200, body)

    async def _run(self, scope: Scope, items: list[_Item], order: list[_Item] | None) -> list[bytes]:
        if order is None:
            return list(await asyncio.gather(*(self._dispatch(scope, item) for item in items)))
        parts = []
        status: dict[str, int] = {}
        for item in order:
            if any(status[d] >= 400 for d in item.depends_on):
                status[item.key] = 424
                parts.append(_failed_dependency(item))
                continue
            code, part = await self._dispatch_status(scope, item)
            status[item.key] = code
            parts.append(part)
        return parts

    async def _dispatch(self, outer: Scope, item: _Item) -> bytes:
        return (await self._dispatch_status(outer, item))[1]

    async def _dispatch_status(self, outer: Scope, item: _Item) -> tuple[int, bytes]:
        if item.method not in METHODS:
            return 405, _item_error(item, 405, "BadRequest", f"Method '{item.method}' is not supported.")
        if "://" in item.url.split("?", 1)[0]:
            return 400, _item_error(item, 400, "BadRequest",
                                    "The url of a batch request must be relative, such as /users.")
        body = _encode_body(item)
        answer = Captured()
        try:
            await self.app(_item_scope(outer, item, body), replay(body), answer)
        except Exception:
            # Starlette re-raises after sending its 500; the item keeps the 500 it answered.
            if answer.status is None:
                return 500, _item_error(item, 500, "InternalServerError", "The request failed.")
        status = answer.status or 500
        return status, _item_response(item.id, status, answer.headers, answer.body)


def _item_scope(outer: Scope, item: _Item, body: bytes) -> Scope:
    path, _, query = item.url.partition("?")
    if not path.startswith("/"):
        path = "/" + path
    full = "/v1.0" + path
    if query.isascii() and " " not in query:
        query_string = query.encode()
    else:
        query_string = quote(query, safe=_SAFE_QUERY).encode()
    headers = [(k.encode("latin-1"), v.encode("utf-8")) for k, v in item.headers.items()
               if k not in ("content-length", "host", "authorization")]
    for name in (b"authorization", b"host"):
        value = header(outer, name)
        if value is not None:
            headers.append((name, value.encode("latin-1")))
    if body:
        headers.append((b"content-length", str(len(body)).encode()))
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": item.method,
        "scheme": outer.get("scheme", "http"),
        "server": outer.get("server"),
        "client": outer.get("client"),
        "root_path": "",
        "path": unquote(full),
        "raw_path": full.encode(),
        "query_string": query_string,
        "headers": headers,
        "state": {},
    }
    if body and _is_json(item):
        scope[PARSED_BODY] = (body, item.body)  # parsed with the batch: not parsed again
    return scope


def _is_json(item: _Item) -> bool:
    return item.body is not None and "json" in item.headers.get("content-type", "").lower()


def _encode_body(item: _Item) -> bytes:
    if item.body is None:
        return b""
    if _is_json(item):
        return json.dumps(item.body).encode()
    if isinstance(item.body, str):
        # Non-JSON bodies travel base64-encoded (graph-facts §10.1).
        try:
            return base64.b64decode(item.body, validate=True)
        except ValueError:
            return item.body.encode()
    return json.dumps(item.body).encode()


def _item_response(item_id: str, status: int, raw_headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    """One item of the batch's answer, with the headers Graph gives a directory item (graph-quirks §3):
    Cache-Control and x-ms-resource-unit always; on a JSON success the full OData content type and
    OData-Version; on an error a plain application/json; never a request-id."""
    headers: dict[str, str] = {"Cache-Control": "no-cache", "x-ms-resource-unit": "1"}
    content_type = ""
    for key, value in raw_headers:
        name = key.decode("latin-1").lower()
        if name in _OUTER_ONLY:
            continue
        text = value.decode("latin-1")
        if name == "content-type":
            content_type = text
            if status >= 400 and "json" in text.lower():
                text = "application/json"
            elif text.startswith(JSON_MEDIA_TYPE) and "charset" not in text:
                text += ";charset=utf-8"
                headers["OData-Version"] = "4.0"
        canonical = _HEADER_NAMES.get(name, name)
        if canonical in ("Cache-Control", "x-ms-resource-unit"):
            headers[canonical] = text
            continue
        headers[canonical] = f"{headers[canonical]}, {text}" if canonical in headers else text
    out = b'{"id":' + json.dumps(item_id).encode() + b',"status":' + str(status).encode()
    out += b',"headers":' + json.dumps(headers).encode()
    if body:
        if "json" in content_type.lower():
            out += b',"body":' + body
        else:
            out += b',"body":' + json.dumps(base64.b64encode(body).decode()).encode()
    return out + b"}"


def _item_error(item: _Item, status: int, code: str, message: str) -> bytes:
    body = error_body(code, message)
    return _item_response(item.id, status, [(b"content-type", JSON_CONTENT_TYPE)], body)


def _failed_dependency(item: _Item) -> bytes:
    return _item_error(item, 424, "FailedDependency",
                       "The request was not run because a request it depends on failed.")

