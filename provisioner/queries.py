"""What each Graph request sends: the path, $select, $filter, $top and headers of every read and
write the product makes, as :class:`~provisioner.graph.Request` values. The use cases decide what to
read; its shape is decided here, in one place.

No I/O here: the gateway (``directory``) sends these, the executor and the use cases build them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from provisioner.graph import Request
from provisioner.model import USER_SELECT

PAGE_SIZE = 999  # Graph's largest page for users and deleted items
MAX_IN_VALUES = 15  # Graph's limit of values in one `in (...)` filter
ADVANCED = {"ConsistencyLevel": "eventual"}
# assignedLicenses: a restore takes them back, seats included (L§6.9), which users restore warns about.
DELETED_SELECT = "id,userPrincipalName,displayName,deletedDateTime,onPremisesSyncEnabled,assignedLicenses"
ASSIGNMENTS = "/roleManagement/directory/roleAssignments"
DELETED_USERS = "/directory/deletedItems/microsoft.graph.user"
# licenseAssignmentStates says which licenses are direct (L§6.7).
LICENSE_SELECT = "id,assignedLicenses,licenseAssignmentStates"
DELETED_LICENSE_SELECT = "id,assignedLicenses"  # a deleted user keeps its assignedLicenses (L§6.9)
REPORT_SELECT = "id,userPrincipalName,onPremisesSyncEnabled"


def user_path(ref: str) -> str:
    """The path of one user by object id or UPN. A UPN starting with `$` would read as an OData
    system segment (Graph answers 400), so it takes the key form `/users('...')`, its quotes
    doubled and every character but letters and digits percent-encoded (graph-quirks §4)."""
    if ref.startswith("$"):
        return "/users(" + quote(odata_string(ref), safe="'") + ")"
    return "/users/" + quote(ref, safe="@")


def odata_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


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
    return Request(rid, "GET", f"{user_path(object_id)}?$select={LICENSE_SELECT}")


def user_licenses_listing_request(rid: str) -> Request:
    """Every active user's licenses, paged (cheaper than a read per user for many users)."""
    return Request(rid, "GET", listing("/users", LICENSE_SELECT))


def deleted_user_licenses_request(rid: str, object_id: str) -> Request:
    """The licenses a deleted user holds, which a restore takes back (L§6.9)."""
    return Request(rid, "GET", f"/directory/deletedItems/{object_id}?$select={DELETED_LICENSE_SELECT}")


def deleted_licenses_listing_request(rid: str) -> Request:
    """Every deleted user's licenses, paged."""
    return Request(rid, "GET", listing(DELETED_USERS, DELETED_LICENSE_SELECT))


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


def pim_instances_request(rid: str, eligible: bool, *, role_id: str | None = None,
                          principal_id: str | None = None) -> Request:
    """PIM schedule instances, eligible or active (400 without P2, P§A3): of one principal and/or of
    one role definition, or every one of the tenant."""
    clauses = []
    if principal_id:
        clauses.append(f"principalId eq {odata_string(principal_id)}")
    if role_id:
        clauses.append(f"roleDefinitionId eq '{role_id}'")
    url = f"{PIM}/{INSTANCES[eligible]}"
    return Request(rid, "GET", url + ("?$filter=" + quote(" and ".join(clauses)) if clauses else ""))


def instances_request(rid: str, principal_id: str, *, eligible: bool) -> Request:
    """One principal's PIM schedule instances, eligible or active."""
    return pim_instances_request(rid, eligible, principal_id=principal_id)


def get_user_request(rid: str, ref: str, *, select: Sequence[str] = USER_SELECT) -> Request:
    """An active user by object id or UPN (404 when there is none)."""
    return Request(rid, "GET", f"{user_path(ref)}?$select={','.join(select)}")


def direct_reports_request(rid: str, object_id: str) -> Request:
    """A manager's direct reports (the first page)."""
    return Request(rid, "GET", f"/users/{object_id}/directReports?$select={REPORT_SELECT}")


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
    return Request(rid, "GET", listing(DELETED_USERS, DELETED_SELECT))


def role_definitions_request(rid: str) -> Request:
    return Request(rid, "GET", "/roleManagement/directory/roleDefinitions")


# --- the privileged-access baseline's reads (CISA SCuBA MS.AAD.7; ScubaGear reads the same, on beta) ---

PRIVILEGED_USER_SELECT = "id,displayName,onPremisesImmutableId"


def assignment_instances_request(rid: str) -> Request:
    """Active role assignments as PIM sees them: a direct one has startDateTime and endDateTime null."""
    return pim_instances_request(rid, False)


def eligibility_instances_request(rid: str) -> Request:
    return pim_instances_request(rid, True)


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

