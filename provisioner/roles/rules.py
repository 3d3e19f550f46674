"""Role rules the guardrails apply to a whole plan: above all, never leave a tenant without an
active Global Administrator (a tenant without one is locked out of its own administration)."""

from __future__ import annotations

from provisioner.changes import Action, Change, Plan
from provisioner.model import TenantState
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
    """Object ids of active, enabled users holding Global Administrator actively (the state's
    ``assignments``; eligible holders, in ``eligible``, cannot act until they activate).

    Groups, service principals, deleted and disabled users are not counted: none of them is an
    administrator who can sign in and repair the tenant.
    """
    assigned = holders(state, GLOBAL_ADMIN_ID)
    return {u.id for u in state.users.values() if u.id in assigned and u.account_enabled}


class WrittenIds:
    """What a change's write touches, by id: ``ids(change)`` is the lower-cased (object id, role
    template id), "" when none.

    A revoke deletes an assignment by its id, so its principal and role are that assignment's
    (when the state holds it), whatever the change's other ids say.
    """

    def __init__(self, state: TenantState):
        self.templates = template_of(state)
        self.assignments = {a.id: a for a in state.assignments}

    def __call__(self, change: Change) -> tuple[str, str]:
        oid, role_id = (change.object_id or "").lower(), (change.role_id or "").lower()
        a = self.assignments.get(change.assignment_id or "") if change.action is Action.REVOKE else None
        if a is not None:
            oid, role_id = a.principal_id.lower(), a.role_definition_id.lower()
        return oid, self.templates.get(role_id, role_id)


class RemovesGlobalAdmin:
    """``removes(change)``: whether the change's write can take away an active Global Administrator
    (delete, purge or disable a holder, revoke Global Administrator). Such writes run last, one at a
    time, each after a fresh read of the holders: two commands can each see two holders and each
    remove one (Graph has no transactions)."""

    def __init__(self, state: TenantState):
        self.current = {oid.lower() for oid in global_admin_holders(state)}
        self.written = WrittenIds(state)

    def __call__(self, change: Change) -> bool:
        oid, template = self.written(change)
        if oid not in self.current:
            return False
        return (change.action in (Action.DELETE, Action.PURGE)
                or (change.action is Action.UPDATE and disables(change))
                or (change.action is Action.REVOKE and template == GLOBAL_ADMIN_ID and not change.eligible))


def removes_last_global_admin(plan: Plan, state: TenantState) -> list[Change]:
    """The changes that together would leave no active Global Administrator; empty when safe.

    The plan is judged as a whole, so revoking two of two holders is caught even though each
    revoke alone would leave one. Removing means revoking Global Administrator, deleting or
    purging a holder, or disabling one. A Global Administrator assignment in the same plan counts
    as a remaining holder only when it goes to an existing, enabled user the plan does not also
    remove: a user still to be created or restored may fail to appear, and the check must hold
    even if that step fails. Judged on ids only (``WrittenIds``), never on names.
    """
    current = {oid.lower() for oid in global_admin_holders(state)}
    removing: list[Change] = []
    removed: set[str] = set()
    gone: set[str] = set()
    added: set[str] = set()
    enabled_ids = {u.id.lower() for u in state.users.values() if u.account_enabled}
    written = WrittenIds(state)
    for change in plan.changes:
        oid, template = written(change)
        if change.action in (Action.DELETE, Action.PURGE) or (change.action is Action.UPDATE and disables(change)):
            gone.add(oid)
        elif change.action is Action.REVOKE and template == GLOBAL_ADMIN_ID and not change.eligible:
            pass
        # Only an active assignment can act: an eligible one must first be activated (P§A1.5).
        elif (change.action is Action.ASSIGN and template == GLOBAL_ADMIN_ID and oid in enabled_ids
              and not change.eligible):
            added.add(oid)
            continue
        else:
            continue
        if oid in current:
            removing.append(change)
            removed.add(oid)
    if not removing or (current - removed) | (added - gone - removed):
        return []
    return removing


def disables(change: Change) -> bool:
    old_new = change.updates.get("accountEnabled")
    return old_new is not None and old_new[1] is False
