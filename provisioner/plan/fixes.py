"""From the SCuBA baseline's findings to a plan that fixes what needs no choice of people. Pure.

Fixed (graph-pim-baseline P§B7-B12): a permanent or outside-PIM active assignment of one of the
eight highly privileged roles becomes eligible through PIM (7.4, 7.5), except protected accounts
and [audit.scuba] exclusions, and never so that no active Global Administrator is left (one whose
active assignment ends within the audit's expiring window does not count: soon nobody could act); Global
Administrator activation requires approval by the approver given (7.6); the alert rules ScubaGear
reads get the recipients given, added to the ones they have (7.7-7.9). Never planned: who holds
Global Administrator and which accounts are cloud-only (7.1-7.3): listed with the commands.

Planned when the tenant has PIM (``state.pim``: Entra ID P2 or Governance, P§A3, A6.3), whatever
ScubaGear says: it looks only for the AAD_PREMIUM_P2 plan, and its verdict is only reported.

The rule changes are built by ``pim_rules``, which ``check_labels`` calls again at apply time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from provisioner.audit import baseline as scuba
from provisioner.changes import Action, Change, Plan
from provisioner.isoduration import iso_span, iso_text
from provisioner.model import RoleAssignment, RolePolicy, TenantState, User, parse_datetime
from provisioner.plan.expiry import spoken
from provisioner.plan.guardrails import CANNOT_ACT, EXPIRING_WITHIN
from provisioner.plan.index import Index
from provisioner.plan.pim_rules import approval_update, notification_update
from provisioner.roles.catalog import GLOBAL_ADMIN_ID
from provisioner.roles.rules import removes_last_global_admin

BY_TEMPLATE = {t: name for name, t in scuba.HIGHLY_PRIVILEGED.items()}
ASSIGNMENT_ALERTS = ("Notification_Admin_Admin_Assignment", "Notification_Admin_Admin_Eligibility")  # 7.7
ACTIVATION_ALERT = "Notification_Admin_EndUser_Assignment"  # 7.8 (Global Administrator), 7.9 (the others)
APPROVAL = "Approval_EndUser_Assignment"  # 7.6
JUSTIFICATION = "SCuBA MS.AAD.7.4/7.5: highly privileged roles are held eligible, through PIM"


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
    the accounts that stay active (protected accounts' object ids; [audit.scuba] exclusions); a Global
    Administrator whose active assignment ends within ``expiring_within`` does not count as staying
    active."""

    recipients: tuple[str, ...] = ()
    approver: User | None = None
    protected: frozenset[str] = frozenset()  # lower-cased object ids
    excluded: frozenset[str] = frozenset()  # lower-cased object ids (users and groups)
    expiring_within: timedelta = EXPIRING_WITHIN
    # PIM's schedule instances were read: without them who holds what, and how, is not known (the
    # role settings are still fixed, from the policies).
    assignments_read: bool = True


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
    # What PIM can do here, not what ScubaGear's message says (it knows only AAD_PREMIUM_P2).
    no_p2 = state.pim is not True
    notes: list[str] = []
    if not no_p2 and results["MS.AAD.7.4v1"].details == scuba.P2_WARNING:
        notes.append("The tenant has PIM without Entra ID P2 (Entra ID Governance): this plan fixes MS.AAD.7.4 to "
                     "7.9, but ScubaGear looks only for the AAD_PREMIUM_P2 service plan and still reports them as "
                     "not met.")
    changes: list[Change] = []
    kept: list[_Kept] = []
    if not no_p2 and request.assignments_read:
        changes, kept = _conversions(state, index, request, notes)
    approval = _approval(state, index, request) if not no_p2 else None
    alerts = _alerts(state, index, request) if not no_p2 else {}
    rules = ([approval] if approval else []) + [c for cs in alerts.values() for c in cs]
    plan = Plan(tuple(rules + changes))
    fixes = [_people(results[p]) for p in ("MS.AAD.7.1v1", "MS.AAD.7.2v1", "MS.AAD.7.3v1")]
    fixes += _assignment_fixes(results, changes, kept, request, no_p2, index)
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
        if duration is None:
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
    # Only active holders can act (P§A1.5), and one whose assignment ends soon will not for long:
    # judged as if those were gone, the last-GA rule says whether anyone lasting would be left.
    # Never a shorter window than apply's floor: a plan apply would refuse is no fix.
    window = max(request.expiring_within, CANNOT_ACT)
    ending = _ending_soon(state, index, window)
    lasting = replace(state, assignments=[a for a in state.assignments if a.id not in ending])
    if removes_last_global_admin(Plan(tuple(changes)), lasting):
        # Keep them all active rather than plan what apply refuses, or what leaves nobody soon.
        refused = removes_last_global_admin(Plan(tuple(changes)), state)
        held = sorted({c.upn for c in changes if c.role_id == GLOBAL_ADMIN_ID})
        kept += [_Kept(c.upn, c.role_name or "", "the last active Global Administrator(s)",
                       index.assignments[c.assignment_id or ""])
                 for c in changes if c.action is Action.REVOKE and c.role_id == GLOBAL_ADMIN_ID]
        changes = [c for c in changes if c.role_id != GLOBAL_ADMIN_ID]
        soon = sorted(ending.values())
        if refused or not soon:
            why = "leave no active Global Administrator, and apply refuses that"
        else:
            why = (f"leave only Global Administrator(s) whose active assignment ends within "
                   f"{spoken(window)} ({', '.join(soon)}), then nobody who can act")
        notes.append(f"Global Administrator stays active for {', '.join(held)}: making every holder eligible would "
                     f"{why}. Keep one or two break-glass accounts active: list them in safety.protected_accounts "
                     "and their object ids in [audit.scuba] excluded_users, then make this plan again.")
    return changes, kept


def _ending_soon(state: TenantState, index: Index, within: timedelta) -> dict[str, str]:
    """Active Global Administrator assignments that end within ``within``: assignment id -> "UPN until DATE"."""
    found = {}
    for a in state.assignments:
        end = parse_datetime(a.end) if not a.eligible else None
        if end is not None and index.template(a.role_definition_id) == GLOBAL_ADMIN_ID and end <= state.now + within:
            user = index.by_id.get(a.principal_id.lower())
            found[a.id] = f"{user.user_principal_name if user else a.principal_id} until {(a.end or '')[:10]}"
    return found


def _eligible_expiry(policy: RolePolicy | None) -> str | None:
    """The maximum eligibility the role's policy allows when it requires expiry, as a duration to send
    (``P7D`` for a ``P1W`` maximum); "" when it requires none; None when it is not one this tool can
    measure (years or months: the eligibility cannot be planned within it)."""
    rule = policy.expiry(True) if policy else None
    if rule is None or not rule.required:
        return ""
    span = iso_span(rule.maximum)
    return iso_text(span) if span is not None else None


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

_UNREAD = ("PIM's role assignments could not be read (Graph refused the schedule instances; RoleManagement.Read."
           "Directory, and for a person a role such as Global Reader, allow it): no assignment is converted")
_NO_P2 = ("the tenant has no PIM: it needs Microsoft Entra ID P2 or Microsoft Entra ID Governance (ScubaGear "
          "looks for AAD_PREMIUM_P2)")


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
                      request: FixRequest, no_p2: bool, index: Index) -> list[Fix]:
    held = {c.assignment_id: a for c in changes if c.action is Action.REVOKE
            for a in [index.assignments.get(c.assignment_id or "")] if a is not None}
    fixes = []
    # Each policy is credited only with the conversions of its own offenders: 7.4 permanent ones
    # (no end), 7.5 those made outside PIM.
    for pid, offends in (("MS.AAD.7.4v1", lambda a: a.end is None), ("MS.AAD.7.5v1", lambda a: bool(a.outside_pim))):
        still = [k for k in kept if offends(k.assignment)
                 and (pid != "MS.AAD.7.4v1" or k.assignment.principal_id.lower() not in request.excluded)]
        revokes = [c for c in changes if c.assignment_id in held and offends(held[c.assignment_id])]
        made = ", ".join(f"{c.role_name}: {c.upn}" for c in revokes)
        result = results[pid]
        if no_p2 or not request.assignments_read:
            fixes.append(Fix(pid, "not planned", _NO_P2 if no_p2 else _UNREAD))
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
            commands.append("grant those roles again through PIM: provisioner roles revoke USER ROLE --active, then "
                            "provisioner roles assign USER ROLE --permanent (for Global Administrator, with another "
                            "active one in place first)")
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
