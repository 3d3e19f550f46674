"""OData query options as Graph applies them to directory objects: $filter compiled to SQL,
$select, $top, $orderby, $count and the advanced-query rules, keyset `$skiptoken` paging."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

from starlette.requests import Request

from .schema import index
from .store import fold_id
from .wire import GRAPH_ROOT, GraphError, bad_request, unsupported_query

MAX_TOP = 999
DEFAULT_TOP = 100
MAX_OR_CLAUSES = 15  # graph-quirks §6 (observed); `in` values counted the same (unverified, likely)


@dataclass(frozen=True)
class Prop:
    """How one Graph property filters and sorts: its SQL expression, value kind and operators."""

    sql: str
    kind: str = "str"  # str | bool | guid | date
    ops: frozenset[str] = frozenset({"eq", "in"})  # allowed without advanced query
    advanced_ops: frozenset[str] = frozenset({"ne"})  # allowed only with ConsistencyLevel + $count
    order: str = ""  # "" not sortable, "default", or "advanced"


@dataclass
class Query:
    """Parsed query options of one collection request."""

    select: list[str] | None = None
    filter_sql: str = ""
    filter_params: list = field(default_factory=list)
    top: int = DEFAULT_TOP
    order_prop: str = ""
    order_desc: bool = False
    count: bool = False
    advanced: bool = False
    skiptoken: list | None = None
    expand: list[str] = field(default_factory=list)


def is_advanced(request: Request) -> bool:
    """True when the request asks for an advanced query: `ConsistencyLevel: eventual` and `$count=true`."""
    return (
        request.headers.get("consistencylevel", "").lower() == "eventual"
        and request.query_params.get("$count", "").lower() == "true"
    )


def parse_query(
    request: Request, props: dict[str, Prop], resource: str, known: set[str], default_order: str
) -> Query:
    """Parse and validate $select/$filter/$top/$orderby/$count/$skiptoken/$expand against `props`."""
    qp = request.query_params
    q = Query(advanced=is_advanced(request))
    q.count = q.advanced
    q.select = parse_select(qp.get("$select"), known, resource)
    top = qp.get("$top")
    if top is not None:
        if not re.fullmatch(r"-?\d+", top.strip()):
            raise bad_request(
                f"Invalid page size specified: '{top}'. Must be between 1 and {MAX_TOP} inclusive."
            )
        q.top = int(top)
        if not 1 <= q.top <= MAX_TOP:
            raise bad_request(
                f"Invalid page size specified: '{top}'. Must be between 1 and {MAX_TOP} inclusive."
            )
    flt = qp.get("$filter")
    if flt:
        ast = FilterParser(flt).parse()
        check_clauses(ast)
        q.filter_sql, q.filter_params = compile_filter(ast, props, resource, q.advanced)
    orderby = qp.get("$orderby")
    q.order_prop = default_order
    if orderby:
        m = re.fullmatch(r"\s*(\w+)(?:\s+(asc|desc))?\s*", orderby, re.IGNORECASE)
        if not m:
            raise unsupported_query("Sorting not supported for current query.")
        name = m.group(1)
        prop = _lookup(props, name)
        if prop is None or not prop.order:
            raise unsupported_query("Sorting not supported for current query.")
        # $orderby on an advanced-only property, or together with $filter, needs an advanced query.
        if (prop.order == "advanced" or flt) and not q.advanced:
            raise unsupported_query("Sorting not supported for current query.")
        q.order_prop = _canonical(props, name)
        q.order_desc = (m.group(2) or "asc").lower() == "desc"
    token = qp.get("$skiptoken")
    if token:
        q.skiptoken = decode_token(token)
    expand = qp.get("$expand")
    if expand:
        q.expand = [e.strip() for e in expand.split(",") if e.strip()]
    return q


def parse_select(value: str | None, known: set[str], resource: str) -> list[str] | None:
    """The $select list in request order (canonical property casing), or None."""
    if not value:
        return None
    lower = {k.lower(): k for k in known}
    out: list[str] = []
    for raw in value.split(","):
        name = raw.strip()
        if not name:
            continue
        # A property Graph declares but the tenant does not hold is answered as null (schema_guard has
        # refused the undeclared ones).
        canon = lower.get(name.lower()) or index().declared(resource, name)
        if canon is None:
            raise bad_request(
                "Parsing OData Select and Expand failed: Could not find a property named "
                f"'{name}' on type 'microsoft.graph.{resource}'."
            )
        if canon not in out:
            out.append(canon)
    return out


def project(obj: dict, select: list[str] | None, default: tuple[str, ...]) -> dict:
    """The object restricted to `select`, or to the default property set."""
    return {k: obj.get(k) for k in (select or default)}


def context_url(entity_set: str, select: list[str] | None, entity: bool = False) -> str:
    """`@odata.context` as Graph writes it, e.g. `...$metadata#users(id,displayName)/$entity`."""
    base = f"{GRAPH_ROOT}/$metadata#{entity_set}"
    if select:
        base += "(" + ",".join(select) + ")"
    return base + ("/$entity" if entity else "")


def next_link(request: Request, token: list) -> str:
    """Absolute nextLink on the request's own base URL, keeping every option but the old token."""
    parts = [
        f"{quote(k, safe='$')}={quote(v, safe='$,()')}"
        for k, v in request.query_params.multi_items()
        if k != "$skiptoken"
    ]
    parts.append(f"$skiptoken={encode_token(token)}")
    url = request.url
    return f"{url.scheme}://{url.netloc}{url.path}?" + "&".join(parts)


def encode_token(values: list) -> str:
    """Opaque keyset position (last sort value and id)."""
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> list:
    """Inverse of `encode_token`; a tampered token is Graph's 400."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        values = json.loads(raw)
    except ValueError as exc:
        raise bad_request("Invalid $skiptoken value.") from exc
    if not isinstance(values, list) or len(values) != 2:
        raise bad_request("Invalid $skiptoken value.")
    return values


def fetch_page(db: sqlite3.Connection, table: str, columns: str, condition: str, q: Query,
               props: dict[str, Prop]) -> tuple[list[tuple], int | None]:
    """Up to ``q.top + 1`` rows of ``table`` matching ``condition`` and ``q``'s $filter, in keyset order
    from ``q``'s page position (the extra row says there is a next page), and the $count asked for
    on a first page."""
    where, params = [condition], []
    if q.filter_sql:
        where.append(q.filter_sql)
        params += q.filter_params
    count = None
    if q.count and q.skiptoken is None:
        count = db.execute(f"SELECT COUNT(*) FROM {table} WHERE {' AND '.join(where)}", params).fetchone()[0]
    key = props[q.order_prop].sql
    direction, cmp = ("DESC", "<") if q.order_desc else ("ASC", ">")
    if q.skiptoken is not None:
        # A row-value comparison lets SQLite seek the (key, id) index instead of scanning from the start.
        where.append(f"(({key}, id) {cmp} (?, ?))")
        params += list(q.skiptoken)
    rows = db.execute(
        f"SELECT {columns} FROM {table} WHERE {' AND '.join(where)} ORDER BY {key} {direction}, id {direction} "
        "LIMIT ?",
        [*params, q.top + 1],
    ).fetchall()
    return rows, count


# -- $filter ---------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<lp>\()|(?P<rp>\))|(?P<comma>,)"
    r"|(?P<word>[A-Za-z_][\w.]*)|(?P<num>-?\d+(?:\.\d+)?))"
)
_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCS = {"startswith", "endswith"}


def comparisons(node: tuple) -> Iterator[tuple]:
    """The leaves of a parsed `$filter` (comparisons, `in`, functions), through and/or/not."""
    if node[0] in ("and", "or"):
        yield from comparisons(node[1])
        yield from comparisons(node[2])
    elif node[0] == "not":
        yield from comparisons(node[1])
    else:
        yield node


class FilterParser:
    """Recursive-descent parser for the $filter subset Graph supports on directory objects.

    Produces tuples: ("cmp", op, prop, value), ("in", prop, values), ("fn", name, prop, value),
    ("and", a, b), ("or", a, b), ("not", a).
    """

    def __init__(self, text: str):
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise self.invalid()
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0

    def invalid(self) -> GraphError:
        return GraphError(400, "BadRequest", f"Invalid filter clause: syntax error in '{self.text}'.")

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", "")

    def take(self, kind: str | None = None, word: str | None = None) -> str:
        k, v = self.peek()
        if (kind and k != kind) or (word and v.lower() != word):
            raise self.invalid()
        self.i += 1
        return v

    def parse(self):
        node = self.expr()
        if self.peek()[0] != "end":
            raise self.invalid()
        return node

    def expr(self):
        return self.chain("or", self.conj)

    def conj(self):
        return self.chain("and", self.unary)

    def chain(self, word: str, operand):
        """`operand (word operand)*`, folded to the left: `a or b or c` is (or (or a b) c)."""
        node = operand()
        while self.peek()[0] == "word" and self.peek()[1].lower() == word:
            self.i += 1
            node = (word, node, operand())
        return node

    def unary(self):
        kind, value = self.peek()
        if kind == "word" and value.lower() == "not":
            self.i += 1
            return ("not", self.unary())
        if kind == "lp":
            self.i += 1
            node = self.expr()
            self.take("rp")
            return node
        if (
            kind == "word"
            and value.lower() in _FUNCS
            and self.tokens[self.i + 1 : self.i + 2] == [("lp", "(")]
        ):
            self.i += 2
            prop = self.take("word")
            self.take("comma")
            literal = self.literal()
            self.take("rp")
            return ("fn", value.lower(), prop, literal)
        prop = self.take("word")
        op = self.take("word").lower()
        if op in _COMPARE:
            return ("cmp", op, prop, self.literal())
        if op == "in":
            self.take("lp")
            values = [self.literal()]
            while self.peek()[0] == "comma":
                self.i += 1
                values.append(self.literal())
            self.take("rp")
            return ("in", prop, values)
        raise self.invalid()

    def literal(self):
        kind, value = self.peek()
        self.i += 1
        if kind == "str":
            return value[1:-1].replace("''", "'")
        if kind == "num":
            return float(value) if "." in value else int(value)
        if kind == "word" and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if kind == "word" and value.lower() == "null":
            return None
        raise self.invalid()


def check_clauses(node) -> None:
    """Graph's directory refuses an `or` with more than 15 operands; each value of an `in` counts
    as one (graph-quirks §6)."""
    tag = node[0]
    if tag in ("or", "in"):
        operands: list = []
        stack = [node]
        while stack:
            part = stack.pop()
            if part[0] == "or":
                stack += [part[2], part[1]]
            else:
                operands.append(part)
        count = sum(len(p[2]) if p[0] == "in" else 1 for p in operands)
        if count > MAX_OR_CLAUSES:
            raise unsupported_query(
                "Too many child clauses specified in search filter expression containing 'OR' operators: "
                f"{count}. Max allowed: {MAX_OR_CLAUSES}.")
        for part in operands:
            if part[0] != "in":
                check_clauses(part)
    elif tag == "and":
        check_clauses(node[1])
        check_clauses(node[2])
    elif tag == "not":
        check_clauses(node[1])


def _lookup(props: dict[str, Prop], name: str) -> Prop | None:
    canon = _canonical(props, name)
    return props.get(canon) if canon else None


def _canonical(props: dict[str, Prop], name: str) -> str:
    for key in props:
        if key.lower() == name.lower():
            return key
    return ""


def compile_filter(ast, props: dict[str, Prop], resource: str, advanced: bool) -> tuple[str, list]:
    """SQL WHERE fragment and parameters for a parsed $filter, enforcing Graph's operator rules."""
    params: list = []
    type_name = resource[0].upper() + resource[1:]

    def check(name: str, op: str) -> Prop:
        prop = _lookup(props, name)
        if prop is None:
            # Declared by Graph (schema_guard refused the rest) but not filterable here.
            raise unsupported_query(
                f"Unsupported or invalid query filter clause specified for property '{name}' of resource "
                f"'{type_name}'."
            )
        if op in prop.ops:
            return prop
        if op in prop.advanced_ops:
            if not advanced:
                raise unsupported_query()
            return prop
        raise unsupported_query(
            f"Unsupported or invalid query filter clause specified for property '{name}' of resource "
            f"'{type_name}'."
        )

    def value(prop: Prop, name: str, v):
        if v is None:
            return None
        if prop.kind == "bool":
            if not isinstance(v, bool):
                raise bad_request(f"Invalid filter clause: value of '{name}' must be a Boolean.")
            return int(v)
        if not isinstance(v, str):
            raise bad_request(f"Invalid filter clause: value of '{name}' must be a string.")
        # Ids are stored folded, so an exact comparison matches any case and can use the index.
        return fold_id(v) if prop.kind == "guid" else v

    def walk(node) -> str:
        tag = node[0]
        if tag in ("and", "or"):
            return f"({walk(node[1])} {tag.upper()} {walk(node[2])})"
        if tag == "not":
            if not advanced:
                raise unsupported_query()
            return f"(NOT {walk(node[1])})"
        if tag == "cmp":
            _, op, name, v = node
            prop = check(name, op)
            v = value(prop, name, v)
            if v is None:
                return f"({prop.sql} IS {'NOT ' if op == 'ne' else ''}NULL)"
            params.append(v)
            if op == "ne":
                # Graph's `ne` also matches objects where the property is null.
                return f"({prop.sql} IS NOT ? {_collate(prop)})"
            sql_op = {"eq": "=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}[op]
            return f"({prop.sql} {sql_op} ? {_collate(prop)})"
        if tag == "in":
            _, name, values = node
            prop = check(name, "in")
            values = [value(prop, name, v) for v in values]
            params.extend(values)
            return f"({prop.sql} {_collate(prop)} IN ({','.join('?' * len(values))}))"
        _, fn, name, v = node
        prop = check(name, fn)
        v = value(prop, name, v)
        if v is None:
            raise bad_request(f"Invalid filter clause: {fn} needs a string.")
        escaped = v.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params.append(escaped + "%" if fn == "startswith" else "%" + escaped)
        return f"({prop.sql} LIKE ? ESCAPE '\\')"

    return walk(ast), params


def _collate(prop: Prop) -> str:
    return "COLLATE NOCASE" if prop.kind == "str" else ""
