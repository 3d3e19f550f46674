"""The one gateway to Microsoft Graph. Only this module speaks msgraph-sdk.

Every request goes through msgraph-sdk's request adapter, so authentication, host pinning and
the Graph middleware (retries, redirects, telemetry) apply to the local tenant exactly as to a
real one. Listings and batches read raw JSON through the adapter: the SDK's model
deserialization costs about 5 ms per user, a thousand times ``json.loads``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from provisioner.errors import GraphError, ProvisionerError
from provisioner.model import (
    USER_SELECT,
    DeletedUser,
    RoleAssignment,
    RoleDefinition,
    User,
)

if TYPE_CHECKING:
    import httpx

    from provisioner.config import Profile

log = logging.getLogger("provisioner.graph")

PAGE_SIZE = 999  # Graph's largest page for users and deleted items
BATCH_LIMIT = 20  # Graph's limit of requests in one $batch
_ADVANCED = {"ConsistencyLevel": "eventual"}


def _quote(value: str) -> str:
    return quote(value, safe="@")


def _odata_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Request:
    """One Graph call, sent on its own or as an item of a ``$batch``. ``url`` is relative: ``/users``."""

    id: str
    method: str
    url: str
    body: Mapping[str, Any] | None = field(default=None, repr=False)  # may hold a password

    def to_batch_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"id": self.id, "method": self.method, "url": self.url}
        if self.body is not None:
            item["headers"] = {"Content-Type": "application/json"}
            item["body"] = self.body
        return item


@dataclass(frozen=True)
class Response:
    id: str
    status: int
    headers: Mapping[str, str]
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None

    @property
    def retry_after(self) -> float | None:
        value = self.header("Retry-After")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    def error(self) -> GraphError:
        err = self.body.get("error", {}) if isinstance(self.body, Mapping) else {}
        inner = err.get("innerError") or err.get("innererror") or {}
        return GraphError(
            self.status,
            err.get("code") or f"HTTP{self.status}",
            err.get("message") or "no error message",
            request_id=inner.get("request-id") or self.header("request-id"),
            details=tuple(d.get("code", "") for d in err.get("details") or ()),
        )


# --- requests for writes -------------------------------------------------------------------


def create_user_request(rid: str, attributes: Mapping[str, Any], password: str) -> Request:
    body = {k: v for k, v in attributes.items() if v is not None}
    body["passwordProfile"] = {"forceChangePasswordNextSignIn": True, "password": password}
    return Request(rid, "POST", "/users", body)


def update_user_request(rid: str, object_id: str, changes: Mapping[str, Any]) -> Request:
    return Request(rid, "PATCH", f"/users/{object_id}", dict(changes))


def delete_user_request(rid: str, object_id: str) -> Request:
    return Request(rid, "DELETE", f"/users/{object_id}")


def restore_user_request(rid: str, object_id: str, options: Mapping[str, Any]) -> Request:
    # The v1.0 SDK's restore builder has no body; Graph takes these two optional parameters.
    body = {k: options[k] for k in ("autoReconcileProxyConflict", "newUserPrincipalName") if k in options}
    return Request(rid, "POST", f"/directory/deletedItems/{object_id}/restore", body or None)


def purge_user_request(rid: str, object_id: str) -> Request:
    return Request(rid, "DELETE", f"/directory/deletedItems/{object_id}")


def assign_role_request(rid: str, principal_id: str, role_id: str) -> Request:
    body = {"principalId": principal_id, "roleDefinitionId": role_id, "directoryScopeId": "/"}
    return Request(rid, "POST", "/roleManagement/directory/roleAssignments", body)


def revoke_role_request(rid: str, assignment_id: str) -> Request:
    return Request(rid, "DELETE", f"/roleManagement/directory/roleAssignments/{assignment_id}")


def get_user_request(rid: str, ref: str) -> Request:
    return Request(rid, "GET", f"/users/{_quote(ref)}?$select={','.join(USER_SELECT)}")


# --- the gateway ---------------------------------------------------------------------------


class Directory:
    """A connected target tenant. Build it with :func:`connect`; use it as an async context manager."""

    def __init__(
        self,
        client: Any,
        http: httpx.AsyncClient,
        net: Any,
        clock: _Clock,
        *,
        label: str,
        credential: Any = None,
    ):
        self._client = client
        self._credential = credential
        self._clock = clock
        self._adapter = client.request_adapter
        self._http = http
        self._net = net
        self.label = label

    async def __aenter__(self) -> Directory:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()
        # AsyncGraphTransport.aclose() is a no-op: close the network transport ourselves.
        await self._net.aclose()
        if self._credential is not None:  # kiota never closes the credential it was given
            from provisioner.auth import close_credential

            await close_credential(self._credential)

    # -- raw transport through the SDK adapter --

    def _info(self, method: str, url: str, headers: Mapping[str, str] = (), body: Any = None) -> Any:
        from kiota_abstractions.method import Method
        from kiota_abstractions.request_information import RequestInformation

        ri = RequestInformation(Method[method])
        ri.url = url if url.startswith("http") else self._adapter.base_url + url
        for key, value in dict(headers).items():
            ri.headers.try_add(key, value)
        if body is not None:
            ri.headers.try_add("Content-Type", "application/json")
            ri.content = json.dumps(body).encode()
        return ri

    async def _send(self, method: str, url: str, headers: Mapping[str, str] = (), body: Any = None) -> Any:
        """Send one request; return its parsed JSON body (None when empty). Errors → GraphError."""
        from kiota_abstractions.api_error import APIError
        from msgraph.generated.models.o_data_errors.o_data_error import ODataError

        ri = self._info(method, url, headers, body)
        try:
            raw = await self._adapter.send_primitive_async(ri, "bytes", {"XXX": ODataError})
        except ODataError as e:
            raise _graph_error(e) from None
        except APIError as e:
            raise GraphError(e.response_status_code or 0, "HTTPError", e.message or str(e)) from None
        return json.loads(raw) if raw else None

    async def get(self, url: str, *, advanced: bool = False) -> Any:
        return await self._send("GET", url, _ADVANCED if advanced else {})

    async def pages(self, url: str, *, advanced: bool = False) -> AsyncIterator[list[dict[str, Any]]]:
        """Yield each page's ``value``, following ``@odata.nextLink`` (headers resent each time)."""
        next_url: str | None = url
        while next_url:
            doc = await self.get(next_url, advanced=advanced)
            yield doc.get("value", [])
            next_url = doc.get("@odata.nextLink")

    async def batch(self, requests: Sequence[Request]) -> list[Response]:
        """Send up to 20 requests as one ``$batch``; return each item's own response.

        The batch answers 200 even when items fail: every item's status must be checked, and
        throttled items are not retried by the SDK (Graph docs, json-batching).
        """
        if not requests:
            return []
        if len(requests) > BATCH_LIMIT:
            raise ValueError(f"a $batch holds at most {BATCH_LIMIT} requests")
        doc = await self._send("POST", "/$batch", body={"requests": [r.to_batch_item() for r in requests]})
        responses = [
            Response(str(r.get("id")), int(r.get("status", 0)), r.get("headers") or {}, r.get("body"))
            for r in doc.get("responses", [])
        ]
        if log.isEnabledFor(logging.INFO):
            by_id = {r.id: r for r in requests}
            for resp in responses:
                req = by_id.get(resp.id)
                if req is not None:
                    log.info("  $batch item %s %s -> %s", req.method, req.url.split("?")[0], resp.status)
        return responses

    def now(self) -> datetime:
        """The tenant's time (see :class:`_Clock`)."""
        return self._clock.now()

    async def sync_clock(self) -> datetime:
        await self._send("GET", "/roleManagement/directory/roleDefinitions?$top=1&$select=id")
        return self.now()

    # -- reads --

    async def iter_users(
        self, *, filter: str | None = None, advanced: bool = False, top: int = PAGE_SIZE
    ) -> AsyncIterator[User]:
        url = _listing("/users", ",".join(USER_SELECT), top, filter, advanced)
        async for page in self.pages(url, advanced=advanced):
            for d in page:
                yield User.from_graph(d)

    async def find_user(self, ref: str) -> User | None:
        """An active user by object id or UPN; None when there is none."""
        try:
            d = await self.get(f"/users/{_quote(ref)}?$select={','.join(USER_SELECT)}")
        except GraphError as e:
            if e.status == 404:
                return None
            raise
        return User.from_graph(d)

    async def users_by_upn(self, upns: Iterable[str]) -> dict[str, User]:
        """The active users among ``upns``, keyed by lower-cased UPN, read 15 at a time in batches."""
        wanted = sorted({u.lower() for u in upns})
        found: dict[str, User] = {}
        chunks = [wanted[i : i + 15] for i in range(0, len(wanted), 15)]  # Graph caps `in` at 15 values
        reqs = []
        for n, chunk in enumerate(chunks):
            flt = "userPrincipalName in (" + ",".join(_odata_string(u) for u in chunk) + ")"
            url = f"/users?$select={','.join(USER_SELECT)}&$filter={quote(flt)}"
            reqs.append(Request(str(n), "GET", url))
        for i in range(0, len(reqs), BATCH_LIMIT):
            for resp in await self._batch_with_retry(reqs[i : i + BATCH_LIMIT]):
                for d in resp.body.get("value", []):
                    user = User.from_graph(d)
                    found[user.user_principal_name.lower()] = user
        return found

    async def users_by_id(self, ids: Iterable[str]) -> dict[str, User]:
        """The active users among object ``ids``, keyed by id (missing ones left out), 20 to a batch."""
        wanted = sorted(set(ids))
        found: dict[str, User] = {}
        for n in range(0, len(wanted), BATCH_LIMIT):
            requests = [get_user_request(str(i), ref) for i, ref in enumerate(wanted[n : n + BATCH_LIMIT])]
            for resp in await self._batch_with_retry(requests, absent=404):
                if resp.ok:
                    user = User.from_graph(resp.body)
                    found[user.id] = user
        return found

    async def _batch_with_retry(self, requests: Sequence[Request], attempts: int = 6,
                                absent: int | None = None) -> list[Response]:
        """Batched reads: resend throttled or failed items until they succeed. An item answered
        with the ``absent`` status is returned as it is (e.g. 404 for "no such user")."""
        import asyncio

        pending = list(requests)
        done: list[Response] = []
        for attempt in range(attempts):
            wait = 0.0
            retry = []
            by_id = {r.id: r for r in pending}
            for resp in await self.batch(pending):
                if resp.ok or resp.status == absent:
                    done.append(resp)
                elif resp.status in (429, 503, 504) and attempt < attempts - 1:
                    retry.append(by_id[resp.id])
                    wait = max(wait, resp.retry_after or 0.5 * 2**attempt)
                else:
                    raise resp.error()
            if not retry:
                return done
            pending = retry
            await asyncio.sleep(wait)
        return done

    async def iter_deleted_users(self) -> AsyncIterator[DeletedUser]:
        select = "id,userPrincipalName,displayName,deletedDateTime,onPremisesSyncEnabled"
        url = _listing("/directory/deletedItems/microsoft.graph.user", select, PAGE_SIZE, None, False)
        async for page in self.pages(url):
            for d in page:
                yield DeletedUser.from_graph(d)

    async def role_definitions(self) -> list[RoleDefinition]:
        roles: list[RoleDefinition] = []
        async for page in self.pages("/roleManagement/directory/roleDefinitions"):
            roles += [RoleDefinition.from_graph(d) for d in page]
        return roles

    async def role_assignments(
        self, *, principal_id: str | None = None, role_id: str | None = None
    ) -> list[RoleAssignment]:
        """Tenant-wide (``/``) role assignments, optionally of one principal or one role."""
        url = "/roleManagement/directory/roleAssignments"
        if principal_id:
            url += "?$filter=" + quote(f"principalId eq {_odata_string(principal_id)}")
        elif role_id:
            url += "?$filter=" + quote(f"roleDefinitionId eq {_odata_string(role_id)}")
        found: list[RoleAssignment] = []
        async for page in self.pages(url):
            found += [RoleAssignment.from_graph(d) for d in page]
        return found

    async def token_for_doctor(self) -> str:
        """The bearer token this gateway sends (fetching it signs in), for ``doctor`` to read its claims."""
        provider = getattr(self._adapter, "_authentication_provider", None)
        token_provider = getattr(provider, "access_token_provider", None)
        url = self._adapter.base_url + "/users"
        token = await token_provider.get_authorization_token(url) if token_provider else ""
        if not token:
            raise ProvisionerError(f"no bearer token for {self._adapter.base_url}")
        return token


def _listing(path: str, select: str, top: int, filter: str | None, advanced: bool) -> str:
    """A collection URL; advanced queries (endswith, ne, ...) also need $count=true."""
    url = f"{path}?$select={select}&$top={top}"
    if filter:
        url += "&$filter=" + quote(filter, safe="")
    return url + "&$count=true" if advanced else url


def _graph_error(e: Any) -> GraphError:
    err = getattr(e, "error", None)
    inner = getattr(err, "inner_error", None)
    headers = getattr(e, "response_headers", None)
    request_id = getattr(inner, "request_id", None) or (headers.get("request-id") if headers else None)
    details = tuple(getattr(d, "code", "") or "" for d in (getattr(err, "details", None) or ()))
    return GraphError(
        e.response_status_code or 0,
        getattr(err, "code", None) or "HTTPError",
        getattr(err, "message", None) or str(e),
        request_id=request_id,
        details=details,
    )


# --- the composition root ------------------------------------------------------------------


def _middleware(options: dict[str, Any]) -> list[Any]:
    from kiota_http.kiota_client_factory import KiotaClientFactory
    from kiota_http.middleware import RetryHandler
    from kiota_http.middleware.options import RetryHandlerOption
    from msgraph_core.middleware import GraphTelemetryHandler
    from msgraph_core.middleware.options import GraphTelemetryHandlerOption

    class SafeRetryHandler(RetryHandler):  # type: ignore[misc]
        """Retry POST only on 429: a 503/504 on a create may have created the user."""

        IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

        def should_retry(self, request: Any, options: Any, response: Any) -> bool:
            if response.status_code in (503, 504) and request.method.upper() not in self.IDEMPOTENT:
                return False
            return bool(super().should_retry(request, options, response))

    # The default retry base delay is 3 s added to every backoff; bulk work paces itself instead.
    retry = RetryHandlerOption(delay=0, max_retries=5)
    chain = [
        SafeRetryHandler(retry) if isinstance(m, RetryHandler) else m
        for m in KiotaClientFactory.get_default_middleware(options)
    ]
    chain.append(GraphTelemetryHandler(options=options[GraphTelemetryHandlerOption.get_key()]))
    return chain


class _Clock:
    """The tenant's time, from the ``Date`` header of its last response.

    The local tenant's clock can be moved (``local clock advance``), so "days left" must come
    from the tenant, not from this machine.
    """

    def __init__(self) -> None:
        self._seen: tuple[datetime, float] | None = None

    def note(self, date_header: str | None) -> None:
        if date_header:
            try:
                self._seen = (parsedate_to_datetime(date_header).astimezone(UTC), time.monotonic())
            except (TypeError, ValueError):
                pass

    def now(self) -> datetime:
        if self._seen is None:
            return datetime.now(UTC)
        seen, at = self._seen
        return seen + timedelta(seconds=time.monotonic() - at)


def _hooks(clock: _Clock) -> dict[str, list[Any]]:
    async def on_request(request: httpx.Request) -> None:
        request.extensions["provisioner_start"] = time.perf_counter()

    async def on_response(response: httpx.Response) -> None:
        clock.note(response.headers.get("Date"))
        if log.isEnabledFor(logging.INFO):
            start = response.request.extensions.get("provisioner_start")
            ms = (time.perf_counter() - start) * 1000 if start else 0.0
            log.info("%s %s -> %s (%.0f ms)", response.request.method, response.request.url.path,
                     response.status_code, ms)

    return {"request": [on_request], "response": [on_response]}


class _StaticTokenProvider:
    """A fixed bearer token, given only to the allowed hosts (for a loopback test target)."""

    def __init__(self, token: str, hosts: list[str]):
        from kiota_abstractions.authentication import AllowedHostsValidator

        self._token = token
        self._validator = AllowedHostsValidator(hosts)

    async def get_authorization_token(self, uri: str, additional_authentication_context: Any = None) -> str:
        return self._token if self._validator.is_url_host_valid(uri) else ""

    def get_allowed_hosts_validator(self) -> Any:
        return self._validator


async def connect(profile: Profile) -> Directory:
    """Build the gateway for a target: the composition root of every Graph client.

    The local tenant is reached in-process through an ASGI transport (no socket); any other
    target over HTTPS with its credential, pinned to the target's Graph host.
    """
    import httpx
    from kiota_abstractions.authentication import (
        AnonymousAuthenticationProvider,
        BaseBearerTokenAuthenticationProvider,
    )
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph.graph_request_adapter import options as graph_options
    from msgraph_core import GraphClientFactory

    from provisioner import auth

    credential = None
    if profile.kind == "local":
        from provisioner import local

        state = profile.state or local.default_state_path()
        local.init_tenant(state)
        base = local.LOCAL_BASE_URL
        net: Any = local.transport(state, realism=local.Realism.from_env())
        provider: Any = AnonymousAuthenticationProvider()
        label = f"local tenant {state} (simulated)"
    else:
        base = auth.graph_base_url(profile)
        net = httpx.AsyncHTTPTransport(http2=True, retries=0)
        hosts = auth.allowed_hosts(profile)
        if profile.auth == "token":
            provider = BaseBearerTokenAuthenticationProvider(
                _StaticTokenProvider(auth.static_token(profile), hosts)
            )
        else:
            from kiota_authentication_azure.azure_identity_authentication_provider import (
                AzureIdentityAuthenticationProvider,
            )

            credential = auth.build_credential(profile)
            provider = AzureIdentityAuthenticationProvider(
                credential, scopes=[auth.graph_scope(profile)], allowed_hosts=hosts
            )
        label = f"tenant {profile.name} ({base})"

    clock = _Clock()
    http = httpx.AsyncClient(
        transport=net, base_url=base, timeout=httpx.Timeout(100, connect=30), event_hooks=_hooks(clock)
    )
    http = GraphClientFactory.create_with_custom_middleware(_middleware(graph_options), client=http)
    adapter = GraphRequestAdapter(provider, client=http)
    adapter.base_url = base  # httpx adds a trailing slash, which would make every path '//users'
    return Directory(
        GraphServiceClient(request_adapter=adapter), http, net, clock, label=label, credential=credential,
    )
