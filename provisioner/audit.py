"""The read-only audit: who holds admin roles, what is wrong with that, what is about to expire,
and (given a manifest) what a sync would change. Pure: the report is built from a ``TenantState``
and rendered as a table, JSON, Markdown or one self-contained HTML page.

The JSON schema (``formatVersion`` 1) is documented in ``docs/audit.md``; its keys use Microsoft
Graph's property names where Graph has one.

What the data allows: Microsoft Graph does not list the role assignments of a soft-deleted user
(they come back when it is restored). A deleted user's former roles are therefore reported only
when its assignments are visible in the state; the report says so in its notes.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from provisioner.model import Change, DeletedUser, Plan, RoleDefinition, TenantState, User, format_datetime
from provisioner.render import MARKERS, summary
from provisioner.roles import rules
from provisioner.roles.catalog import CLASSIC_ROLES, GLOBAL_ADMIN_ID, classic_for, is_privileged

FORMAT_VERSION = 1
# Microsoft recommends fewer than five Global Administrators, and at least two (a break-glass spare).
MIN_GLOBAL_ADMINS = 2
MAX_GLOBAL_ADMINS = 4


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


# Stable finding codes, in report order.
CODES = (
    "globalAdmins.none",
    "globalAdmins.single",
    "globalAdmins.tooMany",
    "protected.missing",
    "protected.deleted",
    "protected.disabled",
    "admin.disabled",
    "admin.synced",
    "deleted.heldRoles",
    "deleted.expiring",
    "drift",
)


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    title: str
    evidence: str
    fix: str
    user_principal_name: str | None = None
    object_id: str | None = None

    @property
    def sort_key(self) -> tuple[int, int, str]:
        return (-self.severity.rank, CODES.index(self.code), (self.user_principal_name or "").lower())

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "title": self.title,
            "userPrincipalName": self.user_principal_name,
            "id": self.object_id,
            "evidence": self.evidence,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class AuditedRole:
    role_id: str  # template id
    name: str
    classic_name: str | None
    privileged: bool
    holders: int

    def to_json(self) -> dict[str, Any]:
        return {
            "roleDefinitionId": self.role_id,
            "roleName": self.name,
            "classicName": self.classic_name,
            "isPrivileged": self.privileged,
            "holderCount": self.holders,
        }


@dataclass(frozen=True)
class Holder:
    """One assignment of an audited role, with what is known of the principal holding it."""

    role: AuditedRole
    assignment_id: str
    principal_id: str
    scope: str
    user: User | None  # None when the principal is not an active user (a group, an app, a deleted user)
    deleted: DeletedUser | None = None

    @property
    def principal_type(self) -> str:
        if self.user is not None:
            return "user"
        return "deletedUser" if self.deleted is not None else "other"

    @property
    def upn(self) -> str | None:
        if self.user is not None:
            return self.user.user_principal_name
        return self.deleted.original_upn if self.deleted is not None else None

    def to_json(self) -> dict[str, Any]:
        u = self.user
        return {
            "roleDefinitionId": self.role.role_id,
            "roleName": self.role.name,
            "assignmentId": self.assignment_id,
            "directoryScopeId": self.scope,
            "principalId": self.principal_id,
            "principalType": self.principal_type,
            "userPrincipalName": self.upn,
            "displayName": u.display_name if u else (self.deleted.display_name if self.deleted else None),
            "accountEnabled": u.account_enabled if u else None,
            "onPremisesSyncEnabled": u.synced if u else None,
            "createdDateTime": format_datetime(u.created) if u else None,
        }


@dataclass(frozen=True)
class Drift:
    """The changes a sync of ``manifest`` would make (never applied by the audit)."""

    manifest: str
    changes: tuple[Change, ...]
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        return plan_summary(self.changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "manifest": self.manifest,
            "summary": self.summary,
            "changes": [c.to_json() for c in self.changes],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class AuditReport:
    generated: datetime
    tenant: str
    all_roles: bool
    expiring_within: timedelta
    roles: tuple[AuditedRole, ...]
    holders: tuple[Holder, ...]
    findings: tuple[Finding, ...]
    users: int
    deleted_users: int
    drift: Drift | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    def reaches(self, level: Severity) -> list[Finding]:
        """The findings at ``level`` or above (what ``--fail-on`` counts)."""
        return [f for f in self.findings if f.severity.rank >= level.rank]

    @property
    def global_admins(self) -> int:
        return len({h.principal_id for h in self.holders if h.role.role_id == GLOBAL_ADMIN_ID})

    def to_json(self) -> dict[str, Any]:
        return {
            "formatVersion": FORMAT_VERSION,
            "tenant": self.tenant,
            "generatedDateTime": format_datetime(self.generated),
            "options": {
                "allRoles": self.all_roles,
                "expiringWithinSeconds": int(self.expiring_within.total_seconds()),
                "manifest": self.drift.manifest if self.drift else None,
            },
            "summary": {
                "users": self.users,
                "deletedUsers": self.deleted_users,
                "roleHolders": len(self.holders),
                "globalAdministrators": self.global_admins,
                "findings": {s.value: self.count(s) for s in Severity},
            },
            "roles": [r.to_json() for r in self.roles],
            "holders": [h.to_json() for h in self.holders],
            "findings": [f.to_json() for f in self.findings],
            "drift": self.drift.to_json() if self.drift else None,
            "notes": list(self.notes),
        }


# --- building the report -----------------------------------------------------------------------


def _day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else ""


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
) -> AuditReport:
    """Build the audit report of ``state``: holders of the audited roles and every finding.

    Findings look at every role assignment in the state (not only the audited roles); the holders
    list shows the five classic roles, and with ``all_roles`` every privileged built-in role.
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
    assignments = sorted(state.assignments, key=lambda a: a.id)
    holders_by_role: dict[str, list[Holder]] = {t: [] for t in audited_ids}
    held_by: dict[str, list[RoleDefinition]] = {}
    for a in assignments:
        template = templates.get(a.role_definition_id.lower(), a.role_definition_id.lower())
        held_by.setdefault(a.principal_id.lower(), []).append(role_of(a.role_definition_id))
        if template not in holders_by_role:
            continue
        holders_by_role[template].append(
            Holder(
                role=AuditedRole(template, "", None, False, 0),  # replaced below
                assignment_id=a.id,
                principal_id=a.principal_id,
                scope=a.directory_scope_id,
                user=by_id.get(a.principal_id.lower()),
                deleted=deleted_by_id.get(a.principal_id.lower()),
            )
        )
    roles: list[AuditedRole] = []
    holders: list[Holder] = []
    for d in audited:
        t = d.template_id.lower()
        classic = classic_for(t)
        role = AuditedRole(t, d.display_name, classic.classic_name if classic else None, is_privileged(d),
                           len({h.principal_id for h in holders_by_role[t]}))
        roles.append(role)
        found = [Holder(role, h.assignment_id, h.principal_id, h.scope, h.user, h.deleted) for h in holders_by_role[t]]
        holders += sorted(found, key=lambda h: ((h.upn or "~").lower(), h.principal_id, h.scope))

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
        users=len(state.users),
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
                f"{gone.original_upn}: deleted {_day(gone.deleted)}, restorable until {_day(gone.expires)} "
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
        when = f"deleted {_day(d.deleted)}, purged {_day(d.expires)} ({_days(d.days_left(now))} left)"
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
                f"If it is still needed, restore it before {_day(d.expires)}: provisioner users restore {d.id}",
                d.original_upn, d.id,
            ))
    return findings


# --- rendering ---------------------------------------------------------------------------------

def plan_summary(changes: Sequence[Change]) -> str:
    """The plan's own summary line; an empty plan says what it means for an audit."""
    return summary(Plan(tuple(changes))) if changes else "No changes. The tenant matches the manifest."


HOLDER_COLUMNS = ("Role", "User", "Name", "Enabled", "Source", "Created")
FINDING_COLUMNS = ("Severity", "Finding", "Evidence", "Fix")
DRIFT_COLUMNS = ("", "Action", "User", "Role", "Reason")


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def _holder_row(h: Holder) -> list[str]:
    u = h.user
    who = h.upn or h.principal_id
    if h.principal_type == "deletedUser":
        who += " (deleted)"
    elif h.principal_type == "other":
        who += " (not a user)"
    scope = "" if h.scope == "/" else f" [scope {h.scope}]"
    return [
        h.role.name + scope,
        who,
        u.display_name if u else "",
        _yes_no(u.account_enabled) if u else "",
        ("synced" if u.synced else "cloud-only") if u else "",
        _day(u.created) if u else "",
    ]


def _finding_row(f: Finding) -> list[str]:
    return [f.severity.value, f.title, f.evidence, f.fix]


def _change_row(c: Change) -> list[str]:
    return [MARKERS[c.action], c.action.value, c.upn, c.role_name or "", c.reason]


def _headline(r: AuditReport) -> str:
    counts = ", ".join(f"{r.count(s)} {s.value}" for s in Severity)
    return (f"{r.users} users, {r.deleted_users} deleted users, {r.global_admins} Global Administrator(s); "
            f"findings: {counts}")


def render_table(r: AuditReport) -> str:
    from tabulate import tabulate

    def table(rows: list[list[str]], headers: Sequence[str]) -> str:
        if not rows:
            return "(none)"
        return tabulate(rows, headers=list(headers), tablefmt="simple", disable_numparse=True)

    out = [f"Audit of {r.tenant or 'the tenant'} at {format_datetime(r.generated)}", _headline(r), ""]
    out += ["Findings", table([_finding_row(f) for f in r.findings], FINDING_COLUMNS), ""]
    title = "Holders of privileged roles" if r.all_roles else "Holders of the classic admin roles"
    out += [title, table([_holder_row(h) for h in r.holders], HOLDER_COLUMNS), ""]
    empty = [x.name for x in r.roles if not x.holders]
    if empty:
        out += ["Roles without holders: " + ", ".join(empty), ""]
    if r.drift is not None:
        out += [f"Drift from {r.drift.manifest}", table([_change_row(c) for c in r.drift.changes], DRIFT_COLUMNS)]
        out += [*r.drift.notes, r.drift.summary, ""]
    out += [f"Note: {n}" for n in r.notes]
    return "\n".join(out).rstrip("\n") + "\n"


def render_json(r: AuditReport) -> str:
    return json.dumps(r.to_json(), indent=2) + "\n"


def _md_cell(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ") or " "


def _md_table(rows: list[list[str]], headers: Sequence[str]) -> list[str]:
    if not rows:
        return ["_None._"]
    lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return lines


def render_markdown(r: AuditReport) -> str:
    out = [f"## Audit of {_md_cell(r.tenant or 'the tenant')}", "",
           f"Generated {format_datetime(r.generated)}. {_headline(r)}.", ""]
    out += ["### Findings", "", *_md_table([_finding_row(f) for f in r.findings], FINDING_COLUMNS), ""]
    title = "Holders of privileged roles" if r.all_roles else "Holders of the classic admin roles"
    out += [f"### {title}", "", *_md_table([_holder_row(h) for h in r.holders], HOLDER_COLUMNS), ""]
    empty = [x.name for x in r.roles if not x.holders]
    if empty:
        out += ["Roles without holders: " + ", ".join(empty) + ".", ""]
    if r.drift is not None:
        out += [f"### Drift from `{r.drift.manifest}`", ""]
        out += [*_md_table([_change_row(c) for c in r.drift.changes], DRIFT_COLUMNS), ""]
        out += [f"- {_md_cell(n)}" for n in r.drift.notes]
        out += [f"**{r.drift.summary}**", ""]
    out += [f"> {n}" for n in r.notes]
    return "\n".join(out).rstrip("\n") + "\n"


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; color: #1b1b1b; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
tr { page-break-inside: avoid; }
.error { background: #fde2e1; }
.warning { background: #fff4ce; }
.info { background: #e8f1fb; }
.meta, .note { color: #555; }
@media print { body { margin: 0; } h2 { page-break-after: avoid; } }
"""


def _html_table(rows: list[list[str]], headers: Sequence[str], table_id: str,
                classes: Sequence[str] | None = None) -> str:
    if not rows:
        return f'<p id="{table_id}" class="none">None.</p>'
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{e(classes[i])}"' if classes else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>")
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def render_html(r: AuditReport) -> str:
    e = html.escape
    tenant = r.tenant or "the tenant"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Admin audit of {e(tenant)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Admin audit of {e(tenant)}</h1>",
        f'<p class="meta" id="summary">Generated {e(format_datetime(r.generated) or "")}. {e(_headline(r))}.</p>',
        "<h2>Findings</h2>",
        _html_table([_finding_row(f) for f in r.findings], FINDING_COLUMNS, "findings",
                    [f.severity.value for f in r.findings]),
        f"<h2>{'Holders of privileged roles' if r.all_roles else 'Holders of the classic admin roles'}</h2>",
        _html_table([_holder_row(h) for h in r.holders], HOLDER_COLUMNS, "holders"),
    ]
    empty = [x.name for x in r.roles if not x.holders]
    if empty:
        parts.append(f'<p class="note">Roles without holders: {e(", ".join(empty))}.</p>')
    if r.drift is not None:
        parts.append(f"<h2>Drift from {e(r.drift.manifest)}</h2>")
        parts.append(_html_table([_change_row(c) for c in r.drift.changes], DRIFT_COLUMNS, "drift"))
        parts += [f'<p class="note">{e(n)}</p>' for n in r.drift.notes]
        parts.append(f'<p id="drift-summary"><strong>{e(r.drift.summary)}</strong></p>')
    parts += [f'<p class="note">{e(n)}</p>' for n in r.notes]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


RENDERERS = {"table": render_table, "json": render_json, "markdown": render_markdown, "html": render_html}


def render(report: AuditReport, fmt: str) -> str:
    return RENDERERS[fmt](report)
