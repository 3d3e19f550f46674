"""Graph requests and answers as plain data: what each write and read sends, and what an answer
means (:class:`Kind`) — decided on the status and Graph's error codes, never on message text.

No I/O here: the gateway (``directory``) sends these, the executor and the use cases build them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from provisioner.errors import GraphError, ProvisionerError
from provisioner.model import USER_SELECT

PAGE_SIZE = 999  # Graph's largest page for users and deleted items
BATCH_LIMIT = 20  # Graph's limit of requests in one $batch
MAX_IN_VALUES = 15  # Graph's limit of values in one `in (...)` filter
ADVANCED = {"ConsistencyLevel": "eventual"}
# assignedLicenses: a restore takes them back, seats included (L§6.9), which users restore warns about.
DELETED_SELECT = "id,userPrincipalName,displayName,deletedDateTime,onPremisesSyncEnabled,assignedLicenses"
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


def user_path(ref: str) -> str:
    """The path of one user by object id or UPN. A UPN starting with `$` would read as an OData
    system segment (Graph answers 400), so it takes the key form `/users('...')`, its quotes
    doubled and every character but letters and digits percent-encoded (graph-quirks §4)."""
    if ref.startswith("$"):
        return "/users(" + quote(odata_string(ref), safe="'") + ")"
    return "/users/" + quote(ref, safe="@")


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


# --- requests ------------------------------------------------------------------------------------


def create_user_request(rid: str, properties: Mapping[str, Any], password: str) -> Request:
    body = {k: v for k, v in properties.items() if v is not None}
    body["passwordProfile"] = {"forceChangePasswordNextSignIn": True, "password": password}
    return Request(rid, "POST", "/users", body)


def update_user_request(rid: str, object_id: str, changes: Mapping[str, Any]) -> Request:
    return Request(rid, "PATCH", user_path(object_id), dict(changes))


def set_manager_request(rid: str, object_id: str, manager_id: str | None) -> Request:
    """PUT the manager's reference, or DELETE it when ``manager_id`` is None (L§5)."""
    if manager_id is None:
        return Request(rid, "DELETE", f"/users/{object_id}/manager/$ref")
    return Request(rid, "PUT", f"/users/{object_id}/manager/$ref",
                   {"@odata.id": f"https://graph.microsoft.com/v1.0/users/{manager_id}"})


def manager_request(rid: str, object_id: str) -> Request:
    """A user's manager (404 when none: L§5.3)."""
    return Request(rid, "GET", f"/users/{object_id}/manager?$select=id,userPrincipalName")


def domains_request(rid: str) -> Request:
    """The tenant's domains (a rename's new UPN needs a verified one: L§2)."""
    return Request(rid, "GET", "/domains?$select=id,isVerified")


def reset_password_request(rid: str, object_id: str, password: str, *, force_change: bool) -> Request:
    """An admin password reset: a PATCH of passwordProfile (L§4.1)."""
    return Request(rid, "PATCH", user_path(object_id), {"passwordProfile": {
        "password": password, "forceChangePasswordNextSignIn": force_change}})


def assign_license_request(rid: str, object_id: str, add: Mapping[str, Sequence[str]],
                           remove: Sequence[str]) -> Request:
    """assignLicense with both arrays always present (L§6.3): ``add`` maps skuId -> disabled plan ids."""
    return Request(rid, "POST", f"/users/{object_id}/assignLicense", {
        "addLicenses": [{"skuId": sku, "disabledPlans": list(plans)} for sku, plans in add.items()],
        "removeLicenses": list(remove)})


def user_licenses_request(rid: str, object_id: str) -> Request:
    """A user's licenses: assignedLicenses comes only with $select, and licenseAssignmentStates says
    which are direct (L§6.7); licenseDetails is not available app-only (L§6.6)."""
    return Request(rid, "GET", f"{user_path(object_id)}?$select=id,assignedLicenses,licenseAssignmentStates")


def skus_request(rid: str) -> Request:
    """The tenant's subscribed SKUs (no $filter: L§6.1)."""
    return Request(rid, "GET", "/subscribedSkus")


def revoke_sessions_request(rid: str, object_id: str) -> Request:
    return Request(rid, "POST", f"/users/{object_id}/revokeSignInSessions")


def delete_user_request(rid: str, object_id: str) -> Request:
    return Request(rid, "DELETE", user_path(object_id))


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


PIM = "/roleManagement/directory"
PIM_SETS = {True: "roleEligibilityScheduleRequests", False: "roleAssignmentScheduleRequests"}
INSTANCES = {True: "roleEligibilityScheduleInstances", False: "roleAssignmentScheduleInstances"}
NO_PIM_LICENCE = "AadPremiumLicenseRequired"  # PIM on a tenant without Entra ID P2 / Governance (P§A3)
PIM_EXISTS = "RoleAssignmentExists"
PIM_MISSING = "RoleAssignmentDoesNotExist"


def schedule_request(rid: str, action: str, principal_id: str, role_id: str, *, eligible: bool,
                     end: str | None = None, duration: str | None = None,
                     justification: str | None = None) -> Request:
    """A PIM schedule request (P§A1-A2): ``adminAssign``, ``adminRemove``, ``adminExtend`` or
    ``adminUpdate`` (a new end for the assignment held, same principal, role and kind) of an eligible
    or active assignment, until ``end`` or for ``duration`` (neither: no expiry). The start is set
    when sent (:func:`starting_now`); ``adminRemove`` has no ``scheduleInfo`` (optional, P§A1.1;
    UNVERIFIED for active ones, P§A2.1)."""
    body: dict[str, Any] = {"action": action, "principalId": principal_id, "roleDefinitionId": role_id,
                            "directoryScopeId": "/"}
    if action != "adminRemove":
        if end:
            expiration = {"type": "afterDateTime", "endDateTime": end}
        elif duration:
            expiration = {"type": "afterDuration", "duration": duration}
        else:
            expiration = {"type": "noExpiration"}
        body["scheduleInfo"] = {"expiration": expiration}
        if justification:
            body["justification"] = justification
    return Request(rid, "POST", f"{PIM}/{PIM_SETS[eligible]}", body)


def starting_now(request: Request, now: datetime) -> Request:
    """``request`` with ``scheduleInfo.startDateTime`` = ``now`` if it is a PIM schedule request whose
    ``scheduleInfo`` has no start (every docs example sends one, P§A1.2, A2.1). Stamped by the gateway
    at each send, by the tenant's clock (never ahead of it: a future start leaves a request
    ``Granted``, P§A1.4; a past one is taken as now)."""
    body = request.body
    if request.method != "POST" or request.url.split("?")[0].rsplit("/", 1)[-1] not in PIM_SETS.values():
        return request
    info = body.get("scheduleInfo") if isinstance(body, Mapping) else None
    if not isinstance(info, Mapping) or info.get("startDateTime"):
        return request
    start = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return replace(request, body={**body, "scheduleInfo": {"startDateTime": start, **info}})


def policy_rule_request(rid: str, policy_id: str, rule_id: str, odata_type: str,
                        properties: Mapping[str, Any]) -> Request:
    """PATCH one rule of a role's PIM policy (P§A4.3): 204. The body names the rule's derived
    ``@odata.type``; only the properties sent change ("supply only the values ... to be updated")."""
    body = {"@odata.type": odata_type, "id": rule_id, **properties}
    return Request(rid, "PATCH", f"/policies/roleManagementPolicies/{policy_id}/rules/{rule_id}", body)


def instances_request(rid: str, principal_id: str, *, eligible: bool) -> Request:
    """One principal's PIM schedule instances, eligible or active (400 without P2, P§A3)."""
    return Request(rid, "GET", f"{PIM}/{INSTANCES[eligible]}?$filter="
                               + quote(f"principalId eq {odata_string(principal_id)}"))


def get_user_request(rid: str, ref: str) -> Request:
    """An active user by object id or UPN (404 when there is none)."""
    return Request(rid, "GET", f"{user_path(ref)}?$select={','.join(USER_SELECT)}")


def users_by_upn_request(rid: str, upns: Sequence[str], *, select: Sequence[str] = USER_SELECT) -> Request:
    """The active users among at most 15 UPNs."""
    flt = "userPrincipalName in (" + ",".join(odata_string(u) for u in upns) + ")"
    return Request(rid, "GET", f"/users?$select={','.join(select)}&$filter={quote(flt)}")


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


# --- the privileged-access baseline's reads (CISA SCuBA MS.AAD.7; ScubaGear reads the same, on beta) ---

PIM = "/roleManagement/directory"
PRIVILEGED_USER_SELECT = "id,displayName,onPremisesImmutableId"


def assignment_instances_request(rid: str) -> Request:
    """Active role assignments as PIM sees them: a direct one has startDateTime and endDateTime null."""
    return Request(rid, "GET", f"{PIM}/roleAssignmentScheduleInstances")


def eligibility_instances_request(rid: str) -> Request:
    return Request(rid, "GET", f"{PIM}/roleEligibilityScheduleInstances")


def role_policies_request(rid: str, role_id: str | None = None) -> Request:
    """The PIM policy of every directory role (or of ``role_id``'s), with its rules (P§A4.1: the scope
    filter is required)."""
    clause = "scopeId eq '/' and scopeType eq 'DirectoryRole'" + (
        f" and roleDefinitionId eq '{role_id.lower()}'" if role_id else "")
    return Request(rid, "GET", f"/policies/roleManagementPolicyAssignments?$filter={quote(clause, safe='')}"
                               "&$expand=policy($expand=rules)")


def subscribed_skus_request(rid: str) -> Request:
    """The tenant's subscriptions and their service plans (Entra ID P2 is detected from them)."""
    return Request(rid, "GET", "/subscribedSkus?$select=skuPartNumber,capabilityStatus,servicePlans")


def users_by_id_request(rid: str, ids: Sequence[str], *, select: Sequence[str] = USER_SELECT) -> Request:
    """The active users among at most 15 object ids (a group's or an application's id matches none)."""
    flt = "id in (" + ",".join(odata_string(i) for i in ids) + ")"
    return Request(rid, "GET", f"/users?$select={','.join(select)}&$filter={quote(flt)}")


def user_count_request(rid: str) -> Request:
    """How many active users: ``/users/$count`` answers text/plain, and only as an advanced query
    (without ``ConsistencyLevel: eventual``, 400 "$count is not currently supported.": graph-quirks §9)."""
    return Request(rid, "GET", "/users/$count", headers=ADVANCED)


def privileged_users_request(rid: str, ids: Sequence[str]) -> Request:
    """Name and on-premises immutable id of at most 15 users."""
    flt = "id in (" + ",".join(odata_string(i) for i in ids) + ")"
    return Request(rid, "GET", f"/users?$select={PRIVILEGED_USER_SELECT}&$filter={quote(flt)}")


def listing(path: str, select: str, *, top: int = PAGE_SIZE, filter: str | None = None,
            advanced: bool = False) -> str:
    """A collection URL; advanced queries (endswith, ne, ...) also need $count=true."""
    url = f"{path}?$select={select}&$top={top}"
    if filter:
        url += "&$filter=" + quote(filter, safe="")
    return url + "&$count=true" if advanced else url


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
