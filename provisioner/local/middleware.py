"""The realism middleware: throttling answers, transient faults and replication lag per Graph
request (and per `$batch` item, as Graph evaluates them), and network latency per HTTP request."""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from .realism import Realism
from .throttle import Throttle, app_guid, app_identity, request_cost, retry_after_seconds
from .wire import (
    WRITE_METHODS,
    ASGIApp,
    Captured,
    Receive,
    Scope,
    Send,
    adding_headers,
    discard,
    not_found,
    read_body,
    replay,
    send_error,
)

_USER_ITEM = re.compile(r"^/v1\.0/users(?:/([^/]+)|\('((?:[^']|'')*)'\))/?$")
_RESTORE = re.compile(r"^/v1\.0/directory/deletedItems/([^/]+)/restore/?$", re.IGNORECASE)
_DELETED_ITEM = re.compile(r"^/v1\.0/directory/deletedItems/([^/]+?)(/restore)?/?$", re.IGNORECASE)
_ASSIGNMENT = re.compile(r"^/v1\.0/roleManagement/directory/roleAssignments/([^/]+)/?$", re.IGNORECASE)
_ROLE_ASSIGNMENTS = "/v1.0/rolemanagement/directory/roleassignments"
_LAG_METHODS = frozenset({"GET", "PATCH", "DELETE"})
_ASSIGN_LICENSE = re.compile(r"^/v1\.0/users/([^/]+)/assignLicense/?$", re.IGNORECASE)
# assignLicense's answer while a usageLocation just set has not replicated (L§6.5, L§6.8).
_NO_LOCATION = "License assignment cannot be done for user with invalid usage location."


def _user_key(m: re.Match) -> str:
    return unquote(m.group(1)) if m.group(1) is not None else m.group(2).replace("''", "'")


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
        # "kind:key" (lower case) -> when it was written: "user:" created or restored (id or UPN),
        # "deleted:" a user just deleted, "assignment:" a role assignment just made.
        self._fresh: dict[str, float] = {}
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
        if self.realism.replication_lag_s > 0 and scope["method"] in ("POST", "DELETE", "PATCH"):
            await self._tracking(scope, receive, send, extra)
            return
        await self.app(scope, receive, adding_headers(send, extra))

    async def _throttled(self, scope: Scope, send: Send, wait: float, limit: str, info: str) -> None:
        app = app_guid(app_identity(scope))
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

    def _remember(self, kind: str, *keys: Any) -> None:
        now = self.clock()
        for key in keys:
            if isinstance(key, str) and key:
                self._fresh[f"{kind}:{key}".lower()] = now
        if now - self._fresh_checked > self.realism.replication_lag_s:
            self._fresh_checked = now
            lag = self.realism.replication_lag_s
            self._fresh = {k: t for k, t in self._fresh.items() if now - t < lag}

    async def _lagging(self, scope: Scope, receive: Receive, send: Send,
                       extra: list) -> Receive | None:
        """Answer 404 for an object a replica has not seen yet (graph-quirks §5): a user just created or
        restored, by id or UPN; a role assignment just made, by id (GET, DELETE); a user just deleted,
        under deleted items (GET, restore, permanent delete). Returns the receive to go on with, or
        None when answered."""
        if not self._fresh:
            return receive
        method, path = scope["method"], scope["path"]
        stale: str | None = None
        if method in _LAG_METHODS and (m := _USER_ITEM.match(path)):
            stale = _user_key(m) if self._is_fresh("user:" + _user_key(m)) else None
        elif method in ("GET", "DELETE") and (m := _ASSIGNMENT.match(path)):
            stale = m.group(1) if self._is_fresh("assignment:" + m.group(1)) else None
        elif (m := _DELETED_ITEM.match(path)) and (method == "POST") == bool(m.group(2)) and method != "PATCH":
            stale = m.group(1) if self._is_fresh("deleted:" + m.group(1)) else None
        if stale is not None:
            await self._not_found(scope, send, stale, extra)
            return None
        licensing = _ASSIGN_LICENSE.match(path) if method == "POST" else None
        if licensing and self._is_fresh("location:" + unquote(licensing.group(1))):
            await send_error(send, scope, 400, "Request_BadRequest", _NO_LOCATION, extra)
            return None
        if method == "POST" and path.rstrip("/").lower() == _ROLE_ASSIGNMENTS:
            body = await read_body(receive)
            try:
                principal = json.loads(body or b"{}").get("principalId")
            except (ValueError, AttributeError):
                principal = None
            if isinstance(principal, str) and self._is_fresh("user:" + principal):
                await self._not_found(scope, send, principal, extra)
                return None
            return replay(body)
        return receive

    async def _not_found(self, scope: Scope, send: Send, key: str, extra: list) -> None:
        err = not_found(key)
        await send_error(send, scope, err.status, err.code, err.message, extra)

    async def _tracking(self, scope: Scope, receive: Receive, send: Send, extra: list) -> None:
        """Pass a write through, remembering what it made as not replicated yet: users created or
        restored, role assignments made, users deleted (by the key the DELETE named)."""
        path, method = scope["path"], scope["method"]
        created = method == "POST" and path.rstrip("/") == "/v1.0/users"
        restored = _RESTORE.match(path) if method == "POST" else None
        assigned = method == "POST" and path.rstrip("/").lower() == _ROLE_ASSIGNMENTS
        deleted = _USER_ITEM.match(path) if method == "DELETE" else None
        patched = _USER_ITEM.match(path) if method == "PATCH" else None
        if patched:  # a usageLocation set: assignLicense does not see it for a while (L§6.8)
            body = await read_body(receive)
            answer = Captured()
            await self.app(scope, replay(body), answer)
            try:
                located = answer.status == 204 and "usageLocation" in json.loads(body or b"{}")
            except (ValueError, TypeError):
                located = False
            if located:
                self._remember("location", _user_key(patched))
            await answer.relay(send, extra)
            return
        if not (created or restored or assigned or deleted):
            await self.app(scope, receive, adding_headers(send, extra))
            return
        answer = Captured()
        await self.app(scope, receive, answer)
        if deleted and answer.status == 204:
            self._remember("deleted", _user_key(deleted))
        elif answer.status in (200, 201):
            try:
                obj = json.loads(answer.body)
            except ValueError:
                obj = {}
            if assigned:
                self._remember("assignment", obj.get("id"))
            else:
                self._remember("user", obj.get("id"), obj.get("userPrincipalName"),
                               unquote(restored.group(1)) if restored else None)
        await answer.relay(send, extra)


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
