"""`provisioner local serve`: the local tenant over real HTTP with uvicorn, on loopback by default.

Dropped connections (`Realism.drop_rate`) exist only here: the connection is aborted without an
answer, as a flaky network or a recycled front end does to a real client.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import random
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from provisioner.local.app import create_app
from provisioner.local.realism import Realism
from provisioner.local.wire import WRITE_METHODS, ASGIApp, Receive, Scope, Send, discard, header, send_error


class RemoteBindRefused(ValueError):
    """Raised when asked to listen on a non-loopback address without `allow_remote`."""


def is_loopback(host: str) -> bool:
    """True for loopback addresses and `localhost`."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_remote: bool) -> None:
    """Refuse a non-loopback host unless `allow_remote`: the tenant accepts any bearer token that
    is not a JWT."""
    if not allow_remote and not is_loopback(host):
        raise RemoteBindRefused(
            f"refusing to listen on {host}: the local tenant accepts any bearer token, so anyone who can "
            "reach it can change it. Use a loopback address such as 127.0.0.1, or allow remote access "
            "explicitly (--allow-remote)."
        )


def base_url(host: str, port: int) -> str:
    """The Graph v1.0 base URL of a server on host:port."""
    bare = host.strip("[]")
    shown = f"[{bare}]" if ":" in bare else bare
    return f"http://{shown}:{port}/v1.0"


def _host_port(value: str) -> tuple[str, int | None]:
    """The host and port of a Host header or of an Origin's authority (`[::1]:8000`, `localhost`)."""
    host, port = value, None
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif value.count(":") == 1:
        host, port = value.split(":")
    try:
        return host.lower(), int(port) if port else None
    except ValueError:
        return host.lower(), -1


class LoopbackOnly:
    """Answers only requests addressed to this server by a loopback name or address, and none sent
    by a web page from another origin.

    A page in the admin's browser can reach a loopback port: through DNS rebinding (its own name
    resolving to 127.0.0.1, so its Host is that name) or by a cross-origin request (its Origin names
    the page's site). Graph would never see either from a real client; both are refused with a
    Graph-shaped error before anything else runs. With ``allow_remote`` any Host is taken (the
    server was asked to be reachable by other names), but a foreign Origin still is not.
    """

    def __init__(self, app: ASGIApp, port: int, *, allow_remote: bool = False):
        self.app = app
        self.port = port
        self.allow_remote = allow_remote

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = header(scope, b"host") or ""
        name, port = _host_port(host)
        if not self.allow_remote and not (is_loopback(name) and port in (None, self.port)):
            await send_error(send, scope, 421, "Request_MisdirectedRequest",
                             f"The local tenant answers requests for 127.0.0.1:{self.port} or localhost:{self.port} "
                             f"only, not for Host '{host}'.")
            return
        origin = header(scope, b"origin")
        if origin is not None and not is_loopback(_host_port(origin.partition("://")[2].rstrip("/"))[0]):
            await send_error(send, scope, 403, "Authorization_RequestDenied",
                             f"Requests from web pages of another site (Origin '{origin}') are refused by the local "
                             "tenant.")
            return
        await self.app(scope, receive, send)


class _DropConnections:
    """Aborts a share of connections instead of answering; for writes, some after applying them."""

    def __init__(self, app: ASGIApp, transport: asyncio.Transport, realism: Realism, rng: random.Random):
        self.app = app
        self.transport = transport
        self.rate = realism.drop_rate
        self.applied_share = realism.fault_applied_share
        self.rng = rng

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.rng.random() >= self.rate:
            await self.app(scope, receive, send)
            return
        if scope["method"] in WRITE_METHODS and self.rng.random() < self.applied_share:
            await self.app(scope, receive, discard)
        self.transport.abort()
        # Let the protocol see the connection is gone before the app returns, so uvicorn does not
        # report an app that "returned without starting response".
        await asyncio.sleep(0)


def _protocol_class(realism: Realism) -> Any:
    """uvicorn's h11 protocol, wrapping each connection's app to drop connections at random."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    rng = random.Random(realism.seed)

    class DroppingH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.app = _DropConnections(self.app, transport, realism, rng)

    return DroppingH11Protocol


def _listen(host: str, port: int) -> socket.socket:
    bare = host.strip("[]")
    family = socket.AF_INET6 if ":" in bare else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((bare, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _server(state_path: str | os.PathLike[str], sock: socket.socket, realism: Realism | None,
            allow_remote: bool = False) -> Any:
    import uvicorn

    realism = realism or Realism()
    config = uvicorn.Config(
        LoopbackOnly(create_app(state_path, realism), sock.getsockname()[1], allow_remote=allow_remote),
        log_level="warning",
        access_log=False,
        lifespan="off",
        http=_protocol_class(realism) if realism.drop_rate > 0 else "h11",
        # Graph sends no Server header; keep the emulator's answers shaped like Graph's.
        server_header=False,
        date_header=False,  # the tenant stamps its own clock's Date (it can be moved)
    )
    return uvicorn.Server(config)


def serve(state_path: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 8000,
          realism: Realism | None = None, allow_remote: bool = False) -> None:
    """Serve the local tenant at http://HOST:PORT/v1.0 until Ctrl-C (port 0 picks a free port).

    Raises RemoteBindRefused for a non-loopback host without `allow_remote`, and OSError when
    the address cannot be bound.
    """
    check_host(host, allow_remote)
    sock = _listen(host, port)
    server = _server(state_path, sock, realism, allow_remote)
    url = base_url(host, sock.getsockname()[1])
    sys.stderr.write(f"Serving local tenant at {url} (state: {state_path})\nPress Ctrl-C to stop.\n")
    sys.stderr.flush()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn re-raises the captured Ctrl-C once it has shut down cleanly.
        pass
    finally:
        sock.close()
    sys.stderr.write("Local tenant stopped.\n")


@contextmanager
def running_server(state_path: str | os.PathLike[str], realism: Realism | None = None,
                   host: str = "127.0.0.1") -> Iterator[str]:
    """Run the local tenant on a free loopback port in a background thread; yields its base URL
    (``http://127.0.0.1:PORT/v1.0``) and stops the server on exit."""
    check_host(host, allow_remote=False)
    sock = _listen(host, 0)
    server = _server(state_path, sock, realism)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="local-tenant", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the local tenant server did not start")
            time.sleep(0.01)
        yield base_url(host, sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
