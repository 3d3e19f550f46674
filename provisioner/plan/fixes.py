"""From the SCuBA baseline's findings to a plan that fixes what needs no choice of people. Pure.

Fixed (graph-pim-baseline P§B7-B12): a permanent or outside-PIM active assignment of one of the
eight highly privileged roles becomes eligible through PIM (7.4, 7.5), except protected accounts
and [audit.scuba] exclusions, and never so that no active Global Administrator is left; Global
Administrator activation requires approval by the approver given (7.6); the alert rules ScubaGear
reads get the recipients given, added to the ones they have (7.7-7.9). Never planned: who holds
Global Administrator and which accounts are cloud-only (7.1-7.3): listed with the commands.

The rule changes are built by ``pim_rules``, which ``check_labels`` calls again at apply time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from provisioner.audit import baseline as scuba
from provisioner.changes import Action, Change, Plan
from provisioner.model import RoleAssignment, RolePolicy, TenantState, User
from provisioner.plan.index import Index
from provisioner.plan.pim_rules import approval_update, notification_update
from provisioner.roles.catalog import GLOBAL_ADMIN_ID
from provisioner.roles.rules import removes_last_global_admin

BY_TEMPLATE = {t: name for name, t in scuba.HIGHLY_PRIVILEGED.items()}
ASSIGNMENT_ALERTS = ("Notification_Admin_Admin_Assignment", "Notification_Admin_Admin_Eligibility")  # 7.7
ACTIVATION_ALERT = "Notification_Admin_EndUser_Assignment"  # 7.8 (Global Administrator), 7.9 (the others)
APPROVAL = "Approval_EndUser_Assignment"  # 7.6
ELIGIBLE_EXPIRY = "Expiration_Admin_Eligibility"
JUSTIFICATION = "SCuBA MS.AAD.7.4/7.5: highly privileged roles are held eligible, through PIM"
# The durations a plan file takes (planfile: P<n>D, PT<n>H<n>M).
_DURATION = re.compile(r"P(\d+D)?(T(\d+H)?(\d+M)?)?")



@dataclass(frozen=True)
class Fix:
    """What the plan does about one policy: ``status`` met, planned, partly planned, not planned or
    not checked; ``text`` what and why; ``commands`` what a person can run for the rest."""

    policy_id: str
    status: str
    text: str = ""
    commands: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"policyId": self.policy_id, "status": self.status, "text": self.text,
                "commands": list(self.commands)}


@dataclass(frozen=True)
class FixRequest:
    """What the admin gave: alert recipients (--notify), the approver (--approver, resolved), and
    the accounts that stay active (protected accounts' object ids; [audit.scuba] exclusions)."""

    recipients: tuple[str, ...] = ()
    approver: User | None = None
    protected: frozenset[str] = frozenset()  # lower-cased object ids
    excluded: frozenset[str] = frozenset()  # lower-cased object ids (users and groups)


@dataclass(frozen=True)
class FixPlan:
    plan: Plan
    fixes: tuple[Fix, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class _Kept:
    upn: str
    role: str
    why: str
    assignment: RoleAssignment


def rule_change(role_id: str, role_name: str, policy: RolePolicy, rule_id: str, updates: dict, properties: dict,
                reason: str) -> Change:
    return Change(Action.POLICY_RULE, "", role_id=role_id, role_name=role_name, policy_id=policy.id,
                  rule_id=rule_id, updates=updates, properties=properties, reason=reason)


# --- the plan -------------------------------------------------------------------------------------


def fix_plan(state: TenantState, baseline: scuba.Baseline, request: FixRequest) -> FixPlan:
    """The plan fixing what ``baseline`` found and needs no choice of people, and per policy what
    it does and what is left, with why."""
    index = Index(state)
    results = {r.policy_id: r for r in baseline.results}
    no_p2 = results["MS.AAD.7.4v1"].details == scuba.P2_WARNING
    notes: list[str] = []
    changes: list[Change] = []
    kept: list[_Kept] = []
    if not no_p2:
        changes, kept = _conversions(state, index, request, notes)
    approval = _approval(state, index, request) if not no_p2 else None
    alerts = _alerts(state, index, request) if not no_p2 else {}
    rules = ([approval] if approval else []) + [c for cs in alerts.values() for c in cs]
    plan = Plan(tuple(rules + changes))
    fixes = [_people(results[p]) for p in ("MS.AAD.7.1v1", "MS.AAD.7.2v1", "MS.AAD.7.3v1")]
    fixes += _assignment_fixes(results, changes, kept, request, no_p2)
    fixes.append(_approval_fix(results["MS.AAD.7.6v1"], approval, request, no_p2))
    for pid in ("MS.AAD.7.7v1", "MS.AAD.7.8v1", "MS.AAD.7.9v1"):
        fixes.append(_alert_fix(results[pid], alerts.get(pid, []), request, no_p2))
    return FixPlan(plan, tuple(fixes), tuple(notes))


def _conversions(state: TenantState, index: Index, request: FixRequest,
                 notes: list[str]) -> tuple[list[Change], list[_Kept]]:
    """ASSIGN eligible + REVOKE active for each permanent or outside-PIM active assignment of the
    eight roles; the accounts that stay active, and why."""
    changes: list[Change] = []
    kept: list[_Kept] = []
    others = 0
    for a in sorted(state.assignments, key=lambda a: (a.role_definition_id, a.principal_id)):
        template = index.template(a.role_definition_id)
        if template not in BY_TEMPLATE or a.directory_scope_id != "/" or a.eligible:
            continue
        if a.end is not None and not a.outside_pim:
            continue  # time-bound, through PIM: what the baseline asks
        user = index.by_id.get(a.principal_id.lower())
        if user is None:
            others += 1
            continue
        role = index.role_display_name(template) or BY_TEMPLATE[template]
        oid = user.id.lower()
        if oid in request.protected or oid in request.excluded:
            why = ("a protected account (safety.protected_accounts)" if oid in request.protected
                   else "excluded in [audit.scuba] excluded_users")
            kept.append(_Kept(user.user_principal_name, role, why, a))
            continue
        duration = _eligible_expiry(state.policies.get(template))
        if duration is False:
            kept.append(_Kept(user.user_principal_name, role, "its policy's eligibility expiry "
                              "(Expiration_Admin_Eligibility) is a duration a plan cannot carry", a))
            continue
        what = "permanent" if a.end is None else "time-bound"
        reason = f"{what} active assignment" + (", made outside PIM" if a.outside_pim else "")
        if (a.principal_id, template) not in index.eligible:
            changes.append(Change(Action.ASSIGN, user.user_principal_name, user.id, role_id=template, role_name=role,
                                  reason=f"eligible instead of active (MS.AAD.7.4, 7.5): {reason}", eligible=True,
                                  through_pim=True, duration=duration or None, justification=JUSTIFICATION))
        changes.append(Change(Action.REVOKE, user.user_principal_name, user.id, role_id=template, role_name=role,
                              assignment_id=a.id, reason=f"{reason}; held eligible instead",
                              through_pim=a.outside_pim is False))
    if others:
        notes.append(f"{others} active assignment(s) of highly privileged roles are held by groups or applications: "
                     "not planned (groups belong in PIM for Groups; applications cannot activate).")
    if removes_last_global_admin(Plan(tuple(changes)), state):
        # Only active holders can act (P§A1.5): keep them all active rather than plan a refusal.
        held = sorted({c.upn for c in changes if c.role_id == GLOBAL_ADMIN_ID})
        kept += [_Kept(c.upn, c.role_name or "", "the last active Global Administrator(s)",
                       index.assignments[c.assignment_id or ""])
                 for c in changes if c.action is Action.REVOKE and c.role_id == GLOBAL_ADMIN_ID]
        changes = [c for c in changes if c.role_id != GLOBAL_ADMIN_ID]
        notes.append(f"Global Administrator stays active for {', '.join(held)}: making every holder eligible would "
                     "leave no active Global Administrator, and apply refuses that. Keep one or two break-glass "
                     "accounts active: list them in safety.protected_accounts and their object ids in "
                     "[audit.scuba] excluded_users, then make this plan again.")
    return changes, kept


def _eligible_expiry(policy: RolePolicy | None) -> str | bool:
    """The maximum eligibility the role's policy allows when it requires expiry ("" when it does not;
    False when it is a duration a plan file cannot carry)."""
    rule = (policy.rules if policy else {}).get(ELIGIBLE_EXPIRY) or {}
    if not rule.get("isExpirationRequired"):
        return ""
    duration = str(rule.get("maximumDuration") or "")
    return duration if duration not in ("", "P", "PT") and _DURATION.fullmatch(duration) else False


def _approval(state: TenantState, index: Index, request: FixRequest) -> Change | None:
    policy = state.policies.get(GLOBAL_ADMIN_ID)
    rule = (policy.rules if policy else {}).get(APPROVAL)
    if policy is None or rule is None or request.approver is None:
        return None
    if (rule.get("setting") or {}).get("isApprovalRequired") is not False:
        return None
    updates, properties = approval_update(rule, [request.approver.id], index)
    return rule_change(GLOBAL_ADMIN_ID, _name(index, GLOBAL_ADMIN_ID), policy, APPROVAL, updates, properties,
                       "MS.AAD.7.6: activating Global Administrator requires approval")


def _alerts(state: TenantState, index: Index, request: FixRequest) -> dict[str, list[Change]]:
    found: dict[str, list[Change]] = {}
    if not request.recipients:
        return found
    for name, template in scuba.HIGHLY_PRIVILEGED.items():
        policy = state.policies.get(template)
        if policy is None:
            continue
        for rule_id in (*ASSIGNMENT_ALERTS, ACTIVATION_ALERT):
            rule = policy.rules.get(rule_id)
            if rule is None:
                continue
            updates, properties = notification_update(rule, request.recipients)
            old, new = updates["notificationRecipients"]
            if old == new:
                continue
            pid = "MS.AAD.7.7v1" if rule_id in ASSIGNMENT_ALERTS else \
                "MS.AAD.7.8v1" if template == GLOBAL_ADMIN_ID else "MS.AAD.7.9v1"
            found.setdefault(pid, []).append(rule_change(
                template, _name(index, template) or name, policy, rule_id, updates, properties,
                f"{pid[:-2]}: alert recipients"))
    return found


def _name(index: Index, template: str) -> str:
    return index.role_display_name(template) or BY_TEMPLATE[template]


# --- what each policy gets ------------------------------------------------------------------------

_NO_P2 = "the tenant has no Microsoft Entra ID P2 (PIM needs it; ScubaGear looks for AAD_PREMIUM_P2)"


def _people(result: scuba.PolicyResult) -> Fix:
    """7.1-7.3 are never planned: who holds Global Administrator, and which accounts, is for people to choose."""
    if result.requirement_met is None:
        return Fix(result.policy_id, "not checked", result.details)
    if result.requirement_met:
        return Fix(result.policy_id, "met")
    names = ", ".join(result.offenders)
    if result.policy_id == "MS.AAD.7.1v1":
        few = len(result.offenders) < 2
        text = (f"who holds Global Administrator is for people to choose: {len(result.offenders)} hold it "
                f"({names}); 2 to 8 wanted")
        cmd = "provisioner roles assign USER global --eligible" if few else "provisioner roles revoke USER global"
        return Fix(result.policy_id, "not planned", text, (cmd,))
    if result.policy_id == "MS.AAD.7.2v1":
        text = (f"who holds which role is for people to choose: give finer-grained roles instead of Global "
                f"Administrator ({names})")
        return Fix(result.policy_id, "not planned", text,
                   ("provisioner roles assign USER ROLE --eligible", "provisioner roles revoke USER global"))
    text = f"an admin account of its own is for people to make: not cloud-only: {names}"
    return Fix(result.policy_id, "not planned", text,
               ("provisioner users create ADMIN@DOMAIN --display-name NAME --role ROLE",
                "provisioner roles revoke USER ROLE"))


def _assignment_fixes(results: Mapping[str, scuba.PolicyResult], changes: list[Change], kept: list[_Kept],
                      request: FixRequest, no_p2: bool) -> list[Fix]:
    revokes = [c for c in changes if c.action is Action.REVOKE]
    made = ", ".join(f"{c.role_name}: {c.upn}" for c in revokes)
    fixes = []
    for pid, still in (("MS.AAD.7.4v1", [k for k in kept if k.assignment.end is None
                                          and k.assignment.principal_id.lower() not in request.excluded]),
                       ("MS.AAD.7.5v1", [k for k in kept if k.assignment.outside_pim])):
        result = results[pid]
        if no_p2:
            fixes.append(Fix(pid, "not planned", _NO_P2))
            continue
        if result.requirement_met is None:
            fixes.append(Fix(pid, "not checked", result.details))
            continue
        parts = [f"{len(revokes)} active assignment(s) become eligible through PIM ({made})"] if revokes else []
        commands: list[str] = []
        for k in still:
            parts.append(f"{k.upn} keeps {k.role} active: {k.why}")
        if still and pid == "MS.AAD.7.4v1":
            commands.append("list each break-glass account's object id in [audit.scuba] excluded_users")
        if still and pid == "MS.AAD.7.5v1":
            commands.append("assign those roles again through PIM: provisioner roles assign USER ROLE --permanent "
                            "(after removing the direct assignment)")
        status = "planned" if revokes and not still else "partly planned" if revokes else \
            "met" if result.requirement_met else "not planned"
        fixes.append(Fix(pid, status, "; ".join(parts), tuple(commands)))
    return fixes


def _approval_fix(result: scuba.PolicyResult, approval: Change | None, request: FixRequest, no_p2: bool) -> Fix:
    if no_p2:
        return Fix(result.policy_id, "not planned", _NO_P2)
    if approval is not None:
        who = request.approver.user_principal_name if request.approver else ""
        return Fix(result.policy_id, "planned", f"activating Global Administrator requires approval by {who}")
    if result.requirement_met is not False:
        return Fix(result.policy_id, "met" if result.requirement_met else "not checked",
                   "" if result.requirement_met else result.details)
    return Fix(result.policy_id, "not planned", "no approver given: name who approves Global Administrator "
               "activations", ("provisioner audit --fix-plan FILE --approver USER",))


def _alert_fix(result: scuba.PolicyResult, changes: list[Change], request: FixRequest, no_p2: bool) -> Fix:
    if no_p2:
        return Fix(result.policy_id, "not planned", _NO_P2)
    if changes:
        roles = sorted({c.role_name or "" for c in changes})
        return Fix(result.policy_id, "planned", f"{len(changes)} alert rule(s) of {len(roles)} role(s) get "
                   f"{', '.join(request.recipients)}")
    if result.requirement_met is None:
        return Fix(result.policy_id, "not checked", result.details)
    if result.requirement_met:
        return Fix(result.policy_id, "met")
    return Fix(result.policy_id, "not planned", "no alert recipient given",
               ("provisioner audit --fix-plan FILE --notify EMAIL",))
