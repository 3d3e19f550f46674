"""The one gateway to Microsoft Graph. Only this module (and ``bootstrap``, which builds it) speaks
msgraph-sdk.

Every request goes through msgraph-sdk's request adapter, so authentication and host pinning apply
to the local tenant exactly as to a real one. Answers come back as typed outcomes (:class:`Kind`):
the callers decide on the kind, never on Graph's message text. One retry policy serves every
read: throttling (429, honouring ``Retry-After``), transient failures (500/502/503/504) and transport
errors (a dropped connection, a timeout, a reset). Writes are not retried here: the executor
knows which of them are safe to resend.

Listings and batches read raw JSON through the adapter: the SDK's model deserialization costs
about 5 ms per user, a thousand times ``json.loads``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from provisioner.errors import GraphError, ProvisionerError
from provisioner.model import USER_SELECT, DeletedUser, RoleAssignment, RoleDefinition, User

log = logging.getLogger("provisioner.graph")

PAGE_SIZE = 999  # Graph's largest page for users and deleted items
BATCH_LIMIT = 20  # Graph's limit of requests in one $batch
MAX_IN_VALUES = 15  # Graph's limit of values in one `in (...)` filter
READ_ATTEMPTS = 6
READ_CONCURRENCY = 4
ADVANCED = {"ConsistencyLevel": "eventual"}
DELETED_SELECT = "id,userPrincipalName,displayName,deletedDateTime,onPremisesSyncEnabled"
ASSIGNMENTS = "/roleManagement/directory/roleAssignments"


class Kind(StrEnum):
    """What an answer means for the caller, whatever its exact status and code."""

    OK = "ok"
    THROTTLED = "throttled"  # 429: wait Retry-After, then send again
    TRANSIENT = "transient"  # 500/502/503/504 or a transport error: the outcome of a write is unknown
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"  # the object (or the value of a unique property) already exists
    FORBIDDEN = "forbidden"  # 401/403: the caller may not do this
    INVALID = "invalid"  # any other refusal: the request itself is wrong


TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
RETRIED = frozenset({Kind.THROTTLED, Kind.TRANSIENT})


def classify(status: int, code: str = "", details: Sequence[str] = ()) -> Kind:
    """Graph's answer as a :class:`Kind`, decided on the status and Graph's error codes."""
    if 200 <= status < 300:
        return Kind.OK
    if status == 429:
        return Kind.THROTTLED
    if status == 0 or status in TRANSIENT_STATUSES:
        return Kind.TRANSIENT
    if status == 404 or code == "Request_ResourceNotFound":
        return Kind.NOT_FOUND
    if status == 409 or "ObjectConflict" in details or code == "Request_MultipleObjectsWithSameKeyValue":
        return Kind.CONFLICT
    if status in (401, 403):
        return Kind.FORBIDDEN
    return Kind.INVALID


def backoff(attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait before sending again: Graph's ``Retry-After`` when given, else exponential."""
    if retry_after is not None:
        return retry_after
    return min(8.0, 0.25 * 2**attempt)


def _quote(value: str) -> str:
    return quote(value, safe="@")


def odata_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Request:
    """One Graph call, sent on its own or as an item of a ``$batch``. ``url`` is relative: ``/users``."""

    id: str
    method: str
    url: str
    body: Mapping[str, Any] | None = field(default=None, repr=False)  # may hold a password
    headers: Mapping[str, str] = field(default_factory=dict)

    def to_batch_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"id": self.id, "method": self.method, "url": self.url}
        headers = dict(self.headers)
        if self.body is not None:
            headers["Content-Type"] = "application/json"
            item["body"] = self.body
        if headers:
            item["headers"] = headers
        return item


@dataclass(frozen=True)
class Response:
    """One answer. ``status`` 0 means no HTTP answer came back (a transport error)."""

    id: str
    status: int
    headers: Mapping[str, str]
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def kind(self) -> Kind:
        if self.ok:
            return Kind.OK
        e = self._error_body()
        return classify(self.status, e.get("code") or "", [d.get("code", "") for d in e.get("details") or ()])

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

    @property
    def request_id(self) -> str | None:
        inner = self._error_body().get("innerError") or self._error_body().get("innererror") or {}
        return inner.get("request-id") or self.header("request-id")

    def _error_body(self) -> dict[str, Any]:
        e = self.body.get("error") if isinstance(self.body, Mapping) else None
        return e if isinstance(e, dict) else {}

    def error(self) -> GraphError:
        e = self._error_body()
        return GraphError(
            self.status,
            e.get("code") or f"HTTP{self.status}",
            e.get("message") or "no error message",
            request_id=self.request_id,
            details=tuple(d.get("code", "") for d in e.get("details") or ()),
        )

    def failure(self) -> ProvisionerError:
        """This answer as the error a command reports."""
        if self.status == 0:
            return ProvisionerError(f"Graph did not answer ({self.error().message}); check the network and the "
                                    "target's graph_url, then run the command again")
        return self.error()

    def checked(self) -> Response:
        """This answer if it is a success; else its error is raised."""
        if not self.ok:
            raise self.failure()
        return self

    def values(self) -> list[dict[str, Any]]:
        """The ``value`` of a collection answer ([] for anything else)."""
        return self.body.get("value", []) if isinstance(self.body, Mapping) else []


def transport_failure(rid: str, e: BaseException) -> Response:
    """A request that got no HTTP answer, as a TRANSIENT response."""
    return Response(rid, 0, {}, {"error": {"code": "TransportError", "message": f"{type(e).__name__}: {e}"}})


# --- requests ------------------------------------------------------------------------------------


def create_user_request(rid: str, properties: Mapping[str, Any], password: str) -> Request:
    body = {k: v for k, v in properties.items() if v is not None}
    body["passwordProfile"] = {"forceChangePasswordNextSignIn": True, "password": password}
    return Request(rid, "POST", "/users", body)


def update_user_request(rid: str, object_id: str, changes: Mapping[str, Any]) -> Request:
    return Request(rid, "PATCH", f"/users/{object_id}", dict(changes))


def delete_user_request(rid: str, object_id: str) -> Request:
    return Request(rid, "DELETE", f"/users/{object_id}")


def restore_user_request(rid: str, object_id: str, *, new_upn: str | None = None,
                         auto_reconcile: bool = False) -> Request:
    # The v1.0 SDK's restore builder has no body; Graph takes these two optional parameters.
    body: dict[str, Any] = {}
    if auto_reconcile:
        body["autoReconcileProxyConflict"] = True
    if new_upn:
        body["newUserPrincipalName"] = new_upn
    return Request(rid, "POST", f"/directory/deletedItems/{object_id}/restore", body or None)


def purge_user_request(rid: str, object_id: str) -> Request:
    return Request(rid, "DELETE", f"/directory/deletedItems/{object_id}")


def assign_role_request(rid: str, principal_id: str, role_id: str) -> Request:
    body = {"principalId": principal_id, "roleDefinitionId": role_id, "directoryScopeId": "/"}
    return Request(rid, "POST", ASSIGNMENTS, body)


def revoke_role_request(rid: str, assignment_id: str) -> Request:
    return Request(rid, "DELETE", f"{ASSIGNMENTS}/{assignment_id}")


def get_user_request(rid: str, ref: str) -> Request:
    """An active user by object id or UPN (404 when there is none)."""
    return Request(rid, "GET", f"/users/{_quote(ref)}?$select={','.join(USER_SELECT)}")


def users_by_upn_request(rid: str, upns: Sequence[str]) -> Request:
    """The active users among at most 15 UPNs."""
    flt = "userPrincipalName in (" + ",".join(odata_string(u) for u in upns) + ")"
    return Request(rid, "GET", f"/users?$select={','.join(USER_SELECT)}&$filter={quote(flt)}")


def assignments_request(rid: str, *, principal_id: str | None = None, role_id: str | None = None) -> Request:
    """Tenant-wide role assignments, of one principal and/or of one role definition."""
    clauses = []
    if principal_id:
        clauses.append(f"principalId eq {odata_string(principal_id)}")
    if role_id:
        clauses.append(f"roleDefinitionId eq {odata_string(role_id)}")
    url = ASSIGNMENTS + ("?$filter=" + quote(" and ".join(clauses)) if clauses else "")
    return Request(rid, "GET", url)


def deleted_users_request(rid: str) -> Request:
    return Request(rid, "GET", listing("/directory/deletedItems/microsoft.graph.user", DELETED_SELECT))


def role_definitions_request(rid: str) -> Request:
    return Request(rid, "GET", "/roleManagement/directory/roleDefinitions")


def listing(path: str, select: str, *, top: int = PAGE_SIZE, filter: str | None = None,
            advanced: bool = False) -> str:
    """A collection URL; advanced queries (endswith, ne, ...) also need $count=true."""
    url = f"{path}?$select={select}&$top={top}"
    if filter:
        url += "&$filter=" + quote(filter, safe="")
    return url + "&$count=true" if advanced else url


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# --- the tenant's clock ---------------------------------------------------------------------------


class Clock:
    """The tenant's time, from the ``Date`` header of its last response.

    The local tenant's clock can be moved (``local clock advance``), so "days left" must come
    from the tenant, not from this machine; every answer says the time, so none is sent to ask.
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


# --- the gateway ---------------------------------------------------------------------------------


class Directory:
    """A connected target tenant, built by :func:`provisioner.bootstrap.connect`."""

    def __init__(self, adapter: Any, closers: Sequence[Any], clock: Clock, *, label: str):
        self._adapter = adapter
        self._closers = list(closers)
        self._clock = clock
        self.label = label

    async def close(self) -> None:
        for close in self._closers:
            await close()

    def now(self) -> datetime:
        """The tenant's time, as its last answer said it."""
        return self._clock.now()

    # -- one request, one answer --

    def _info(self, method: str, url: str, headers: Mapping[str, str], body: Any) -> Any:
        from kiota_abstractions.method import Method
        from kiota_abstractions.request_information import RequestInformation

        ri = RequestInformation(Method[method])
        ri.url = url if url.startswith("http") else self._adapter.base_url + url
        for key, value in headers.items():
            ri.headers.try_add(key, value)
        if body is not None:
            ri.headers.try_add("Content-Type", "application/json")
            ri.content = json.dumps(body).encode()
        return ri

    async def send(self, request: Request) -> Response:
        """Send one request; every answer, error or transport failure comes back as a Response."""
        import httpx
        from kiota_abstractions.api_error import APIError
        from msgraph.generated.models.o_data_errors.o_data_error import ODataError

        ri = self._info(request.method, request.url, request.headers, request.body)
        try:
            raw = await self._adapter.send_primitive_async(ri, "bytes", {"XXX": ODataError})
        except ODataError as e:
            return _odata_response(request.id, e)
        except APIError as e:
            headers = dict(getattr(e, "response_headers", None) or {})
            body = {"error": {"code": "HTTPError", "message": e.message or str(e)}}
            return Response(request.id, e.response_status_code or 0, headers, body)
        except (httpx.TransportError, OSError) as e:
            return transport_failure(request.id, e)
        return Response(request.id, 200, {}, json.loads(raw) if raw else None)

    async def batch(self, requests: Sequence[Request]) -> list[Response]:
        """Send up to 20 requests as one ``$batch`` round trip; return each item's own answer.

        The batch answers 200 even when items fail: every item's status must be checked. When the
        batch itself fails, every item gets that answer (for a write: outcome unknown).
        """
        if not requests:
            return []
        if len(requests) > BATCH_LIMIT:
            raise ValueError(f"a $batch holds at most {BATCH_LIMIT} requests")
        body = {"requests": [r.to_batch_item() for r in requests]}
        outer = await self.send(Request("batch", "POST", "/$batch", body))
        if not outer.ok:
            return [Response(r.id, outer.status, outer.headers, outer.body) for r in requests]
        by_id = {r.id: r for r in requests}
        responses = []
        for item in outer.body.get("responses", []) if isinstance(outer.body, Mapping) else []:
            rid = str(item.get("id"))
            if rid in by_id:
                responses.append(Response(rid, int(item.get("status", 0)), item.get("headers") or {}, item.get("body")))
                log.info("  $batch item %s %s -> %s", by_id[rid].method, by_id[rid].url.split("?")[0],
                         responses[-1].status)
        answered = {r.id for r in responses}
        missing = {"error": {"code": "NoResponse", "message": "no response for this batch item"}}
        responses += [Response(r.id, 0, {}, missing) for r in requests if r.id not in answered]
        return responses

    async def read(self, requests: Sequence[Request], *, attempts: int = READ_ATTEMPTS) -> dict[str, Response]:
        """Independent reads in the fewest round trips: one ``$batch`` per 20, all in flight at once.

        Throttled and transient items are sent again (the one retry policy); the final answer of
        each is returned by request id, whatever its kind, for the caller to decide.
        """
        pending = list(requests)
        done: dict[str, Response] = {}
        for attempt in range(attempts):
            if len(pending) == 1:
                answers = [await self.send(pending[0])]
            else:
                answers = await self._batches(pending)
            by_id = {r.id: r for r in pending}
            retry, wait = [], 0.0
            for resp in answers:
                if resp.kind in RETRIED and attempt < attempts - 1:
                    retry.append(by_id[resp.id])
                    wait = max(wait, backoff(attempt, resp.retry_after))
                else:
                    done[resp.id] = resp
            if not retry:
                break
            log.info("  %d read(s) throttled or failed; again in %.1fs", len(retry), wait)
            await asyncio.sleep(wait)
            pending = retry
        return done

    async def _batches(self, requests: Sequence[Request]) -> list[Response]:
        """Batches of 20, at most READ_CONCURRENCY in flight (Graph throttles per app and tenant)."""
        gate = asyncio.Semaphore(READ_CONCURRENCY)

        async def one(part: Sequence[Request]) -> list[Response]:
            async with gate:
                return await self.batch(part)

        parts = await asyncio.gather(*(one(part) for part in chunks(requests, BATCH_LIMIT)))
        return [r for part in parts for r in part]

    async def get(self, url: str, *, advanced: bool = False) -> Any:
        """One read, retried by the policy; its JSON body, or GraphError."""
        resp = (await self.read([Request("get", "GET", url, headers=ADVANCED if advanced else {})]))["get"]
        if not resp.ok:
            raise resp.failure()
        return resp.body

    async def rest(self, first: Response) -> AsyncIterator[list[dict[str, Any]]]:
        """The pages of a listing whose first page is ``first``, following ``@odata.nextLink``."""
        if not first.ok:
            raise first.failure()
        yield first.values()
        next_url = first.body.get("@odata.nextLink")
        while next_url:
            doc = await self.get(next_url, advanced=bool(first.body.get("@odata.count") is not None))
            yield doc.get("value", [])
            next_url = doc.get("@odata.nextLink")

    async def collect(self, first: Response) -> list[dict[str, Any]]:
        return [item async for page in self.rest(first) for item in page]

    # -- reads the use cases share --

    async def iter_users(self, *, filter: str | None = None, advanced: bool = False,
                         top: int = PAGE_SIZE) -> AsyncIterator[User]:
        """Every active user matching ``filter``, read a page at a time."""
        url = listing("/users", ",".join(USER_SELECT), top=top, filter=filter, advanced=advanced)
        first = (await self.read([Request("0", "GET", url, headers=ADVANCED if advanced else {})]))["0"]
        async for page in self.rest(first):
            for d in page:
                yield User.from_graph(d)

    async def users_by_upn(self, upns: Iterable[str]) -> dict[str, User]:
        """The active users among ``upns``, keyed by lower-cased UPN, 15 to a filter, 20 filters a batch."""
        wanted = sorted({u.lower() for u in upns})
        requests = [users_by_upn_request(str(n), part) for n, part in enumerate(chunks(wanted, MAX_IN_VALUES))]
        found: dict[str, User] = {}
        for resp in (await self.read(requests)).values():
            for d in resp.checked().values():
                found[d["userPrincipalName"].lower()] = User.from_graph(d)
        return found

    async def users_by_id(self, ids: Iterable[str]) -> dict[str, User]:
        """The active users among object ``ids``, keyed by id (missing ones left out)."""
        requests = [get_user_request(str(n), ref) for n, ref in enumerate(sorted(set(ids)))]
        found: dict[str, User] = {}
        for resp in (await self.read(requests)).values():
            if resp.kind is Kind.NOT_FOUND:
                continue
            user = User.from_graph(resp.checked().body)
            found[user.id] = user
        return found

    async def deleted_users(self) -> list[DeletedUser]:
        first = (await self.read([deleted_users_request("0")]))["0"]
        return [DeletedUser.from_graph(d) for d in await self.collect(first)]

    async def role_definitions(self) -> list[RoleDefinition]:
        first = (await self.read([role_definitions_request("0")]))["0"]
        return [RoleDefinition.from_graph(d) for d in await self.collect(first)]

    async def role_assignments(self, *, principal_id: str | None = None,
                               role_id: str | None = None) -> list[RoleAssignment]:
        """Tenant-wide (``/``) role assignments, optionally of one principal and/or one role."""
        first = (await self.read([assignments_request("0", principal_id=principal_id, role_id=role_id)]))["0"]
        return [RoleAssignment.from_graph(d) for d in await self.collect(first)]

    async def token_for_doctor(self) -> str:
        """The bearer token this gateway sends (fetching it signs in), for ``doctor`` to read its claims."""
        provider = getattr(self._adapter, "_authentication_provider", None)
        token_provider = getattr(provider, "access_token_provider", None)
        url = self._adapter.base_url + "/users"
        token = await token_provider.get_authorization_token(url) if token_provider else ""
        if not token:
            raise ProvisionerError(f"no bearer token for {self._adapter.base_url}")
        return token


def _odata_response(rid: str, e: Any) -> Response:
    err = getattr(e, "error", None)
    inner = getattr(err, "inner_error", None)
    headers = dict(getattr(e, "response_headers", None) or {})
    body: dict[str, Any] = {"error": {
        "code": getattr(err, "code", None) or "HTTPError",
        "message": getattr(err, "message", None) or str(e),
        "details": [{"code": getattr(d, "code", "") or ""} for d in (getattr(err, "details", None) or ())],
    }}
    request_id = getattr(inner, "request_id", None)
    if request_id:
        body["error"]["innerError"] = {"request-id": request_id}
    return Response(rid, e.response_status_code or 0, headers, body)
