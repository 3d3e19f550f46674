"""The Graph request that makes each kind of change. Pure: the executor gives the object id the write
is about (a user this run created included) and, for a create or a password reset, the password."""

from __future__ import annotations

from collections.abc import Callable

from provisioner import queries
from provisioner.changes import Action, Change
from provisioner.graph import Request
from provisioner.planfile import RULE_TYPES


def write_request(c: Change, rid: str, target: str, password: Callable[[], str]) -> Request:
    """``target``: the user's object id (the principal's, for an ASSIGN)."""
    if c.action is Action.CREATE:
        return queries.create_user_request(rid, c.properties, password())
    if c.action is Action.UPDATE:
        return queries.update_user_request(rid, target, {k: new for k, (_, new) in c.updates.items()})
    if c.action is Action.MANAGER:
        return queries.set_manager_request(rid, target, c.manager_id)
    if c.action is Action.SESSIONS:
        return queries.revoke_sessions_request(rid, target)
    if c.action is Action.PASSWORD:
        return queries.reset_password_request(rid, target, password(),
                                            force_change=bool(c.properties.get("forceChangePasswordNextSignIn")))
    if c.action is Action.LICENSE:  # assignLicense always sends both arrays (L§6.3)
        add = {sku: new for sku, (_, new) in c.updates.items() if new is not None}
        remove = [sku for sku, (_, new) in c.updates.items() if new is None]
        return queries.assign_license_request(rid, target, add, remove)
    if c.action is Action.RESTORE:
        return queries.restore_user_request(rid, target, new_upn=c.new_upn, auto_reconcile=c.auto_reconcile)
    if c.action is Action.ASSIGN:
        if c.through_pim:
            return queries.schedule_request(rid, "adminAssign", target, c.role_id or "", eligible=c.eligible,
                                          end=c.end, duration=c.duration, justification=c.justification)
        return queries.assign_role_request(rid, target, c.role_id or "")
    if c.action is Action.RESCHEDULE:  # the new end of the assignment held; sent again, it converges
        return queries.schedule_request(rid, "adminUpdate", target, c.role_id or "", eligible=c.eligible,
                                      end=c.updates["endDateTime"][1], justification=c.justification)
    if c.action is Action.REVOKE:
        if c.through_pim:
            return queries.schedule_request(rid, "adminRemove", target, c.role_id or "", eligible=c.eligible)
        return queries.revoke_role_request(rid, c.assignment_id or "")
    if c.action is Action.DELETE:
        return queries.delete_user_request(rid, target)
    if c.action is Action.POLICY_RULE:  # a PATCH: sent again, it converges
        return queries.policy_rule_request(rid, c.policy_id or "", c.rule_id or "", RULE_TYPES[c.rule_id or ""],
                                         c.properties)
    return queries.purge_user_request(rid, target)
