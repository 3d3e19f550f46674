"""Graph's identity throttling (graph-facts §9): what a request costs, and the token buckets per
app+tenant (resource units, writes) and per tenant (writes) that admit or refuse it."""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from .realism import TENANT_WRITE_WINDOW_S, TENANT_WRITES, Realism
from .wire import WRITE_METHODS, Scope, header

_ANONYMOUS_APP = "anonymous"


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


def app_guid(app: str) -> str:
    """The app id shown in `x-ms-throttle-scope`: stable per calling app."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"local-tenant-app:{app}"))


def retry_after_seconds(wait: float) -> int:
    """Whole seconds, at least 1: HTTP's Retry-After is an integer, so a sub-second wait under a
    large time scale is rounded up to 1 s (clients wait a little longer than strictly needed)."""
    return max(1, math.ceil(wait - 1e-9))
