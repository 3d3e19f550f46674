"""The composition root: the one place that builds a Graph client — its credential, its middleware,
and the transport (HTTPS to a real tenant, or the local tenant in-process, with no socket).

Nothing else constructs clients: the gateway (``directory``) receives a ready request adapter.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from provisioner import record
from provisioner.directory import Clock, Directory
from provisioner.errors import ExitCode, ProvisionerError

if TYPE_CHECKING:
    import httpx

    from provisioner.config import Profile

log = logging.getLogger("provisioner.graph")
T = TypeVar("T")

_STATE_HINT = "point $PROVISIONER_LOCAL_STATE (or --state) at a local tenant file; a new tenant is made where none is"


class LocalStateError(ProvisionerError):
    """The local tenant's file cannot be used: one line naming the file, what it is and the fix."""

    def __init__(self, message: str, exit_code: int = ExitCode.ERROR):
        super().__init__(message)
        self.exit_code = exit_code


@contextmanager
def local_state(state: Path) -> Iterator[None]:
    """Open the local tenant's file inside this block: whatever the file turns out to be (a text
    file, a truncated database, a directory, a device, unreadable), one line that names it.

    The local tenant raises SQLite's and the OS's own errors; it knows nothing of the product."""
    if state.is_dir():
        raise LocalStateError(f"{state}: is a directory, not a local tenant file; {_STATE_HINT}", ExitCode.USAGE)
    if state.exists() and not state.is_file():
        raise LocalStateError(f"{state}: is not a regular file (a device or a pipe), so it cannot hold the local "
                              f"tenant; {_STATE_HINT}", ExitCode.USAGE)
    try:
        yield
    except sqlite3.DatabaseError as e:
        reason = str(e)
        if "readonly database" in reason:
            raise LocalStateError(f"{state}: cannot write the local tenant file (it is read-only); nothing was "
                                  "written. Make it writable (chmod u+w; chattr -i when immutable), or "
                                  f"{_STATE_HINT}") from None
        if reason in ("file is not a database", "database disk image is malformed"):
            what = "is not a local tenant" if reason == "file is not a database" else "is damaged (cut short?)"
            raise LocalStateError(f"{state}: {what} ({reason}); move it away, or {_STATE_HINT}",
                                  ExitCode.USAGE) from None
        raise LocalStateError(f"{state}: cannot use the local tenant file ({reason}); check that it can be read "
                              f"and written, or {_STATE_HINT}") from None
    except OSError as e:
        raise LocalStateError(f"{state}: cannot use the local tenant file ({e.strerror or e}); check that it can be "
                              f"read and written, or {_STATE_HINT}") from None


def check_local_writable(profile: Profile) -> None:
    """Before a local tenant is changed: its file can be written (a read-only or immutable file would
    fail each write after retries, one by one)."""
    state = local_state_path(profile)
    with local_state(state):
        if not state.exists():
            return
        try:
            os.close(os.open(state, os.O_RDWR))
        except OSError as e:
            raise LocalStateError(f"{state}: cannot write the local tenant file ({e.strerror or e}); nothing was "
                                  "written. Make it writable (chmod u+w; chattr -i when immutable), or "
                                  f"{_STATE_HINT}") from None


def in_local_state(state: Path, action: Callable[[], T]) -> T:
    """``action()`` on the local tenant's file, its failures as one line."""
    with local_state(state):
        return action()


# The bearer token sent to the in-process local tenant: not a JWT, so the tenant grants everything
# (as it does to any non-JWT token); without one it answers 401 as Graph does.
LOCAL_TOKEN = "local-tenant"


def _static_bearer(token: str, base_url: str) -> Any:
    """A kiota authentication provider sending ``token`` to the host of ``base_url`` only: a profile's
    static token (``auth = "token"``), and the local tenant's (reached as http://local.tenant, which
    the Azure identity provider refuses: it allows plain http only for localhost)."""
    from urllib.parse import urlsplit

    from kiota_abstractions.authentication import (
        AccessTokenProvider,
        AllowedHostsValidator,
        BaseBearerTokenAuthenticationProvider,
    )

    class StaticAccessTokenProvider(AccessTokenProvider):
        def __init__(self) -> None:
            self._hosts = AllowedHostsValidator([urlsplit(base_url).hostname or ""])

        async def get_authorization_token(self, uri: str, additional_authentication_context: Any = None) -> str:
            return token if self._hosts.is_url_host_valid(uri) else ""

        def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
            return self._hosts

    return BaseBearerTokenAuthenticationProvider(StaticAccessTokenProvider())


def _middleware(options: dict[str, Any]) -> list[Any]:
    """msgraph-sdk's default chain without its retry handler: the gateway's one retry policy
    decides what is sent again (a write answered 503 may have been applied)."""
    from kiota_http.kiota_client_factory import KiotaClientFactory
    from kiota_http.middleware import RetryHandler
    from msgraph_core.middleware import GraphTelemetryHandler
    from msgraph_core.middleware.options import GraphTelemetryHandlerOption

    chain = [m for m in KiotaClientFactory.get_default_middleware(options) if not isinstance(m, RetryHandler)]
    chain.append(GraphTelemetryHandler(options=options[GraphTelemetryHandlerOption.get_key()]))
    return chain


def _hooks(clock: Clock) -> dict[str, list[Any]]:
    async def on_request(request: httpx.Request) -> None:
        request.extensions["provisioner_start"] = time.perf_counter()

    async def on_response(response: httpx.Response) -> None:
        clock.note(response.headers.get("Date"))
        if log.isEnabledFor(logging.INFO):
            start = response.request.extensions.get("provisioner_start")
            ms = (time.perf_counter() - start) * 1000 if start else 0.0
            log.info("%s %s -> %s (%.0f ms)", response.request.method, response.request.url.path,
                     response.status_code, ms)

    hooks: dict[str, list[Any]] = {"request": [on_request], "response": [on_response]}
    recorder = record.active()
    if recorder is not None:  # --record: the client's own hooks see every exchange, $batch included
        hooks["request"].append(recorder.on_request)
        hooks["response"].append(recorder.on_response)
    return hooks


def local_state_path(profile: Profile) -> Path:
    """The file of a local profile's tenant: the profile's, else $PROVISIONER_LOCAL_STATE, else the default."""
    from provisioner import local

    return Path(profile.state) if profile.state else Path(local.default_state_path())


async def connect(profile: Profile) -> Directory:
    """Build the gateway for a target.

    The local tenant is reached in-process through an ASGI transport; any other target over HTTPS
    with its credential (a static token is one more credential), pinned to the target's Graph host.
    """
    import httpx
    from kiota_abstractions.api_client_builder import register_default_deserializer
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
    from msgraph import GraphRequestAdapter
    from msgraph.graph_request_adapter import options as graph_options
    from msgraph_core import GraphClientFactory

    from provisioner import auth

    credential = None
    if profile.kind == "local":
        from provisioner import local

        state = local_state_path(profile)
        in_local_state(state, lambda: local.init_tenant(state))
        base = local.LOCAL_BASE_URL
        net: Any = local.transport(state, realism=local.Realism.from_env())
        provider: Any = _static_bearer(LOCAL_TOKEN, base)
        label = f"local tenant {state} (simulated)"
    else:
        base = auth.graph_base_url(profile)
        net = httpx.AsyncHTTPTransport(http2=True, retries=0)
        if profile.auth == "token":  # one static-token mechanism, for this and the local tenant
            provider = _static_bearer(auth.static_token(profile), base)
        else:
            credential = auth.build_credential(profile)
            provider = AzureIdentityAuthenticationProvider(
                credential, scopes=[auth.graph_scope(profile)], allowed_hosts=auth.allowed_hosts(profile)
            )
        label = f"tenant {profile.name} ({base})"

    clock = Clock()
    http = httpx.AsyncClient(
        transport=net, base_url=base, timeout=httpx.Timeout(100, connect=30), event_hooks=_hooks(clock)
    )
    http = GraphClientFactory.create_with_custom_middleware(_middleware(graph_options), client=http)
    adapter = GraphRequestAdapter(provider, client=http)
    # Graph's error bodies are JSON: the reader for ODataError is only registered by GraphServiceClient,
    # which is not used here; without it every error sent on its own lost its code.
    register_default_deserializer(JsonParseNodeFactory)
    adapter.base_url = base  # httpx adds a trailing slash, which would make every path '//users'

    closers = [http.aclose, net.aclose]  # AsyncGraphTransport.aclose() does not close the network transport
    if credential is not None:  # kiota never closes the credential it was given

        async def close_credential() -> None:
            await auth.close_credential(credential)

        closers.append(close_credential)
    return Directory(adapter, closers, clock, label=label)


@asynccontextmanager
async def connected(profile: Profile) -> AsyncIterator[Directory]:
    directory = await connect(profile)
    try:
        yield directory
    finally:
        await directory.close()


def write_budget(profile: Profile) -> tuple[int | None, float]:
    """The target's write budget (writes, window seconds): Graph's documented quota for a real tenant;
    for the local tenant, the one it simulates (None: not throttled unless switched on)."""
    if profile.is_local:
        from provisioner.local import Realism

        budget = Realism.from_env().write_budget()
        return (None, 1.0) if budget is None else budget
    return profile.execution.write_budget, profile.execution.write_window_seconds
