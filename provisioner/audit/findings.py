"""Building the audit report from a ``TenantState``: the holders of the audited roles and every
finding (Global Administrator count, protected accounts, disabled or synced admins, deleted users).
Pure: no I/O.

What the data allows: Microsoft Graph does not list the role assignments of a soft-deleted user
(they come back when it is restored). A deleted user's former roles are therefore reported only
when its assignments are visible in the state; the report says so in its notes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from provisioner.audit.report import (
    MAX_GLOBAL_ADMINS,
    MIN_GLOBAL_ADMINS,
    AuditedRole,
    AuditReport,
    Drift,
    Finding,
    Holder,
    Severity,
    day,
)
from provisioner.model import DeletedUser, RoleDefinition, TenantState, User
from provisioner.roles import rules
from provisioner.roles.catalog import CLASSIC_ROLES, GLOBAL_ADMIN_ID, classic_for, is_privileged


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def _audited_roles(state: TenantState, all_roles: bool) -> list[RoleDefinition]:
    by_template = {d.template_id.lower(): d for d in state.roles}
    chosen: list[RoleDefinition] = []
    for classic in CLASSIC_ROLES:
        chosen.append(
            by_template.get(classic.template_id)
            or RoleDefinition(classic.template_id, classic.entra_name, classic.template_id,
                              is_privileged=classic.privileged)
        )
    if all_roles:
        classic_ids = {c.template_id for c in CLASSIC_ROLES}
        extra = [
            d for d in state.roles
            if d.is_builtin and is_privileged(d) and d.template_id.lower() not in classic_ids
        ]
        chosen += sorted(extra, key=lambda d: d.display_name.lower())
    return chosen


def audit(
    state: TenantState,
    *,
    protected: Iterable[str],
    expiring_within: timedelta,
    all_roles: bool,
    tenant: str = "",
    drift: Drift | None = None,
    user_count: int | None = None,
) -> AuditReport:
    """Build the audit report of ``state``: holders of the audited roles and every finding.

    Findings look at every role assignment in the state (not only the audited roles); the holders
    list shows the five classic roles, and with ``all_roles`` every privileged built-in role.
    ``state.users`` needs only the principals of its assignments and the protected accounts;
    ``user_count`` is the tenant's number of users when ``state.users`` does not hold them all.
    """
    now = state.now
    by_id = {u.id.lower(): u for u in state.users.values()}
    deleted_by_id = {d.id.lower(): d for d in state.deleted if not d.expired(now)}
    definitions = {d.id.lower(): d for d in state.roles}
    templates = rules.template_of(state)

    def role_of(definition_id: str) -> RoleDefinition:
        d = definitions.get(definition_id.lower())
        if d is not None:
            return d
        classic = classic_for(definition_id)
        name = classic.entra_name if classic else definition_id
        return RoleDefinition(definition_id, name, definition_id, is_privileged=classic.privileged if classic else None)

    audited = _audited_roles(state, all_roles)
    audited_ids = [d.template_id.lower() for d in audited]
    # Active assignments are what can act now (the findings judge them); eligible ones (PIM) are
    # listed beside them, each with how it is held.
    assignments = sorted(state.assignments, key=lambda a: a.id)
    holders_by_role: dict[str, list[Holder]] = {t: [] for t in audited_ids}
    held_by: dict[str, list[RoleDefinition]] = {}
    placeholder = AuditedRole("", "", None, False, 0)  # replaced below, once the counts are known
    for a in (*assignments, *sorted(state.eligible, key=lambda a: a.id)):
        template = templates.get(a.role_definition_id.lower(), a.role_definition_id.lower())
        if not a.eligible:
            held_by.setdefault(a.principal_id.lower(), []).append(role_of(a.role_definition_id))
        if template in holders_by_role:
            holders_by_role[template].append(Holder(
                placeholder, a.id, a.principal_id, a.directory_scope_id, by_id.get(a.principal_id.lower()),
                deleted_by_id.get(a.principal_id.lower()), a))
    roles: list[AuditedRole] = []
    holders: list[Holder] = []
    for d in audited:
        t = d.template_id.lower()
        classic = classic_for(t)
        active = {h.principal_id for h in holders_by_role[t] if not (h.held and h.held.eligible)}
        eligible = {h.principal_id for h in holders_by_role[t]} - active
        role = AuditedRole(t, d.display_name, classic.classic_name if classic else None, is_privileged(d),
                           len(active), len(eligible))
        roles.append(role)
        found = [replace(h, role=role) for h in holders_by_role[t]]
        holders += sorted(found, key=lambda h: ((h.upn or "~").lower(), h.principal_id, h.scope,
                                                bool(h.held and h.held.eligible)))

    findings = _global_admin_findings(state, by_id)
    findings += _protected_findings(state, protected, deleted_by_id)
    findings += _holder_findings(held_by, by_id)
    findings += _deleted_findings(deleted_by_id, held_by, now, expiring_within)
    if drift is not None and drift.changes:
        findings.append(Finding(
            "drift", Severity.WARNING, "The tenant does not match the manifest",
            f"{drift.manifest}: {drift.summary}",
            f"Review the changes below, then converge with: provisioner sync {drift.manifest}",
        ))
    notes: list[str] = []
    if deleted_by_id:
        notes.append(
            "Microsoft Graph does not list the role assignments of deleted users; a deleted user's former "
            "roles are reported only where its assignments were visible."
        )
    return AuditReport(
        generated=now,
        tenant=tenant,
        all_roles=all_roles,
        expiring_within=expiring_within,
        roles=tuple(roles),
        holders=tuple(holders),
        findings=tuple(sorted(findings, key=lambda f: f.sort_key)),
        users=len(state.users) if user_count is None else user_count,
        deleted_users=len(deleted_by_id),
        drift=drift,
        notes=tuple(notes),
    )


def _global_admin_findings(state: TenantState, by_id: dict[str, User]) -> list[Finding]:
    ga_ids = sorted({p.lower() for p in rules.holders(state, GLOBAL_ADMIN_ID)})
    usable = [by_id[i] for i in ga_ids if i in by_id and by_id[i].account_enabled]
    names = ", ".join(sorted(u.user_principal_name for u in usable)) or "none"
    evidence = f"{len(ga_ids)} Global Administrator(s), {len(usable)} enabled: {names}"
    if not usable:
        return [Finding(
            "globalAdmins.none", Severity.ERROR, "No enabled Global Administrator",
            evidence,
            "Assign Global Administrator to a cloud-only account now: provisioner roles assign USER global",
        )]
    if len(usable) < MIN_GLOBAL_ADMINS:
        return [Finding(
            "globalAdmins.single", Severity.WARNING, "Only one enabled Global Administrator (no break-glass spare)",
            evidence,
            "Keep at least two: add a cloud-only emergency-access account with: provisioner roles assign USER global",
        )]
    if len(ga_ids) > MAX_GLOBAL_ADMINS:
        return [Finding(
            "globalAdmins.tooMany", Severity.WARNING, "Five or more Global Administrators",
            evidence,
            "Microsoft recommends fewer than five; move the others to narrower roles "
            "(provisioner roles revoke USER global, then assign the role they need)",
        )]
    return []


def _protected_findings(
    state: TenantState, protected: Iterable[str], deleted_by_id: dict[str, DeletedUser]
) -> list[Finding]:
    findings: list[Finding] = []
    deleted_by_upn: dict[str, DeletedUser] = {}
    for d in sorted(deleted_by_id.values(), key=lambda d: d.deleted):
        deleted_by_upn[d.original_upn.lower()] = d
    for upn in sorted({p.strip().lower() for p in protected if p.strip()}):
        user = state.user(upn)
        if user is not None:
            if not user.account_enabled:
                findings.append(Finding(
                    "protected.disabled", Severity.WARNING, "Protected account is disabled",
                    f"{user.user_principal_name}: accountEnabled is false",
                    "Enable it again (accountEnabled true) in the Entra admin center, or remove it from "
                    "safety.protected_accounts",
                    user.user_principal_name, user.id,
                ))
            continue
        gone = deleted_by_upn.get(upn)
        if gone is not None:
            findings.append(Finding(
                "protected.deleted", Severity.ERROR, "Protected account is deleted",
                f"{gone.original_upn}: deleted {day(gone.deleted)}, restorable until {day(gone.expires)} "
                f"({_days(gone.days_left(state.now))} left)",
                f"Restore it: provisioner users restore {gone.id}",
                gone.original_upn, gone.id,
            ))
            continue
        findings.append(Finding(
            "protected.missing", Severity.ERROR, "Protected account does not exist",
            f"{upn}: listed in safety.protected_accounts, not found among the tenant's users or deleted users",
            "Create it (provisioner users create), or correct safety.protected_accounts in config.toml",
            upn, None,
        ))
    return findings


def _role_list(roles: Sequence[RoleDefinition]) -> str:
    return ", ".join(sorted({r.display_name for r in roles}))


def _holder_findings(held_by: dict[str, list[RoleDefinition]], by_id: dict[str, User]) -> list[Finding]:
    findings: list[Finding] = []
    for principal, roles in held_by.items():
        user = by_id.get(principal)
        if user is None:
            continue
        upn = user.user_principal_name
        if not user.account_enabled:
            findings.append(Finding(
                "admin.disabled", Severity.WARNING, "Disabled account holds admin roles",
                f"{upn}: accountEnabled is false; holds {_role_list(roles)}",
                f"Revoke the roles it no longer needs: provisioner roles revoke {upn} ROLE",
                upn, user.id,
            ))
        privileged = [r for r in roles if is_privileged(r)]
        if user.synced and privileged:
            findings.append(Finding(
                "admin.synced", Severity.WARNING, "Directory-synced account holds privileged roles",
                f"{upn}: onPremisesSyncEnabled is true; holds {_role_list(privileged)}",
                "Admin accounts should be cloud-only: give the roles to a cloud-only admin account, then "
                f"provisioner roles revoke {upn} ROLE",
                upn, user.id,
            ))
    return findings


def _deleted_findings(
    deleted_by_id: dict[str, DeletedUser],
    held_by: dict[str, list[RoleDefinition]],
    now: datetime,
    within: timedelta,
) -> list[Finding]:
    findings: list[Finding] = []
    for key, d in deleted_by_id.items():
        when = f"deleted {day(d.deleted)}, purged {day(d.expires)} ({_days(d.days_left(now))} left)"
        roles = held_by.get(key)
        if roles:
            findings.append(Finding(
                "deleted.heldRoles", Severity.WARNING, "Deleted user held admin roles",
                f"{d.original_upn}: {when}; held {_role_list(roles)}",
                "Restoring it restores these roles: review them before any restore, or purge it: "
                f"provisioner users purge {d.id}",
                d.original_upn, d.id,
            ))
        if d.expires - now <= within:
            findings.append(Finding(
                "deleted.expiring", Severity.INFO, "Deleted user expires soon",
                f"{d.original_upn}: {when}",
                f"If it is still needed, restore it before {day(d.expires)}: provisioner users restore {d.id}",
                d.original_upn, d.id,
            ))
    return findings
