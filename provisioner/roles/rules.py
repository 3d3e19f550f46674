"""Role rules the guardrails apply to a whole plan: above all, never leave a tenant without an
active Global Administrator (a tenant without one is locked out of its own administration)."""

from __future__ import annotations

from collections.abc import Iterable

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
    template id), "" when none; ``removes_active(change)``: whether a revoke's write takes away an
    active assignment.

    A direct revoke (no ``through_pim``) is ``DELETE /roleAssignments/{assignmentId}``: its principal
    and role are that assignment's (when the state holds it), whatever the change's other ids say. A
    PIM revoke (``adminRemove``) names the principal and the role itself: they are the change's.
    """

    def __init__(self, state: TenantState):
        self.templates = template_of(state)
        self.assignments = {a.id: a for a in state.assignments}

    def __call__(self, change: Change) -> tuple[str, str]:
        oid, role_id = (change.object_id or "").lower(), (change.role_id or "").lower()
        direct = change.action is Action.REVOKE and not change.through_pim
        a = self.assignments.get(change.assignment_id or "") if direct else None
        if a is not None:
            oid, role_id = a.principal_id.lower(), a.role_definition_id.lower()
        return oid, self.templates.get(role_id, role_id)

    @staticmethod
    def removes_active(change: Change) -> bool:
        """Whether a revoke's write removes an active assignment. Decided by the write, not by the
        change's ``eligible`` label: ``DELETE /roleAssignments/{id}`` only ever removes an active
        assignment (eligible ones are not role assignments, P§A1.5), and PIM's ``adminRemove`` removes
        the kind of the endpoint it is sent to (``roleAssignmentScheduleRequests`` unless eligible)."""
        return change.action is Action.REVOKE and (not change.through_pim or not change.eligible)


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
                or (template == GLOBAL_ADMIN_ID and self.written.removes_active(change)))


class Replacements:
    """A revoke of an active assignment that an eligible grant of the same run replaces (same principal,
    same role: a fix plan's or a manifest's change of kind) waits for that grant: ``kept(change)`` is
    why it must not be sent when the grant did not succeed (revoked anyway, the user would keep neither
    kind); ``done(change, principal)`` records each change that succeeded. Re-running converges."""

    def __init__(self, changes: Iterable[Change]):
        self.planned = {_pair(c) for c in changes if c.action is Action.ASSIGN and c.eligible}
        self.granted: set[tuple[str, str]] = set()

    def done(self, change: Change, principal: str | None) -> None:
        if change.action is Action.ASSIGN and change.eligible:  # granted, or already in place
            self.granted.add(_pair(change, principal))

    def kept(self, change: Change) -> str | None:
        pair = _pair(change)
        if not WrittenIds.removes_active(change) or pair not in self.planned or pair in self.granted:
            return None
        return (f"{change.role_name or change.role_id} was kept active for {change.upn}: the eligible assignment "
                "that replaces it was not granted, so the active one was not revoked")


def _pair(c: Change, principal: str | None = None) -> tuple[str, str]:
    """(principal, role), lower-cased: how a revoke finds the grant that replaces it."""
    return ((principal or c.object_id or c.upn).lower(), (c.role_id or "").lower())


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
        elif template == GLOBAL_ADMIN_ID and written.removes_active(change):
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
