"""The read-only audit as a use case: the whole tenant, read once, judged, and the drift from a manifest;
and the CISA SCuBA privileged-access baseline (MS.AAD.7) from what Graph's PIM endpoints say.

Round trips: the tenant's four listings and the baseline's four reads (PIM instances, role policies
with their rules, subscribed SKUs) go out together; then one batch reads the privileged users'
on-premises immutable ids. A baseline read the tenant refuses (404, 400, AadPremiumLicenseRequired,
403) never fails the audit: the policies needing it are reported as not checkable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from provisioner import audit as auditing
from provisioner import plan as planning
from provisioner.audit import baseline as scuba
from provisioner.config import Scuba
from provisioner.directory import Directory
from provisioner.errors import ProvisionerError
from provisioner.graph import (
    MAX_IN_VALUES,
    Response,
    assignment_instances_request,
    chunks,
    eligibility_instances_request,
    privileged_users_request,
    role_policies_request,
    subscribed_skus_request,
)
from provisioner.model import Manifest, RolePolicy, TenantState
from provisioner.roles.rules import template_of
from provisioner.services.reads import full_state
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


async def audit(target: Target, *, expiring_within: timedelta, all_roles: bool = False,
                manifest: Manifest | None = None, manifest_name: str = "",
                with_baseline: bool = True) -> auditing.AuditReport:
    """Who holds admin roles, what is wrong, what expires soon, how the tenant stands against the
    SCuBA baseline (unless ``with_baseline`` is False); and with ``manifest`` what a sync would
    change (never applied)."""
    d = target.directory
    reads = list(BASELINE_READS.values()) if with_baseline else []
    state, answers = await asyncio.gather(full_state(d), d.read(reads) if reads else asyncio.sleep(0, {}))
    drift = None
    if manifest is not None:
        planned = planning.diff(manifest, state)
        drift = auditing.Drift(manifest_name, planned.plan.changes, planned.notes)
    profile = target.profile
    report = auditing.audit(state, protected=profile.safety.protected_accounts, expiring_within=expiring_within,
                            all_roles=all_roles, tenant=profile.name, drift=drift)
    if not with_baseline:
        return report
    return replace(report, baseline=await baseline(d, state, answers, profile.scuba))


async def baseline(d: Directory, state: TenantState, answers: Mapping[str, Response], config: Scuba) -> scuba.Baseline:
    """The baseline's data shaped as ScubaGear exports it, then evaluated; ``state.policies`` gets the
    roles' PIM policies read (what a fix plan changes)."""
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
    users, immutable_read = await privileged_users(d, state, read.get("eligibility", []) if p2 else [])
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


def role_policies(assignments: list[dict[str, Any]]) -> dict[str, RolePolicy]:
    """Each role's PIM policy, by lower-cased role (template) id, from roleManagementPolicyAssignments
    listed with $expand=policy($expand=rules)."""
    found = {}
    for a in assignments:
        policy = a.get("policy") or {}
        found[(a.get("roleDefinitionId") or "").lower()] = RolePolicy(
            str(a.get("policyId") or policy.get("id") or ""), {r.get("id"): r for r in policy.get("rules") or ()})
    return found


def pascal_plan(plan: Mapping[str, Any]) -> dict[str, Any]:
    return {"ServicePlanName": plan.get("servicePlanName"), "ServicePlanId": plan.get("servicePlanId")}


def _user_ids(state: TenantState) -> set[str]:
    return {u.id.lower() for u in state.users.values()}


def _template(state: TenantState, definition_id: str) -> str:
    return template_of(state).get(definition_id.lower(), definition_id.lower())


async def privileged_users(d: Directory, state: TenantState, eligible: list[dict[str, Any]],
                           ) -> tuple[dict[str, dict[str, Any]], bool]:
    """ScubaGear's privileged_users: every user holding one of the eight roles tenant-wide, active or
    (with P2) eligible, keyed by object id, with the names of those roles; and whether their
    onPremisesImmutableId could be read."""
    by_id = {u.id.lower(): u for u in state.users.values()}
    held: dict[str, set[str]] = {}
    grants = [(a.principal_id, a.role_definition_id, a.directory_scope_id) for a in state.assignments]
    grants += [(e.get("principalId", ""), e.get("roleDefinitionId", ""), e.get("directoryScopeId", "/"))
               for e in eligible]
    for principal, definition, scope in grants:
        name = BY_TEMPLATE.get(_template(state, definition))
        if name and scope == "/" and principal.lower() in by_id:
            held.setdefault(principal.lower(), set()).add(name)
    immutable: dict[str, Any] = {}
    ok = True
    if held:
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
