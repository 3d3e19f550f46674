"""The one gateway to Microsoft Graph. Only this module (and ``bootstrap``, which builds it) speaks
msgraph-sdk.

Every request goes through msgraph-sdk's request adapter, so authentication and host pinning apply
to the local tenant exactly as to a real one. Answers come back as typed outcomes
(:class:`provisioner.graph.Kind`): callers decide on the kind, never on Graph's message text. One
retry policy serves every read: throttling (429, honouring ``Retry-After``), transient failures
(500/502/503/504) and transport errors (a dropped connection, a timeout, a reset). Writes are not
retried here: the executor knows which of them are safe to resend.

Listings and batches read raw JSON through the adapter: the SDK's model deserialization costs
about 5 ms per user, a thousand times ``json.loads``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from provisioner.errors import ExitCode, ProvisionerError
from provisioner.forbidden import explained_read
from provisioner.graph import BATCH_LIMIT, RETRIED, Kind, Request, Response, backoff, chunks, transport_failure
from provisioner.model import USER_SELECT, DeletedUser, RoleAssignment, RoleDefinition, User
from provisioner.queries import (
    ADVANCED,
    MAX_IN_VALUES,
    PAGE_SIZE,
    assignments_request,
    deleted_users_request,
    get_user_request,
    listing,
    role_definitions_request,
    starting_now,
    user_count_request,
    users_by_upn_request,
)

log = logging.getLogger("provisioner.graph")

READ_ATTEMPTS = 6
READ_CONCURRENCY = 4


# --- the tenant's clock ---------------------------------------------------------------------------


class ValueTooLong(ProvisionerError):
    """A request whose URL cannot be sent: a value given on the command line is far too long."""

    exit_code = ExitCode.USAGE


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
        from kiota_http.middleware.options import HeadersInspectionHandlerOption

        ri = RequestInformation(Method[method])
        # Success answers come back as bytes only: the response headers (request-id) are read here.
        ri.add_request_options([HeadersInspectionHandlerOption(inspect_request_headers=False)])
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
        from kiota_http.middleware.options import HeadersInspectionHandlerOption
        from msgraph.generated.models.o_data_errors.o_data_error import ODataError

        request = starting_now(request, self.now())  # a PIM schedule request starts now, by the tenant's clock
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
        except httpx.InvalidURL as e:  # only input makes a URL this long: no user, id or filter is
            raise ValueTooLong(f"a value given is too long to send to Graph ({e}: {len(str(ri.url)):,} characters); "
                               "a user principal name has at most 113 characters and an object id 36") from None
        option = ri.request_options.get(HeadersInspectionHandlerOption.get_key())
        headers = {k: ", ".join(sorted(v)) for k, v in option.response_headers.get_all().items()} if option else {}
        return Response(request.id, 200, headers, json.loads(raw) if raw else None)

    async def batch(self, requests: Sequence[Request]) -> list[Response]:
        """Send up to 20 requests as one ``$batch`` round trip; return each item's own answer.

        The batch answers 200 even when items fail: every item's status must be checked. When the
        batch itself fails, every item gets that answer (for a write: outcome unknown).
        """
        if not requests:
            return []
        if len(requests) > BATCH_LIMIT:
            raise ValueError(f"a $batch holds at most {BATCH_LIMIT} requests")
        body = {"requests": [starting_now(r, self.now()).to_batch_item() for r in requests]}
        outer = await self.send(Request("batch", "POST", "/$batch", body))
        if not outer.ok:
            return [Response(r.id, outer.status, outer.headers, outer.body) for r in requests]
        by_id = {r.id: r for r in requests}
        responses = []
        for item in outer.body.get("responses", []) if isinstance(outer.body, Mapping) else []:
            rid = str(item.get("id"))
            if rid in by_id:
                responses.append(Response(rid, int(item.get("status", 0)), item.get("headers") or {}, item.get("body"),
                                          batch_id=outer.header("request-id")))
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
                    done[resp.id] = explained_read(by_id[resp.id], resp)  # a 403 names what it lacks
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

    async def user_count(self) -> int:
        """How many active users the tenant has, in one request: ``/users/$count``. It is an
        advanced query, so eventually consistent: a user created or deleted moments ago may not be
        counted yet. A tenant refusing it (400: advanced queries are not everywhere) is counted by
        listing the users' ids instead."""
        resp = (await self.read([user_count_request("count")]))["count"]
        if resp.kind is not Kind.INVALID:
            body = resp.checked().body
            if isinstance(body, int | str) and str(body).strip().isdigit():
                return int(body)
        first = (await self.read([Request("0", "GET", listing("/users", "id"))]))["0"]
        return sum([len(page) async for page in self.rest(first)])

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
        return await self.assignments(first)

    async def assignments(self, first: Response) -> list[RoleAssignment]:
        """The assignments a roleAssignments listing answered (every page).

        Graph answers a listing filtered by a built-in role the tenant never instantiated with 404
        Request_ResourceNotFound, not an empty list (graph-quirks §2): that role has no holders.
        The role ids sent are the catalog's template ids or the tenant's own definitions, so the
        404 cannot mean a mistyped role.
        """
        if first.kind is Kind.NOT_FOUND:
            return []
        return [RoleAssignment.from_graph(d) for d in await self.collect(first)]

    async def bearer_token(self) -> str:
        """The bearer token this gateway sends (fetching it signs in), for its claims: who it acts as,
        what it may do (``doctor``; whether an Azure CLI sign-in is a person or an application)."""
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
