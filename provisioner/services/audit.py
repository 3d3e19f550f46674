"""The read-only audit as a use case: the tenant read once, judged, and the drift from a manifest;
and the CISA SCuBA privileged-access baseline (MS.AAD.7) from what Graph's PIM endpoints say.

Round trips, without a manifest: the role definitions, role assignments, PIM instances and deleted
users (each listing's first page), the number of users (``/users/$count``), the baseline's four
reads (PIM instances, role policies with their rules, subscribed SKUs) and the protected accounts
(by UPN) go out together, then the listings' further pages, side by side; then one round reads
every principal holding or eligible for a role (by id, 15 to a request, 20 requests to a ``$batch``)
with its ``onPremisesImmutableId``, which the baseline needs. The users are not listed: the report
looks only at those, and a tenant of 10,000 users is 11 pages read one after another. With a
manifest the drift is a full sync plan, so every user is listed; the privileged users' immutable ids
are then one more round.

A baseline read the tenant refuses (404, 400, AadPremiumLicenseRequired, 403) never fails the
audit: the policies needing it are reported as not checkable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from provisioner import audit as auditing
from provisioner import plan as planning
from provisioner.audit import baseline as scuba
from provisioner.config import Scuba
from provisioner.directory import Directory
from provisioner.errors import ProvisionerError
from provisioner.graph import Request, Response, chunks
from provisioner.model import USER_SELECT, Manifest, TenantState, User
from provisioner.queries import (
    MAX_IN_VALUES,
    assignment_instances_request,
    eligibility_instances_request,
    privileged_users_request,
    role_policies_request,
    subscribed_skus_request,
    users_by_id_request,
    users_by_upn_request,
)
from provisioner.roles.catalog import GLOBAL_ADMIN_ID
from provisioner.roles.rules import template_of
from provisioner.services.reads import full_state, role_policies
from provisioner.services.target import Target

BASELINE_READS = {
    "assignments": assignment_instances_request("assignments"),
    "eligibility": eligibility_instances_request("eligibility"),
    "rules": role_policies_request("rules"),
    "service_plans": subscribed_skus_request("service_plans"),
}
WHAT = {
    "assignments": "roleAssignmentScheduleInstances",
    "eligibility": "roleEligibilityScheduleInstances",
    "rules": "roleManagementPolicyAssignments",
    "service_plans": "subscribedSkus",
    "cloud_only": "the privileged users' onPremisesImmutableId",
}
BY_TEMPLATE = {t: name for name, t in scuba.HIGHLY_PRIVILEGED.items()}
POLICIES_REQUEST = role_policies_request("policies")  # every role's PIM policy with its rules (P§A4.1)
# The users the audit reads by id or UPN, with what MS.AAD.7.3 (cloud-only) looks at: no second read.
HOLDER_SELECT = (*USER_SELECT, "onPremisesImmutableId")


@dataclass(frozen=True)
class TenantRead:
    """What the audit read: the state, the answers of the reads sent beside it (by request id),
    the number of active users, and, when the users were read by id, every one's
    onPremisesImmutableId (lower-cased object id -> value; None: not read)."""

    state: TenantState
    answers: dict[str, Response]
    users: int
    immutable: dict[str, str | None] | None = None


async def read_tenant(d: Directory, *, protected: Iterable[str] = (), also: Sequence[Request] = (),
                      every_user: bool = False) -> TenantRead:
    """The tenant as the audit needs it, with the independent reads ``also`` in the first round.

    ``every_user`` (a manifest's drift): every user listed. Otherwise ``state.users`` holds the
    principals of every role assignment and eligibility and the ``protected`` accounts (UPNs), and
    the number of users is Graph's ``/users/$count``, which is eventually consistent."""
    if every_user:
        state, answers = await asyncio.gather(full_state(d), d.read(also))
        return TenantRead(state, answers, len(state.users))
    upns = sorted({p.strip().lower() for p in protected if p.strip()})
    named = [users_by_upn_request(f"protected:{n}", part, select=HOLDER_SELECT)
             for n, part in enumerate(chunks(upns, MAX_IN_VALUES))]
    state, count, answers = await asyncio.gather(full_state(d, every_user=False), d.user_count(),
                                                 _every_page(d, [*also, *named]))
    found = [item for rid in [r.id for r in named] for item in answers.pop(rid).checked().values()]
    known = {item["id"].lower() for item in found}
    principals = sorted({a.principal_id.lower() for a in (*state.assignments, *state.eligible)} - known)
    # A group's or an application's id matches no user: such a holder stays "not a user", as listed.
    holders = [users_by_id_request(f"holders:{n}", part, select=HOLDER_SELECT)
               for n, part in enumerate(chunks(principals, MAX_IN_VALUES))]
    found += [item for resp in (await d.read(holders)).values() for item in resp.checked().values()]
    immutable = {item["id"].lower(): item.get("onPremisesImmutableId") for item in found}
    _take_users(state, found)
    return TenantRead(state, answers, count, immutable)


async def _every_page(d: Directory, requests: Sequence[Request]) -> dict[str, Response]:
    """The answers to ``requests``, a listing's further pages read into its first answer, each
    listing beside the others (and beside the tenant's listings): read later, they would be round
    trips after the holders'. A page Graph refuses leaves the first answer as it was, for its
    reader to report."""
    answers = await d.read(requests)

    async def whole(resp: Response) -> Response:
        if not (resp.ok and isinstance(resp.body, dict) and resp.body.get("@odata.nextLink")):
            return resp
        try:
            items = await d.collect(resp)
        except ProvisionerError:
            return resp
        body = {k: v for k, v in resp.body.items() if k != "@odata.nextLink"}
        return replace(resp, body={**body, "value": items})

    done = await asyncio.gather(*(whole(resp) for resp in answers.values()))
    return {resp.id: resp for resp in done}


def _take_users(state: TenantState, items: Iterable[Mapping[str, Any]]) -> None:
    for item in sorted(items, key=lambda i: str(i["id"]).lower()):
        user = User.from_graph(item)
        state.users[user.user_principal_name.lower()] = user


async def with_approvers(d: Directory, state: TenantState, approver: User) -> None:
    """Add to ``state.users`` the approver and the users the Global Administrator activation rule
    names as approvers already: a fix plan labels them by UPN, as ``apply`` does when it checks the
    plan (one more round, only when the rule names a user not read yet)."""
    state.users[approver.user_principal_name.lower()] = approver
    policy = state.policies.get(GLOBAL_ADMIN_ID)
    rule = (policy.rules if policy else {}).get("Approval_EndUser_Assignment") or {}
    named = {str(a["userId"]).lower() for stage in (rule.get("setting") or {}).get("approvalStages") or ()
             for a in stage.get("primaryApprovers") or () if a.get("userId")}
    missing = sorted(named - {u.id.lower() for u in state.users.values()})
    requests = [users_by_id_request(f"approvers:{n}", part) for n, part in enumerate(chunks(missing, MAX_IN_VALUES))]
    _take_users(state, [item for resp in (await d.read(requests)).values() for item in resp.checked().values()])


async def audit(target: Target, *, expiring_within: timedelta, all_roles: bool = False,
                manifest: Manifest | None = None, manifest_name: str = "",
                with_baseline: bool = True) -> auditing.AuditReport:
    """Who holds admin roles, what is wrong, what expires soon, how the tenant stands against the
    SCuBA baseline (unless ``with_baseline`` is False); and with ``manifest`` what a sync would
    change (never applied)."""
    d = target.directory
    profile = target.profile
    read = await read_tenant(d, protected=profile.safety.protected_accounts, every_user=manifest is not None,
                             also=list(BASELINE_READS.values()) if with_baseline else [])
    state = read.state
    drift = None
    if manifest is not None:
        planned = planning.diff(manifest, state)
        drift = auditing.Drift(manifest_name, planned.plan.changes, planned.notes)
    report = auditing.audit(state, protected=profile.safety.protected_accounts, expiring_within=expiring_within,
                            all_roles=all_roles, tenant=profile.name, drift=drift, user_count=read.users)
    if not with_baseline:
        return report
    return replace(report, baseline=await baseline(d, state, read.answers, profile.scuba, immutable=read.immutable))


async def baseline(d: Directory, state: TenantState, answers: Mapping[str, Response], config: Scuba, *,
                   immutable: Mapping[str, str | None] | None = None) -> scuba.Baseline:
    """The baseline's data shaped as ScubaGear exports it, then evaluated; ``state.policies`` gets the
    roles' PIM policies read (what a fix plan changes). ``immutable``: the users' onPremisesImmutableId
    when already read (see :class:`TenantRead`), else the privileged users' are read here."""
    read: dict[str, list[dict[str, Any]]] = {}
    unreadable: dict[str, str] = {}
    license_refused = False
    for key, resp in answers.items():
        try:
            read[key] = await d.collect(resp)
        except ProvisionerError as e:
            code = getattr(e, "code", "")
            license_refused |= code == "AadPremiumLicenseRequired"
            status = getattr(e, "status", 0)
            unreadable[key] = f"Microsoft Graph did not give {WHAT[key]} ({status} {code})".replace(" )", ")")
            if key == "service_plans":
                unreadable[key] += ", so Entra ID P2 is unknown"
    state.policies = role_policies(read.get("rules", []))
    plans = [pascal_plan(p) for sku in read.get("service_plans", ()) for p in sku.get("servicePlans") or ()
             if p.get("provisioningStatus") == "Success"]
    p2 = any(p["ServicePlanName"] == scuba.P2_PLAN for p in plans)
    users, immutable_read = await privileged_users(d, state, read.get("eligibility", []) if p2 else [], immutable)
    if not immutable_read:
        unreadable["cloud_only"] = f"Microsoft Graph did not give {WHAT['cloud_only']}"
    data: dict[str, Any] = {
        "privileged_users": users,
        "privileged_roles": privileged_roles(read.get("assignments", []), read.get("rules", [])),
        "scuba_config": scuba.exclusions_config(config.excluded_users, config.excluded_groups),
    }
    if "service_plans" in read:
        data["service_plans"] = plans
    result = scuba.evaluate(data, unreadable={k: v for k, v in unreadable.items() if k != "eligibility"})
    notes = []
    if p2 and "eligibility" in unreadable:
        notes.append(f"{unreadable['eligibility']}: MS.AAD.7.1 and 7.2 count active holders only.")
    if p2 and license_refused:
        notes.append("The tenant lists the AAD_PREMIUM_P2 service plan but Graph refused PIM reads with "
                     "AadPremiumLicenseRequired: check the subscription's state.")
    skipped = {a.principal_id for a in state.assignments if a.principal_id.lower() not in _user_ids(state)
               and _template(state, a.role_definition_id) in BY_TEMPLATE}
    if skipped:
        notes.append(f"{len(skipped)} holder(s) of highly privileged roles are not users (groups or applications); "
                     "their members are not counted.")
    return replace(result, notes=tuple(notes))


def pascal_plan(plan: Mapping[str, Any]) -> dict[str, Any]:
    return {"ServicePlanName": plan.get("servicePlanName"), "ServicePlanId": plan.get("servicePlanId")}


def _user_ids(state: TenantState) -> set[str]:
    return {u.id.lower() for u in state.users.values()}


def _template(state: TenantState, definition_id: str) -> str:
    return template_of(state).get(definition_id.lower(), definition_id.lower())


async def privileged_users(d: Directory, state: TenantState, eligible: list[dict[str, Any]],
                           known: Mapping[str, str | None] | None = None) -> tuple[dict[str, dict[str, Any]], bool]:
    """ScubaGear's privileged_users: every user holding one of the eight roles tenant-wide, active or
    (with P2) eligible, keyed by object id, with the names of those roles; and whether their
    onPremisesImmutableId could be read (read here unless ``known`` gives every user's)."""
    by_id = {u.id.lower(): u for u in state.users.values()}
    held: dict[str, set[str]] = {}
    grants = [(a.principal_id, a.role_definition_id, a.directory_scope_id) for a in state.assignments]
    grants += [(e.get("principalId", ""), e.get("roleDefinitionId", ""), e.get("directoryScopeId", "/"))
               for e in eligible]
    for principal, definition, scope in grants:
        name = BY_TEMPLATE.get(_template(state, definition))
        if name and scope == "/" and principal.lower() in by_id:
            held.setdefault(principal.lower(), set()).add(name)
    immutable: dict[str, Any] = dict(known or {})
    ok = True
    if held and known is None:
        requests = [privileged_users_request(f"pu{n}", part) for n, part in enumerate(chunks(sorted(held),
                                                                                            MAX_IN_VALUES))]
        for resp in (await d.read(requests)).values():
            if not resp.ok:
                ok = False
                continue
            immutable.update({u["id"].lower(): u.get("onPremisesImmutableId") for u in resp.values()})
    users = {}
    for i, roles in sorted(held.items()):
        entry: dict[str, Any] = {"DisplayName": by_id[i].display_name, "roles": sorted(roles)}
        # A user the read did not return keeps no key: ScubaGear then counts it as not cloud-only.
        if i in immutable or not ok:
            entry["OnPremisesImmutableId"] = immutable.get(i)
        users[i] = entry
    return users, ok


def privileged_roles(instances: list[dict[str, Any]], policies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ScubaGear's privileged_roles: the eight roles, each with its active instances and its PIM rules."""
    rules_of: dict[str, list[dict[str, Any]]] = {}
    for assignment in policies:
        rules = (assignment.get("policy") or {}).get("rules") or []
        rules_of.setdefault((assignment.get("roleDefinitionId") or "").lower(), []).extend(rules)
    roles = []
    for name, template in scuba.HIGHLY_PRIVILEGED.items():
        roles.append({
            "DisplayName": name,
            "RoleTemplateId": template,
            "Assignments": [scuba.pascal(i) for i in instances
                            if (i.get("roleDefinitionId") or "").lower() == template],
            "Rules": [{**scuba.pascal(r), "RuleSource": name, "RuleSourceType": "Directory Role"}
                      for r in rules_of.get(template, [])],
        })
    return roles
