"""Role rules the guardrails apply to a whole plan: above all, never leave a tenant without an
active Global Administrator (a tenant without one is locked out of its own administration)."""

from __future__ import annotations

from provisioner.model import Action, Change, Plan, TenantState
from provisioner.roles.catalog import GLOBAL_ADMIN_ID


def template_of(state: TenantState) -> dict[str, str]:
    """Role definition id -> template id (equal for built-in roles; custom roles differ)."""
    return {d.id.lower(): d.template_id.lower() for d in state.roles}


def holders(state: TenantState, template_id: str) -> set[str]:
    """Principal ids assigned the role with this template id, tenant-wide, whatever they are."""
    templates = template_of(state)
    wanted = template_id.lower()
    return {
        a.principal_id
        for a in state.assignments
        if templates.get(a.role_definition_id.lower(), a.role_definition_id.lower()) == wanted
        and a.directory_scope_id == "/"
    }


def global_admin_holders(state: TenantState) -> set[str]:
    """Object ids of active, enabled users holding Global Administrator.

    Groups, service principals, deleted and disabled users are not counted: none of them is an
    administrator who can sign in and repair the tenant.
    """
    assigned = holders(state, GLOBAL_ADMIN_ID)
    return {u.id for u in state.users.values() if u.id in assigned and u.account_enabled}


def removes_last_global_admin(plan: Plan, state: TenantState) -> list[Change]:
    """The changes that together would leave no active Global Administrator; empty when safe.

    The plan is judged as a whole, so revoking two of two holders is caught even though each
    revoke alone would leave one. Removing means revoking Global Administrator, deleting or
    purging a holder, or disabling one. A Global Administrator assignment in the same plan counts
    as a remaining holder only when it goes to an existing, enabled user the plan does not also
    remove: a user still to be created or restored may fail to appear, and the check must hold
    even if that step fails.
    """
    current = global_admin_holders(state)
    removing: list[Change] = []
    removed: set[str] = set()
    for change in plan.changes:
        oid = change.object_id
        if oid is None or oid not in current:
            continue
        if (
            (change.action is Action.REVOKE and (change.role_id or "").lower() == GLOBAL_ADMIN_ID)
            or change.action in (Action.DELETE, Action.PURGE)
            or (change.action is Action.UPDATE and _disables(change))
        ):
            removing.append(change)
            removed.add(oid)
    if not removing:
        return []
    enabled_ids = {u.id for u in state.users.values() if u.account_enabled}
    gone = removed | {
        c.object_id
        for c in plan.changes
        if c.object_id and (c.action in (Action.DELETE, Action.PURGE) or (c.action is Action.UPDATE and _disables(c)))
    }
    added = {
        c.object_id
        for c in plan.changes
        if c.action is Action.ASSIGN
        and (c.role_id or "").lower() == GLOBAL_ADMIN_ID
        and c.object_id in enabled_ids
        and c.object_id not in gone
    }
    if (current - removed) | added:
        return []
    return removing


def _disables(change: Change) -> bool:
    value = change.attributes.get("accountEnabled")
    return isinstance(value, list | tuple) and len(value) == 2 and value[1] is False
