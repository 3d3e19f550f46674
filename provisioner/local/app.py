"""Composition of the local tenant: `$batch` + realism around the Graph app, and its transport."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import httpx

from provisioner.local.batch import BATCH_PATH, BatchApp
from provisioner.local.front import FrontDoor
from provisioner.local.middleware import LatencyMiddleware, RealismMiddleware
from provisioner.local.realism import Realism
from provisioner.local.wire import ASGIApp, Receive, Scope, Send, TenantDate

# The in-process base URL the product uses; the host never resolves, the transport answers it.
LOCAL_BASE_URL = "http://local.tenant/v1.0"


class _Routes:
    """Sends `$batch` to the batch app and everything else to the Graph app."""

    def __init__(self, batch: ASGIApp, graph: ASGIApp):
        self.batch = batch
        self.graph = graph

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].rstrip("/") == BATCH_PATH:
            await self.batch(scope, receive, send)
        else:
            await self.graph(scope, receive, send)


def tenant_id_for(state_path: str | os.PathLike[str]) -> str:
    """A stable tenant id for a state file, used in `x-ms-throttle-scope`."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"local-tenant:{Path(state_path).resolve()}"))


def compose(graph: ASGIApp, realism: Realism | None = None, *, tenant_id: str,
            grouped: Callable[[], AbstractContextManager[None]] | None = None) -> ASGIApp:
    """Wrap a Graph app with `$batch` and the realism layers that `realism` switches on; `grouped`
    (the store's) commits a batch's writes once."""
    realism = realism or Realism()
    inner = RealismMiddleware(graph, realism, tenant_id=tenant_id) if realism.active else graph
    app: ASGIApp = _Routes(BatchApp(inner, grouped), inner)
    if realism.latency_ms > 0 or realism.jitter_ms > 0:
        app = LatencyMiddleware(app, realism)
    return app


def create_app(state_path: str | os.PathLike[str], realism: Realism | None = None) -> ASGIApp:
    """The local tenant's ASGI app for a state file: Graph v1.0 routes, `$batch`, and realism, behind
    the front door (a bearer token, JSON bodies on writes, Graph's headers on every answer)."""
    from provisioner.local.graph_app import graph_app

    graph = graph_app(state_path)
    store = graph.state.store
    app = FrontDoor(compose(graph, realism, tenant_id=tenant_id_for(state_path), grouped=store.grouped))
    return TenantDate(app, store.now)


def transport(state_path: str | os.PathLike[str], realism: Realism | None = None) -> httpx.ASGITransport:
    """An httpx transport answering from the local tenant in-process, without sockets.

    Use it with `base_url=LOCAL_BASE_URL`.
    """
    return httpx.ASGITransport(app=create_app(state_path, realism))
