"""The audit report's data: severities, findings, audited roles and their holders, the drift from a
manifest, and the report itself with its JSON form. Pure data; built by ``findings.audit``.

The JSON schema (``formatVersion`` 1) is documented in ``docs/audit.md``; its keys use Microsoft
Graph's property names where Graph has one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from provisioner.audit.baseline import Baseline
from provisioner.changes import Change, Plan
from provisioner.model import DeletedUser, RoleAssignment, User, format_datetime
from provisioner.render import summary
from provisioner.roles.catalog import GLOBAL_ADMIN_ID

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
    holders: int  # principals holding it active (they can act now)
    eligible: int = 0  # principals eligible for it (PIM), not holding it active

    def to_json(self) -> dict[str, Any]:
        return {
            "roleDefinitionId": self.role_id,
            "roleName": self.name,
            "classicName": self.classic_name,
            "isPrivileged": self.privileged,
            "holderCount": self.holders,
            "eligibleHolderCount": self.eligible,
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
    held: RoleAssignment | None = None  # how it is held: active or eligible, until when, inside PIM or not

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
            "eligible": bool(self.held and self.held.eligible),
            "endDateTime": self.held.end if self.held else None,
            "outsidePim": self.held.outside_pim if self.held else None,
            "assignment": self.held.describe() if self.held else None,
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
    baseline: Baseline | None = None  # the SCuBA MS.AAD.7 results, when the baseline was read

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    def reaches(self, level: Severity) -> list[Finding]:
        """The findings at ``level`` or above (what ``--fail-on`` counts)."""
        return [f for f in self.findings if f.severity.rank >= level.rank]

    def baseline_failures(self, level: Severity) -> list[str]:
        """What of the baseline ``--fail-on`` counts: every failed Shall policy (a "Shall" is a must,
        whatever the level), and our own baseline findings at ``level`` or above."""
        if self.baseline is None:
            return []
        failed = [r.policy_id for r in self.baseline.failed_shall()]
        return failed + [f"{f.reference} ({f.beside})" for f in self.baseline.findings
                         if Severity(f.severity).rank >= level.rank]

    @property
    def active(self) -> list[Holder]:
        """The holders that can act now (eligible ones activate first)."""
        return [h for h in self.holders if not (h.held and h.held.eligible)]

    @property
    def global_admins(self) -> int:
        return len({h.principal_id for h in self.active if h.role.role_id == GLOBAL_ADMIN_ID})

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
                "roleHolders": len(self.active),
                "eligibleRoleHolders": len(self.holders) - len(self.active),
                "globalAdministrators": self.global_admins,
                "findings": {s.value: self.count(s) for s in Severity},
            },
            "roles": [r.to_json() for r in self.roles],
            "holders": [h.to_json() for h in self.holders],
            "findings": [f.to_json() for f in self.findings],
            "drift": self.drift.to_json() if self.drift else None,
            "baseline": self.baseline.to_json() if self.baseline else None,
            "notes": list(self.notes),
        }


def plan_summary(changes: Sequence[Change]) -> str:
    """The plan's own summary line; an empty plan says what it means for an audit."""
    return summary(Plan(tuple(changes))) if changes else "No changes. The tenant matches the manifest."


def day(value: datetime | None) -> str:
    """A date as the report shows it (the day is what an admin acts on)."""
    return value.strftime("%Y-%m-%d") if value else ""
