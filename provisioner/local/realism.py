"""Realism on demand: Graph's throttling, latency, transient faults and replication lag.

All of it is off by default. `Realism` holds the settings (from flags or environment variables);
`RealismMiddleware` applies throttling, faults and replication lag to each Graph request (and to
each item of a `$batch` separately, as Graph evaluates them); `LatencyMiddleware` adds network
latency once per HTTP request. The numbers and wire shapes come from graph-facts §9, §12 and §13.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import parse_qsl, unquote

from provisioner.local.wire import JSON_MEDIA_TYPE, error_body

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Resource units per 10 s for an app+tenant pair, by tenant size (graph-facts §9.1).
RESOURCE_UNITS = {"S": 3_500, "M": 5_000, "L": 8_000}
RESOURCE_WINDOW_S = 10.0
APP_WRITES, APP_WRITE_WINDOW_S = 3_000, 150.0
TENANT_WRITES, TENANT_WRITE_WINDOW_S = 18_000, 300.0

# The media type Graph (and the core routes) answer JSON with.
JSON_CONTENT_TYPE = JSON_MEDIA_TYPE.encode()
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_ANONYMOUS_APP = "anonymous"

_ENV = {
    "throttle": "PROVISIONER_LOCAL_THROTTLE",
    "tenant_size": "PROVISIONER_LOCAL_TENANT_SIZE",
    "time_scale": "PROVISIONER_LOCAL_TIME_SCALE",
    "latency_ms": "PROVISIONER_LOCAL_LATENCY_MS",
    "jitter_ms": "PROVISIONER_LOCAL_JITTER_MS",
    "fault_rate": "PROVISIONER_LOCAL_FAULT_RATE",
    "fault_applied_share": "PROVISIONER_LOCAL_FAULT_APPLIED_SHARE",
    "drop_rate": "PROVISIONER_LOCAL_DROP_RATE",
    "replication_lag_s": "PROVISIONER_LOCAL_REPLICATION_LAG",
    "seed": "PROVISIONER_LOCAL_SEED",
}


@dataclass(frozen=True)
class Realism:
    """How much of the real service's rough edges the local tenant shows. All off by default.

    - throttle: Graph's identity token buckets (graph-facts §9), with 429 + Retry-After.
    - tenant_size: "S", "M" or "L"; picks the resource-unit quota (3,500 / 5,000 / 8,000 per 10 s).
    - time_scale: divides every budget window and Retry-After (10 -> the 150 s write window lasts
      15 s). It does not touch latency or replication lag.
    - latency_ms, jitter_ms: added to every HTTP request (fixed + uniform 0..jitter).
    - fault_rate: probability of a 503 or 504 (half each) instead of the real answer.
    - fault_applied_share: share of 504s on writes whose write was applied before the 504.
    - drop_rate: probability that `serve` drops the connection without an answer (serve mode only).
    - replication_lag_s: a user created or restored less than this ago is "not found".
    - seed: makes faults, jitter and drops reproducible.
    """

    throttle: bool = False
    tenant_size: str = "L"
    time_scale: float = 1.0
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    fault_rate: float = 0.0
    fault_applied_share: float = 0.5
    drop_rate: float = 0.0
    replication_lag_s: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        size = self.tenant_size.upper()
        if size not in RESOURCE_UNITS:
            raise ValueError(f"tenant size must be S, M or L, not {self.tenant_size!r}")
        object.__setattr__(self, "tenant_size", size)
        if self.time_scale <= 0:
            raise ValueError(f"time scale must be greater than 0, not {self.time_scale}")
        for name in ("latency_ms", "jitter_ms", "replication_lag_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("fault_rate", "fault_applied_share", "drop_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {getattr(self, name)}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Realism:
        """Build settings from `PROVISIONER_LOCAL_*` variables (default: os.environ); unset ones keep
        their defaults.

        `PROVISIONER_LOCAL_THROTTLE=1` switches throttling on; `..._REPLICATION_LAG` is seconds.
        A malformed value raises ValueError naming the variable.
        """
        if environ is None:
            environ = os.environ
        values: dict[str, Any] = {}
        types = {f.name: f.type for f in fields(cls)}
        for name, var in _ENV.items():
            raw = environ.get(var, "").strip()
            if not raw:
                continue
            try:
                if name == "throttle":
                    values[name] = _parse_bool(raw)
                elif name == "tenant_size":
                    values[name] = raw
                elif name == "seed":
                    values[name] = int(raw)
                else:
                    values[name] = float(raw)
            except ValueError:
                raise ValueError(f"{var}={raw!r} is not a valid {types[name]}") from None
        try:
            return cls(**values)
        except ValueError as e:
            raise ValueError(f"local tenant realism settings: {e}") from None

    def with_overrides(self, **changes: Any) -> Realism:
        """A copy with the given settings changed; None values are ignored (unset flags)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def active(self) -> bool:
        """True if any per-request effect (throttle, faults, lag) is on."""
        return self.throttle or self.fault_rate > 0 or self.replication_lag_s > 0

    def write_budget(self) -> tuple[int, float] | None:
        """(writes, window seconds) of the per app+tenant write budget after time scaling, or None
        when throttling is off. A client that stays under it is never write-throttled."""
        if not self.throttle:
            return None
        return APP_WRITES, APP_WRITE_WINDOW_S / self.time_scale

    def resource_budget(self) -> tuple[int, float] | None:
        """(resource units, window seconds) of the per app+tenant RU budget after time scaling."""
        if not self.throttle:
            return None
        return RESOURCE_UNITS[self.tenant_size], RESOURCE_WINDOW_S / self.time_scale


def _parse_bool(raw: str) -> bool:
    low = raw.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


# ---------------------------------------------------------------------------------------------
# Answers this layer makes up itself, in Graph's error envelope (graph-facts §13.1).


async def send_json(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    """Send a complete JSON response."""
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", JSON_CONTENT_TYPE),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
    })
    await send({"type": "http.response.body", "body": body})


def id_headers(scope: Scope) -> tuple[str, list[tuple[bytes, bytes]]]:
    """A fresh request-id, and the headers that carry it and echo the client's own id."""
    request_id = str(uuid.uuid4())
    headers = [(b"request-id", request_id.encode())]
    client_id = header(scope, b"client-request-id")
    if client_id:
        headers.append((b"client-request-id", client_id.encode()))
    return request_id, headers


async def send_error(send: Send, scope: Scope, status: int, code: str, message: str,
                     extra_headers: list[tuple[bytes, bytes]] | tuple = (),
                     inner: Mapping[str, str] | None = None) -> None:
    """Answer with Graph's error envelope and a fresh `request-id` header."""
    request_id, headers = id_headers(scope)
    body = error_body(code, message, request_id, header(scope, b"client-request-id"), inner=inner)
    await send_json(send, status, body, [*headers, *extra_headers])


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (name in lower case), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


# ---------------------------------------------------------------------------------------------
# Throttling (graph-facts §9)


def request_cost(method: str, path: str, query_string: bytes) -> tuple[int, int]:
    """(resource units, write cost) of one Graph request, by graph-facts §9.2 and its modifiers."""
    rel = path[5:] if path.startswith("/v1.0") else path
    rel = rel.rstrip("/")
    parts = rel.lower().split("/")
    writes = 0
    if method == "GET":
        ru = 1
        if rel.lower() == "/users":
            ru = 2
        elif len(parts) == 4 and parts[1] in ("users", "me", "groups") and parts[3] in (
            "memberof", "transitivememberof", "licensedetails", "members", "transitivemembers"
        ):
            ru = {"members": 3, "transitivemembers": 5}.get(parts[3], 2)
        elif rel.lower() == "/subscribedskus":
            ru = 3
    elif method == "POST" and rel.lower() == "/directoryobjects/getbyids":
        ru = 5
    else:
        ru = 1
        writes = 1 if method in WRITE_METHODS else 0
    if query_string:
        params = {k.lower(): v for k, v in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)}
        if "$select" in params:
            ru -= 1
        if "$expand" in params:
            ru += 1
        top = params.get("$top", "")
        if top.isdigit() and int(top) < 20:
            ru -= 1
    return max(ru, 1), writes


@dataclass
class TokenBucket:
    """A bucket of `capacity` tokens refilled continuously over `window` seconds.

    Tokens may go below zero (down to -capacity) when throttled requests are charged, so a client
    that keeps hammering a full bucket waits longer, as Graph keeps counting usage while throttling.
    """

    capacity: float
    window: float
    tokens: float = field(init=False)
    stamp: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.tokens = self.capacity
        self.stamp = -math.inf

    def refill(self, now: float) -> None:
        if self.stamp == -math.inf:
            self.stamp = now
            return
        elapsed = now - self.stamp
        if elapsed > 0:
            self.tokens = min(self.capacity, self.tokens + elapsed * self.capacity / self.window)
            self.stamp = now

    def wait_for(self, cost: float) -> float:
        """Seconds until `cost` tokens are available (0 if they are now)."""
        missing = cost - self.tokens
        # A hair of tolerance: continuous refill accumulates float error.
        return 0.0 if missing <= 1e-9 else missing * self.window / self.capacity

    def charge(self, cost: float) -> None:
        self.tokens = max(self.tokens - cost, -self.capacity)

    def usage(self) -> float:
        """Fraction of the limit in use: 1.0 at the limit, above 1 when in debt."""
        return (self.capacity - self.tokens) / self.capacity


class Throttle:
    """Graph's identity token buckets for one tenant: per app+tenant RU and writes, tenant writes.

    `clock` is a monotonic seconds source (injectable for tests).
    """

    def __init__(self, realism: Realism, clock: Callable[[], float] = time.monotonic):
        self.realism = realism
        self.clock = clock
        scale = realism.time_scale
        self._tenant_writes = TokenBucket(TENANT_WRITES, TENANT_WRITE_WINDOW_S / scale)
        self._apps: dict[str, tuple[TokenBucket, TokenBucket]] = {}

    def _app_buckets(self, app: str) -> tuple[TokenBucket, TokenBucket]:
        buckets = self._apps.get(app)
        if buckets is None:
            buckets = (TokenBucket(*self.realism.resource_budget()), TokenBucket(*self.realism.write_budget()))
            self._apps[app] = buckets
        return buckets

    def admit(self, app: str, ru: int, writes: int) -> tuple[float, str, str] | float:
        """Charge a request. Returns the highest usage fraction when admitted, or
        (retry_after_seconds, throttle_scope, throttle_information) when throttled."""
        now = self.clock()
        ru_bucket, write_bucket = self._app_buckets(app)
        checks = [(ru_bucket, ru, "Tenant_Application/ReadWrite", "ResourceUnitLimitExceeded")]
        if writes:
            checks.append((write_bucket, writes, "Tenant_Application/Write", "WriteLimitExceeded"))
            checks.append((self._tenant_writes, writes, "Tenant/Write", "WriteLimitExceeded"))
        worst: tuple[float, str, str] | None = None
        for bucket, cost, scope, info in checks:
            bucket.refill(now)
            wait = bucket.wait_for(cost)
            if wait > 0 and (worst is None or wait > worst[0]):
                worst = (wait, scope, info)
        if worst is not None:
            # Resource usage keeps being logged while throttled; the refused write is not counted.
            ru_bucket.charge(ru)
            return worst
        for bucket, cost, _, _ in checks:
            bucket.charge(cost)
        return max(bucket.usage() for bucket, _, _, _ in checks)


def app_identity(scope: Scope) -> str:
    """The calling app's key: a hash of its bearer token, or "anonymous" without one."""
    auth = header(scope, b"authorization")
    if not auth:
        return _ANONYMOUS_APP
    return hashlib.sha256(auth.encode()).hexdigest()[:32]


def _app_guid(app: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"local-tenant-app:{app}"))


def retry_after_seconds(wait: float) -> int:
    """Whole seconds, at least 1: HTTP's Retry-After is an integer, so a sub-second wait under a
    large time scale is rounded up to 1 s (clients wait a little longer than strictly needed)."""
    return max(1, math.ceil(wait - 1e-9))


# ---------------------------------------------------------------------------------------------
# The middleware

_USER_ITEM = re.compile(r"^/v1\.0/users/([^/]+)/?$")
_RESTORE = re.compile(r"^/v1\.0/directory/deletedItems/([^/]+)/restore/?$", re.IGNORECASE)
_ROLE_ASSIGNMENTS = "/v1.0/rolemanagement/directory/roleassignments"
_LAG_METHODS = frozenset({"GET", "PATCH", "DELETE"})


class RealismMiddleware:
    """Applies throttling, transient faults and replication lag to each Graph request.

    Wraps the Graph app; `$batch` dispatches each of its items through it, so each item is
    throttled, faulted and lagged on its own. Latency is `LatencyMiddleware`'s job.
    """

    def __init__(self, app: ASGIApp, realism: Realism, *, tenant_id: str,
                 clock: Callable[[], float] = time.monotonic):
        self.app = app
        self.realism = realism
        self.tenant_id = tenant_id
        self.clock = clock
        self.rng = random.Random(realism.seed)
        self.throttle = Throttle(realism, clock) if realism.throttle else None
        self._fresh: dict[str, float] = {}  # lower-cased user id / UPN -> when it was written
        self._fresh_checked = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        path = scope["path"]
        extra: list[tuple[bytes, bytes]] = []

        if self.throttle is not None:
            ru, writes = request_cost(method, path, scope.get("query_string", b""))
            verdict = self.throttle.admit(app_identity(scope), ru, writes)
            if isinstance(verdict, tuple):
                await self._throttled(scope, send, *verdict)
                return
            extra.append((b"x-ms-resource-unit", str(ru).encode()))
            if verdict > 0.8:
                extra.append((b"x-ms-throttle-limit-percentage", f"{min(verdict, 1.8):.2f}".encode()))

        if self.realism.replication_lag_s > 0:
            receive = await self._lagging(scope, receive, send, extra)
            if receive is None:
                return

        if self.realism.fault_rate > 0 and self.rng.random() < self.realism.fault_rate:
            await self._fault(scope, receive, send, extra)
            return

        await self._forward(scope, receive, send, extra)

    async def _forward(self, scope: Scope, receive: Receive, send: Send, extra: list) -> None:
        if self.realism.replication_lag_s > 0 and scope["method"] == "POST":
            await self._tracking(scope, receive, send, extra)
            return
        await self.app(scope, receive, _adding_headers(send, extra) if extra else send)

    async def _throttled(self, scope: Scope, send: Send, wait: float, limit: str, info: str) -> None:
        app = _app_guid(app_identity(scope))
        await send_error(
            send, scope, 429, "TooManyRequests", "Please retry again later.",
            [
                (b"retry-after", str(retry_after_seconds(wait)).encode()),
                (b"x-ms-throttle-scope", f"{limit}/{app}/{self.tenant_id}".encode()),
                (b"x-ms-throttle-information", info.encode()),
            ],
            {"code": "429", "message": "Please retry after", "status": "429"},
        )

    async def _fault(self, scope: Scope, receive: Receive, send: Send, extra: list) -> None:
        if self.rng.random() < 0.5:
            await send_error(send, scope, 503, "serviceNotAvailable",
                             "The service is temporarily unavailable. Retry after a delay.",
                             [*extra, (b"retry-after", b"1")])
            return
        if scope["method"] in WRITE_METHODS and self.rng.random() < self.realism.fault_applied_share:
            # The write went through but its answer was lost on the way back: a client that
            # re-sends a create blindly gets a conflict (or a duplicate), as against real Graph.
            await self._forward(scope, receive, discard, [])
        await send_error(send, scope, 504, "UnknownError", "", extra)

    # -- replication lag ------------------------------------------------------------------------

    def _is_fresh(self, key: str) -> bool:
        written = self._fresh.get(key.lower())
        if written is None:
            return False
        if self.clock() - written < self.realism.replication_lag_s:
            return True
        del self._fresh[key.lower()]
        return False

    def _remember(self, *keys: Any) -> None:
        now = self.clock()
        for key in keys:
            if isinstance(key, str) and key:
                self._fresh[key.lower()] = now
        if now - self._fresh_checked > self.realism.replication_lag_s:
            self._fresh_checked = now
            lag = self.realism.replication_lag_s
            self._fresh = {k: t for k, t in self._fresh.items() if now - t < lag}

    async def _lagging(self, scope: Scope, receive: Receive, send: Send,
                       extra: list) -> Receive | None:
        """Answer 404 for a user not replicated yet; returns the receive to go on with, or None."""
        if not self._fresh:
            return receive
        method, path = scope["method"], scope["path"]
        if method in _LAG_METHODS:
            m = _USER_ITEM.match(path)
            if m and self._is_fresh(unquote(m.group(1))):
                await self._not_found(scope, send, unquote(m.group(1)), extra)
                return None
        elif method == "POST" and path.rstrip("/").lower() == _ROLE_ASSIGNMENTS:
            body = await read_body(receive)
            try:
                principal = json.loads(body or b"{}").get("principalId")
            except (ValueError, AttributeError):
                principal = None
            if isinstance(principal, str) and self._is_fresh(principal):
                await self._not_found(scope, send, principal, extra)
                return None
            return replay(body)
        return receive

    async def _not_found(self, scope: Scope, send: Send, key: str, extra: list) -> None:
        await send_error(
            send, scope, 404, "Request_ResourceNotFound",
            f"Resource '{key}' does not exist or one of its queried reference-property objects"
            " are not present.",
            extra,
        )

    async def _tracking(self, scope: Scope, receive: Receive, send: Send, extra: list) -> None:
        """Pass a POST through, remembering users it created or restored as not replicated yet."""
        path = scope["path"]
        created = path.rstrip("/") == "/v1.0/users"
        restored = _RESTORE.match(path)
        if not (created or restored):
            await self.app(scope, receive, _adding_headers(send, extra) if extra else send)
            return
        started: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                status = started["status"]
                if (created and status == 201) or (restored and status == 200):
                    try:
                        obj = json.loads(b"".join(chunks))
                    except ValueError:
                        obj = {}
                    self._remember(obj.get("id"), obj.get("userPrincipalName"),
                                   unquote(restored.group(1)) if restored else None)
                await send({**started, "headers": [*started.get("headers", []), *extra]})
                await send({"type": "http.response.body", "body": b"".join(chunks)})

        await self.app(scope, receive, capture)


class LatencyMiddleware:
    """Adds a fixed latency plus uniform jitter to every HTTP request (not time-scaled)."""

    def __init__(self, app: ASGIApp, realism: Realism):
        self.app = app
        self.base = realism.latency_ms / 1000.0
        self.jitter = realism.jitter_ms / 1000.0
        self.rng = random.Random(realism.seed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            delay = self.base + (self.rng.uniform(0.0, self.jitter) if self.jitter else 0.0)
            if delay > 0:
                await asyncio.sleep(delay)
        await self.app(scope, receive, send)


def _adding_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped


async def discard(message: Message) -> None:
    """An ASGI send that throws the response away (the answer was lost on the way back)."""
    return None


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
