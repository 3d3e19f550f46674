"""The CISA SCuBA Entra ID baseline, section 7 (highly privileged access, MS.AAD.7.1v1 to 7.9v1),
evaluated as ScubaGear's Rego evaluates it, and our own findings beside it. Pure: no I/O.

The input is plain data shaped like ScubaGear's exported provider data (PascalCase keys, as its
Rego reads them): ``privileged_users`` (object id -> {DisplayName, OnPremisesImmutableId, roles}),
``privileged_roles`` ([{DisplayName, RoleTemplateId, Assignments, Rules}]), ``service_plans``
([{ServicePlanName, ServicePlanId}], provisioned ones only) and ``scuba_config`` (the 7.4
exclusions). ScubaGear's verdicts and report sentences are reproduced exactly, quirks included
(a key that is absent is not the same as a null one); where we think it is wrong, an
:class:`OwnFinding` says so beside the policy instead of changing its verdict.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

GLOBAL_ADMIN = "Global Administrator"
PRIVILEGED_ROLE_ADMIN = "Privileged Role Administrator"
# ScubaGear's highly privileged roles (ScubaConfigDefaults.json), matched by display name; the
# template ids are how Graph names them.
HIGHLY_PRIVILEGED = {
    "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
    "Privileged Role Administrator": "e8611ab8-c189-46e8-94e1-60213ab1f814",
    "User Administrator": "fe930be7-5e62-47db-91af-98c3a49a38b1",
    "SharePoint Administrator": "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
    "Exchange Administrator": "29232cdf-9323-42fd-ade2-1d097af3e4de",
    "Hybrid Identity Administrator": "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2",
    "Application Administrator": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
    "Cloud Application Administrator": "158c047a-c907-4556-b7ef-446551a6b5f7",
}
P2_PLAN = "AAD_PREMIUM_P2"
GOVERNANCE_PLAN = "Entra_Identity_Governance"
P2_WARNING = ("**NOTE: Your tenant does not have a Microsoft Entra ID P2 license, which is required for "
              "this feature**")
TRUNCATED = ("...<br/>Note: The list of matching items has been truncated. Full details are available in the "
             "JSON results.")

SHALL = "Shall"
SHOULD = "Should"
# policy id -> (criticality, the requirement in a few words, the data it needs)
POLICIES: dict[str, tuple[str, str, str]] = {
    "MS.AAD.7.1v1": (SHALL, "2 to 8 users hold Global Administrator", "users"),
    "MS.AAD.7.2v1": (SHALL, "Finer-grained roles rather than Global Administrator", "users"),
    "MS.AAD.7.3v1": (SHALL, "Privileged users are cloud-only", "cloud_only"),
    "MS.AAD.7.4v1": (SHALL, "No permanent active assignment of a highly privileged role", "assignments"),
    "MS.AAD.7.5v1": (SHALL, "Highly privileged roles assigned only through PIM", "assignments"),
    "MS.AAD.7.6v1": (SHALL, "Global Administrator activation requires approval", "rules"),
    "MS.AAD.7.7v1": (SHALL, "Alert on eligible and active assignments", "rules"),
    "MS.AAD.7.8v1": (SHALL, "Alert on Global Administrator activation", "rules"),
    "MS.AAD.7.9v1": (SHOULD, "Alert on activation of the other highly privileged roles", "rules"),
}


@dataclass(frozen=True)
class PolicyResult:
    policy_id: str
    criticality: str  # "Shall" or "Should"
    requirement_met: bool | None  # None: could not be checked
    details: str  # ScubaGear's ReportDetails, word for word (ours when not checkable)
    offenders: tuple[str, ...] = ()  # users, roles or "<rule source>(<source type>)", sorted

    @property
    def title(self) -> str:
        return POLICIES[self.policy_id][1]

    @property
    def failed_shall(self) -> bool:
        return self.criticality == SHALL and self.requirement_met is False

    def to_json(self) -> dict[str, Any]:
        return {"policyId": self.policy_id, "criticality": self.criticality, "requirement": self.title,
                "requirementMet": self.requirement_met, "details": self.details, "offenders": list(self.offenders)}


@dataclass(frozen=True)
class OwnFinding:
    """Where we disagree with ScubaGear's logic, or CIS differs from SCuBA: said beside a policy."""

    reference: str  # "CIS 1.1.3", "SCuBA", ...
    beside: str  # the policy id it sits next to
    severity: str  # "warning" or "info" (the audit's severities)
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"reference": self.reference, "policyId": self.beside, "severity": self.severity, "text": self.text}


@dataclass(frozen=True)
class Baseline:
    results: tuple[PolicyResult, ...]
    findings: tuple[OwnFinding, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def failed_shall(self) -> list[PolicyResult]:
        return [r for r in self.results if r.failed_shall]

    def to_json(self) -> dict[str, Any]:
        return {"baseline": "CISA SCuBA Entra ID (MS.AAD.7)", "results": [r.to_json() for r in self.results],
                "findings": [f.to_json() for f in self.findings], "notes": list(self.notes)}


# --- ScubaGear's report-string helpers (Utils/ReportDetails.rego) ----------------------------------


def full_details(items: Collection[str], what: str) -> str:
    """ReportFullDetailsArray: a count, and up to 20 items in sorted order (Rego sets are sorted)."""
    names = sorted(items)
    if not names:
        return f"0 {what}"
    shown = ", ".join(names[:20])
    if len(names) > 20:
        shown += " " + TRUNCATED
    return f"{len(names)} {what}:<br/>{shown}"


def license_details(has_p2: bool, items: Collection[str], what: str) -> str:
    return full_details(items, what) if has_p2 else P2_WARNING


def has_p2(data: Mapping[str, Any]) -> bool:
    return any(p.get("ServicePlanName") == P2_PLAN for p in data.get("service_plans") or ())


def _null(item: Mapping[str, Any], key: str) -> bool:
    """Rego's ``x.key == null``: false when the key is absent (undefined), not only when set."""
    return key in item and item[key] is None


def _score(g: int, n: int) -> str:
    """sprintf("%v", g / n) cut to four characters, as the Rego does (not rounded)."""
    q = g / n
    return (str(int(q)) if q == int(q) else repr(q))[:4]


# --- the policies -----------------------------------------------------------------------------------


def _users(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list((data.get("privileged_users") or {}).values())


def _global_admins(data: Mapping[str, Any]) -> set[str]:
    return {u["DisplayName"] for u in _users(data) if GLOBAL_ADMIN in (u.get("roles") or ())}


def policy_7_1(data: Mapping[str, Any]) -> PolicyResult:
    gas = _global_admins(data)
    return PolicyResult("MS.AAD.7.1v1", SHALL, 2 <= len(gas) <= 8, full_details(gas, "global admin(s) found"),
                        tuple(sorted(gas)))


def policy_7_2(data: Mapping[str, Any]) -> PolicyResult:
    gas = _global_admins(data)
    others = {u["DisplayName"] for u in _users(data) if GLOBAL_ADMIN not in (u.get("roles") or ())}
    first = 2 <= len(gas) <= 8
    met = first and len(gas) <= len(others)
    if not first:
        score = "Policy MS.AAD.7.1 failed so score not computed"
    elif not others:
        score = "All privileged users are Global Admin"
    else:
        score = (f"Least Privilege Score = {_score(len(gas), len(others))} (should be 1 or less)\n"
                 f"Calculated by {len(gas)} global admins / {len(others)} privileged users without global admin role")
    word = "Requirement met" if met else "Requirement not met"
    return PolicyResult("MS.AAD.7.2v1", SHALL, met, f"{word}: {score}", tuple(sorted(gas)) if not met else ())


def policy_7_3(data: Mapping[str, Any]) -> PolicyResult:
    # `not is_null(OnPremisesImmutableId)` is true when the key is absent: such a user counts as synced.
    federated = {u["DisplayName"] for u in _users(data) if u.get("OnPremisesImmutableId") is not None
                 or "OnPremisesImmutableId" not in u}
    return PolicyResult("MS.AAD.7.3v1", SHALL, not federated,
                        full_details(federated, "admin(s) that are not cloud-only found"), tuple(sorted(federated)))


def _roles(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(data.get("privileged_roles") or ())


def _exclusions(data: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    policy = (((data.get("scuba_config") or {}).get("Aad") or {}).get("MS.AAD.7.4v1") or {})
    excl = policy.get("RoleExclusions") or {}
    return set(excl.get("Users") or ()), set(excl.get("Groups") or ())


def policy_7_4(data: Mapping[str, Any]) -> PolicyResult:
    users, groups = _exclusions(data)
    flagged = set()
    for role in _roles(data):
        permanent = {a.get("PrincipalId") for a in role.get("Assignments") or () if _null(a, "EndDateTime")}
        # Both lists are matched against PrincipalId alike: a user id listed under Groups works too.
        if permanent and (permanent - (users | groups) or (not users and not groups)):
            flagged.add(role["DisplayName"])
    p2 = has_p2(data)
    return PolicyResult("MS.AAD.7.4v1", SHALL, p2 and not flagged,
                        license_details(p2, flagged, "role(s) that contain users with permanent active assignment"),
                        tuple(sorted(flagged)))


def policy_7_5(data: Mapping[str, Any]) -> PolicyResult:
    flagged = {role["DisplayName"] for role in _roles(data)
               if any(_null(a, "StartDateTime") for a in role.get("Assignments") or ())}
    p2 = has_p2(data)
    return PolicyResult("MS.AAD.7.5v1", SHALL, p2 and not flagged,
                        license_details(p2, flagged, "role(s) assigned to users outside of PIM"),
                        tuple(sorted(flagged)))


def _source(rule: Mapping[str, Any]) -> str:
    return f"{rule.get('RuleSource')}({rule.get('RuleSourceType')})"


def _rules(data: Mapping[str, Any], *, global_admin: bool | None) -> Iterable[Mapping[str, Any]]:
    for role in _roles(data):
        if global_admin is None or (role.get("DisplayName") == GLOBAL_ADMIN) == global_admin:
            yield from role.get("Rules") or ()


def _rule_policy(data: Mapping[str, Any], policy_id: str, offenders: set[str], what: str) -> PolicyResult:
    p2 = has_p2(data)
    return PolicyResult(policy_id, POLICIES[policy_id][0], p2 and not offenders,
                        license_details(p2, offenders, what), tuple(sorted(offenders)))


def policy_7_6(data: Mapping[str, Any]) -> PolicyResult:
    offenders = {_source(r) for r in _rules(data, global_admin=True) if r.get("Id") == "Approval_EndUser_Assignment"
                 and (r.get("Setting") or {}).get("IsApprovalRequired") is False}
    return _rule_policy(data, "MS.AAD.7.6v1", offenders,
                        "role(s) or group(s) allowing activation without approval found")


def _no_recipients(rule: Mapping[str, Any]) -> bool:
    # count(undefined) is undefined in Rego: a rule without the key is not flagged.
    return "NotificationRecipients" in rule and not rule["NotificationRecipients"]


def policy_7_7(data: Mapping[str, Any]) -> PolicyResult:
    ids = {"Notification_Admin_Admin_Assignment", "Notification_Admin_Admin_Eligibility"}
    offenders = {_source(r) for r in _rules(data, global_admin=None) if r.get("Id") in ids and _no_recipients(r)}
    return _rule_policy(data, "MS.AAD.7.7v1", offenders,
                        "role(s) or group(s) without notification e-mail configured for role assignments found")


def _activation_offenders(data: Mapping[str, Any], *, global_admin: bool) -> set[str]:
    return {_source(r) for r in _rules(data, global_admin=global_admin)
            if r.get("Id") == "Notification_Admin_EndUser_Assignment" and r.get("NotificationType") == "Email"
            and _no_recipients(r)}


def policy_7_8(data: Mapping[str, Any]) -> PolicyResult:
    return _rule_policy(data, "MS.AAD.7.8v1", _activation_offenders(data, global_admin=True),
                        "role(s) or group(s) without notification e-mail configured for Global Administrator "
                        "activations found")


def policy_7_9(data: Mapping[str, Any]) -> PolicyResult:
    return _rule_policy(data, "MS.AAD.7.9v1", _activation_offenders(data, global_admin=False),
                        "role(s) or group(s) without notification e-mail configured for role activations found")


EVALUATORS = (policy_7_1, policy_7_2, policy_7_3, policy_7_4, policy_7_5, policy_7_6, policy_7_7, policy_7_8,
              policy_7_9)


def scuba(data: Mapping[str, Any]) -> tuple[PolicyResult, ...]:
    """The nine results exactly as ScubaGear's Rego gives them for ``data``."""
    return tuple(evaluate(data) for evaluate in EVALUATORS)


# --- the audit's view: what could not be read, and our own findings ---------------------------------


def evaluate(data: Mapping[str, Any], *, unreadable: Mapping[str, str] | None = None) -> Baseline:
    """ScubaGear's results, except where the data a policy needs could not be read (``unreadable``:
    "users", "cloud_only", "service_plans", "assignments" or "rules" -> why): that policy is not checkable
    (requirementMet null) rather than passing on an empty list as ScubaGear would."""
    unreadable = dict(unreadable or {})
    p2_known = "service_plans" not in unreadable
    results = []
    for result in scuba(data):
        needs = POLICIES[result.policy_id][2]
        why = unreadable.get(needs)
        pim = needs in ("assignments", "rules")
        if pim and not p2_known:
            why = unreadable["service_plans"]
        elif pim and not has_p2(data):
            why = None  # ScubaGear's own answer without P2: false and its licence note
        if why is not None:
            result = PolicyResult(result.policy_id, result.criticality, None, f"Not checked: {why}")
        results.append(result)
    return Baseline(tuple(results), tuple(own_findings(data, {r.policy_id: r for r in results})))


def own_findings(data: Mapping[str, Any], results: Mapping[str, PolicyResult]) -> list[OwnFinding]:
    found: list[OwnFinding] = []
    users = data.get("privileged_users") or {}
    ga_ids = sorted(i for i, u in users.items() if GLOBAL_ADMIN in (u.get("roles") or ()))
    names = _global_admins(data)
    if results["MS.AAD.7.1v1"].requirement_met is not None:
        if len(ga_ids) != len(names):
            found.append(OwnFinding(
                "SCuBA", "MS.AAD.7.1v1", "warning",
                f"{len(ga_ids)} accounts hold Global Administrator but ScubaGear counts {len(names)}: it counts "
                "display names, and accounts sharing a name count once"))
        if 5 <= len(ga_ids) <= 8:
            found.append(OwnFinding(
                "CIS 1.1.3", "MS.AAD.7.1v1", "warning",
                f"{len(ga_ids)} Global Administrators: CIS wants between 2 and 4 (SCuBA allows up to 8)"))
    has_rules = results["MS.AAD.7.6v1"].requirement_met is not None and has_p2(data)
    if has_rules:
        found += _approval_findings(data)
        for policy_id, ga in (("MS.AAD.7.8v1", True), ("MS.AAD.7.9v1", False)):
            quiet = sorted({_source(r) for r in _rules(data, global_admin=ga)
                            if r.get("Id") == "Notification_Admin_EndUser_Assignment"
                            and r.get("NotificationType") != "Email" and _no_recipients(r)})
            if quiet:
                found.append(OwnFinding(
                    "SCuBA", policy_id, "warning",
                    "Activation alert has no recipients but is not of type Email, which ScubaGear does not "
                    "check: " + ", ".join(quiet)))
    plans = {p.get("ServicePlanName") for p in data.get("service_plans") or ()}
    if "service_plans" in data and P2_PLAN not in plans and GOVERNANCE_PLAN in plans:
        found.append(OwnFinding(
            "SCuBA", "MS.AAD.7.4v1", "info",
            "The tenant has Microsoft Entra ID Governance, which allows PIM; ScubaGear looks only for the "
            "AAD_PREMIUM_P2 service plan and reports 7.4 to 7.9 as unlicensed"))
    return found


def _approvers(rule: Mapping[str, Any]) -> int:
    stages = (rule.get("Setting") or {}).get("ApprovalStages") or ()
    return sum(len(s.get("PrimaryApprovers") or ()) for s in stages)


def _approval_findings(data: Mapping[str, Any]) -> list[OwnFinding]:
    found: list[OwnFinding] = []
    for role, reference in ((GLOBAL_ADMIN, "CIS 5.3.4"), (PRIVILEGED_ROLE_ADMIN, "CIS 5.3.5")):
        rules = [r for x in _roles(data) if x.get("DisplayName") == role for r in x.get("Rules") or ()
                 if r.get("Id") == "Approval_EndUser_Assignment"]
        if not rules:
            continue
        required = [r for r in rules if (r.get("Setting") or {}).get("IsApprovalRequired") is True]
        if role != GLOBAL_ADMIN and len(required) < len(rules):
            found.append(OwnFinding(reference, "MS.AAD.7.6v1", "warning",
                                    f"Activating {role} does not require approval (CIS asks for it; SCuBA only "
                                    "for Global Administrator)"))
        few = sorted({_source(r) for r in required if _approvers(r) < 2})
        if few:
            found.append(OwnFinding(reference, "MS.AAD.7.6v1", "warning",
                                    f"Approval for {role} activation names fewer than 2 approvers (CIS asks for at "
                                    "least 2; ScubaGear does not check approvers): " + ", ".join(few)))
    return found


def pascal(value: Any) -> Any:
    """Graph's camelCase JSON as ScubaGear's export spells it (PascalCase keys, ``@odata.type`` kept)."""
    if isinstance(value, Mapping):
        return {(k if k.startswith("@") else k[:1].upper() + k[1:]): pascal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [pascal(v) for v in value]
    return value


def exclusions_config(users: Sequence[str], groups: Sequence[str]) -> dict[str, Any]:
    """``scuba_config`` as ScubaGear's config file gives it, from ``[audit.scuba]``."""
    return {"Aad": {"MS.AAD.7.4v1": {"RoleExclusions": {"Users": list(users), "Groups": list(groups)}}}}
