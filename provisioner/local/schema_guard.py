"""The schema at the Graph app's door: every request (batch items too) is checked against Graph's
published schema before a route sees it, as Graph's own OData layer parses a request before any
workload does; and every request is offered to the recorders registered here, so a test suite can
collect what its client sends without the tenant knowing who that client is."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qsl

from .odata import FilterParser, comparisons
from .schema import Schema, index
from .wire import PARSED_BODY, ASGIApp, GraphError, Receive, Scope, Send, kept_body, read_body, replay, send_error

PREFIX = "/v1.0/"
BODY_METHODS = frozenset({"POST", "PATCH", "PUT"})

Recorder = Callable[[dict], None]
_RECORDERS: list[Recorder] = []


def add_recorder(recorder: Recorder) -> None:
    """Call `recorder` with every request the local tenant's Graph app receives, as plain data:
    method, path, query options and the body's shape (names only; values are never kept)."""
    _RECORDERS.append(recorder)


def remove_recorder(recorder: Recorder) -> None:
    _RECORDERS.remove(recorder)


def shape(value: object) -> object:
    """A body with every value dropped: objects keep their names, lists their first object's shape. An
    `@odata.type` keeps its value: a type name, which says what the other names are checked against."""
    if isinstance(value, dict):
        return {k: v if k == "@odata.type" and isinstance(v, str) else shape(v) for k, v in value.items()}
    if isinstance(value, list):
        first = next((v for v in value if isinstance(v, dict)), None)
        return [shape(first)] if first is not None else []
    return None


def split_top(text: str) -> list[str]:
    """Comma-separated items, ignoring commas inside parentheses (`$expand=a($select=x,y),b`)."""
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return [item.strip() for item in items if item.strip()]


def filter_names(text: str) -> list[str]:
    """The property names a `$filter` compares; [] when it does not parse (the route answers that)."""
    try:
        ast = FilterParser(text).parse()
    except GraphError:
        return []
    return [node[2] if node[0] in ("cmp", "fn") else node[1] for node in comparisons(ast)]


def check(schema: Schema, method: str, segments: list[str], query: dict[str, str], body: object) -> None:
    """Raise Graph's GraphError for the first thing the request names that the schema does not declare."""
    target = schema.resolve(segments)
    if target is None or not target.served:
        return
    if target.operation is not None:
        if method == "POST" and isinstance(body, dict):
            schema.check_parameters(target.operation, body)
        return
    options = {k.lower(): v for k, v in query.items()}
    if "$select" in options:
        schema.check_select(target.type, split_top(options["$select"]))
    if "$expand" in options:
        schema.check_expand(target.type, [e.partition("(")[0].strip() for e in split_top(options["$expand"])])
    if options.get("$filter"):
        schema.check_filter(target.type, filter_names(options["$filter"]))
    if "$orderby" in options:
        schema.check_orderby(target.type, [item.split()[0] for item in split_top(options["$orderby"])])
    if method in BODY_METHODS and isinstance(body, dict):
        schema.check_body(target.type, body)


class SchemaGuard:
    """ASGI middleware refusing, with Graph's answer, what Graph's v1.0 schema does not declare."""

    def __init__(self, app: ASGIApp, schema: Schema | None = None):
        self.app = app
        self.schema = schema

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        segments = [s for s in path[len(PREFIX):].split("/") if s]
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        body: object = None
        if method in BODY_METHODS:
            raw = await read_body(receive)
            receive = replay(raw)
            body = kept_body(scope, raw)
            if body is None:
                try:
                    body = json.loads(raw) if raw.strip() else None
                except ValueError:
                    body = None  # malformed JSON is the route's to answer
                if body is not None:
                    scope[PARSED_BODY] = (raw, body)
        for recorder in list(_RECORDERS):
            recorder({"method": method, "path": "/" + "/".join(segments), "query": query, "body": shape(body)})
        try:
            check(self.schema or index(), method, segments, query, body)
        except GraphError as err:
            await send_error(send, scope, err.status, err.code, err.message)
            return
        await self.app(scope, receive, send)
