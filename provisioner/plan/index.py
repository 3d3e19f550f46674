"""Look-ups over a TenantState that every planner, the guardrails, the fingerprint and the label
check share, and the date wording they use. Pure."""

from __future__ import annotations

from datetime import datetime

from provisioner.errors import NotFound
from provisioner.model import DeletedUser, RoleAssignment, RoleDefinition, TenantState, User
from provisioner.roles.catalog import classic_for, resolve_role
from provisioner.roles.rules import template_of


class Index:
    """Look-ups over a TenantState, built once per plan. Ids are lower-cased keys."""

    def __init__(self, state: TenantState):
        self.state = state
        self.by_id = {u.id.lower(): u for u in state.users.values()}
        self.deleted_by_id = {d.id.lower(): d for d in state.deleted}
        self.deleted_by_upn: dict[str, list[DeletedUser]] = {}
        for d in sorted(state.deleted, key=lambda d: (d.deleted, d.id)):
            self.deleted_by_upn.setdefault(d.original_upn.lower(), []).append(d)
        self.templates = templates = template_of(state)
        self.role_names = {d.template_id.lower(): d.display_name for d in state.roles}
        self.assignments = {a.id: a for a in state.assignments}  # assignment ids are case-sensitive
        self.held: dict[str, dict[str, RoleAssignment]] = {}
        for a in state.assignments:
            if a.directory_scope_id != "/":
                continue
            template = templates.get(a.role_definition_id.lower(), a.role_definition_id.lower())
            self.held.setdefault(a.principal_id, {})[template] = a
        # PIM eligibilities by (principal id, role template id).
        self.eligible: dict[tuple[str, str], RoleAssignment] = {
            (a.principal_id, templates.get(a.role_definition_id.lower(), a.role_definition_id.lower())): a
            for a in state.eligible if a.directory_scope_id == "/"}
        self._roles: dict[str, RoleDefinition] = {}

    def role(self, ref: str) -> RoleDefinition:
        found = self._roles.get(ref)
        if found is None:
            found = self._roles[ref] = resolve_role(ref, self.state.roles)
        return found

    def role_name(self, template_id: str) -> str:
        return self.role_names.get(template_id, template_id)

    def role_display_name(self, role_id: str) -> str | None:
        """The display name of the role a role definition or template id names: the tenant's,
        else the catalog's for a classic built-in role (when the roles were not read); None if
        unknown."""
        name = self.role_names.get(self.template(role_id))
        if name is None and not self.state.roles:
            classic = classic_for(role_id)
            name = classic.entra_name if classic else None
        return name

    def template(self, role_id: str) -> str:
        """The template id a role definition id stands for (itself for a built-in role)."""
        return self.templates.get(role_id.lower(), role_id.lower())

    def active(self, ref: str) -> User | None:
        return self.state.user(ref) or self.by_id.get(ref.lower())

    def require_active(self, ref: str) -> User:
        """The active user ``ref`` (UPN or object id) names; NotFound, saying what to do, if none."""
        user = self.active(ref)
        if user is None:
            if self.deleted(ref):
                raise NotFound(f"user {ref!r} is deleted; restore it first: provisioner users restore {ref}")
            raise NotFound(f"user {ref!r} not found in the tenant; check the name with: provisioner users list")
        return user

    def deleted(self, ref: str) -> list[DeletedUser]:
        by_id = self.deleted_by_id.get(ref.lower())
        return [by_id] if by_id else list(self.deleted_by_upn.get(ref.lower(), []))


def day(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def deleted_reason(d: DeletedUser, now: datetime) -> str:
    if d.expired(now):
        return f"deleted {day(d.deleted)}, window expired {day(d.expires)}"
    return f"deleted {day(d.deleted)}, {_days(d.days_left(now))} left"
