"""Graph's protocol as plain data: a request, its answer, and what an answer means (:class:`Kind`) —
decided on the status and Graph's error codes, never on message text.

No I/O here: the gateway (``directory``) sends requests, the executor and the use cases build them
(their shapes live in ``queries``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from provisioner.errors import GraphError, ProvisionerError

BATCH_LIMIT = 20  # Graph's limit of requests in one $batch
NO_PIM_LICENCE = "AadPremiumLicenseRequired"  # PIM on a tenant without Entra ID P2 / Governance (P§A3)
PIM_EXISTS = "RoleAssignmentExists"
PIM_MISSING = "RoleAssignmentDoesNotExist"


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
    """One answer. ``status`` 0 means no HTTP answer came back (a transport error). ``batch_id`` is
    the request-id of the ``$batch`` that carried it, if one did."""

    id: str
    status: int
    headers: Mapping[str, str]
    body: Any
    batch_id: str | None = None

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
        """Graph's id for this answer: an error's own (in its body), the response's header, or for an
        item of a ``$batch``, which carries neither (graph-quirks §3), the batch's id and the item's."""
        inner = self._error_body().get("innerError") or self._error_body().get("innererror") or {}
        found = inner.get("request-id") or self.header("request-id")
        if found is None and self.batch_id:
            return f"{self.batch_id}/{self.id}"
        return found

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


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
