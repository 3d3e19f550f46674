"""The declarative planner: the changes that make the tenant match a manifest. Pure."""

from __future__ import annotations

from typing import Any

from provisioner.changes import Action, Change
from provisioner.errors import ProvisionerError
from provisioner.model import (
    USER_WRITABLE,
    DeletedUser,
    Holding,
    Manifest,
    RoleAssignment,
    RoleDefinition,
    TenantState,
    User,
    UserSpec,
)
from provisioner.plan import ends, expiry
from provisioner.plan.imperative import (
    DEFAULT_JUSTIFICATION,
    NO_PIM,
    Planned,
    assign_change,
    create_change,
    finish,
    held_roles,
)
from provisioner.plan.index import Index, day, deleted_reason


def diff(desired: Manifest, state: TenantState, *, prune: bool = False) -> Planned:
    """The changes that make the tenant match a manifest, within the manifest's scope.

    - A listed user missing from the tenant is restored when a deleted user with that original
      UPN is still in its window (the most recently deleted one), else created.
    - Attributes are compared only where the manifest sets them (``USER_WRITABLE``).
    - Of the managed roles, each listed user ends up holding exactly the ones listed, of the kind
      listed (eligible or active) and ending when listed (``ends``); roles the manifest does not
      manage are left alone (a listed unmanaged role is assigned, never revoked nor rescheduled).
    - With ``prune``, active users in the scope's domains who are not listed are deleted; synced
      and protected ones are planned too, so the guardrails refuse them loudly.
    """
    index = Index(state)
    now = state.now
    managed = {index.role(r).template_id.lower() for r in desired.managed_roles}
    scope = {d.lower() for d in desired.scope_domains} or {s.upn.rsplit("@", 1)[-1].lower() for s in desired.users}
    changes: list[Change] = []
    notes: list[str] = []
    listed: set[str] = set()
    for spec in desired.users:
        key = spec.upn.lower()
        listed.add(key)
        wanted = {r.template_id.lower(): r for r in (index.role(ref) for ref in spec.roles)}
        user = state.user(spec.upn)
        if user is not None:
            changes += _converge_user(user, spec, wanted, managed, index, notes)
            if index.deleted_by_upn.get(key):
                notes.append(
                    f"{user.user_principal_name} is active, so the deleted user with the same name "
                    f"({index.deleted_by_upn[key][-1].id}) cannot be restored under it; it stays deleted"
                )
            continue
        candidates = [d for d in index.deleted_by_upn.get(key, []) if not d.expired(now)]
        if candidates:
            d = candidates[-1]
            if len(candidates) > 1:
                notes.append(
                    f"{len(candidates)} deleted users had the name {spec.upn}; restoring the most recently "
                    f"deleted one ({d.id})"
                )
            changes += _restore_for(spec, d, wanted, index)
            continue
        for d in index.deleted_by_upn.get(key, []):
            notes.append(
                f"a deleted user {d.original_upn} ({d.id}) can no longer be restored "
                f"(window expired {day(d.expires)}); a new user is created"
            )
        changes.append(create_change(spec, "in the manifest, not in the tenant"))
        kinds = _kinds(spec, index)
        changes += [pim_assign_change(spec.upn, None, r, "in the manifest", kinds.get(t, Holding()), state)
                    for t, r in wanted.items()]
    if prune:
        for user in sorted(state.users.values(), key=lambda u: u.user_principal_name.lower()):
            upn = user.user_principal_name
            domain = upn.rsplit("@", 1)[-1].lower()
            if domain in scope and upn.lower() not in listed:
                reason = f"in scope ({domain}), not in the manifest; pruned" + held_roles(user.id, index)
                changes.append(Change(Action.DELETE, upn, user.id, reason=reason))
    return finish(changes, notes, state)


def _converge_user(
    user: User, spec: UserSpec, wanted: dict[str, RoleDefinition], managed: set[str], index: Index, notes: list[str]
) -> list[Change]:
    changes: list[Change] = []
    upn = user.user_principal_name
    current = user.writable()
    updates = {
        key: (current[key], spec.attributes[key])
        for key in USER_WRITABLE
        if key in spec.attributes and current[key] != spec.attributes[key]
    }
    if updates:
        changes.append(Change(Action.UPDATE, upn, user.id, updates=updates, reason="differs from the manifest"))
    held = index.held.get(user.id, {})
    eligible = {t: a for (p, t), a in index.eligible.items() if p == user.id}
    kinds = _kinds(spec, index)
    refs = {index.role(ref).template_id.lower(): ref for ref in spec.roles}
    for template, role in wanted.items():
        holding = kinds.get(template, Holding())
        have = eligible.get(template) if holding.eligible else held.get(template)
        if have is None:
            changes.append(pim_assign_change(upn, user.id, role, "in the manifest", holding, index.state))
        elif template in managed:  # held as listed: its end too, where the manifest decides the role
            moved, said = ends.reschedule(upn, user.id, role, have, holding, index.state, refs[template])
            changes += moved
            notes += said
        # The other kind of the same role, when the manifest manages it: converge to the kind listed.
        other = held.get(template) if holding.eligible else eligible.get(template)
        if other is not None and template in managed and (holding.eligible or index.state.pim):
            changes.append(revoke_change(upn, user.id, template, index, other,
                                         f"the manifest gives it {'eligible' if holding.eligible else 'active'}"))
    for template, assignment in sorted(eligible.items()):
        if template in managed and template not in wanted and spec.roles_given:
            changes.append(revoke_change(upn, user.id, template, index, assignment,
                                         "a managed role the manifest does not give this user"))
    for template, assignment in sorted(held.items()):
        if template in managed and template not in wanted and spec.roles_given:
            changes.append(revoke_change(upn, user.id, template, index, assignment,
                                         "a managed role the manifest does not give this user"))
    return changes


def _restore_for(spec: UserSpec, d: DeletedUser, wanted: dict[str, RoleDefinition], index: Index) -> list[Change]:
    now = index.state.now
    reason = deleted_reason(d, now) + "; restored instead of created anew"
    changes = [Change(Action.RESTORE, d.original_upn, d.id, reason=reason)]
    # A deleted user's other properties are not read, so every set one is written after the
    # restore (old value unknown); the display name is known and compared.
    updates: dict[str, tuple[Any, Any]] = {}
    for key in USER_WRITABLE:
        if key not in spec.attributes:
            continue
        old = d.display_name if key == "displayName" else None
        if old != spec.attributes[key]:
            updates[key] = (old, spec.attributes[key])
    if updates:
        changes.append(
            Change(Action.UPDATE, d.original_upn, d.id, updates=updates, reason="set by the manifest after restore")
        )
    held = index.held.get(d.id, {})
    changes += [assign_change(d.original_upn, d.id, r, "in the manifest") for t, r in wanted.items() if t not in held]
    return changes


def _kinds(spec: UserSpec, index: Index) -> dict[str, Holding]:
    """How the spec wants each role held, by role template id (unlisted: active, permanent)."""
    return {index.role(ref).template_id.lower(): h for ref, h in spec.holdings.items()}


def pim_assign_change(upn: str, object_id: str | None, role: RoleDefinition, reason: str, holding: Holding,
                      state: TenantState) -> Change:
    """An assignment as the manifest lists it: through PIM when the tenant has it (P§A1-A2)."""
    if (holding.eligible or holding.time_bound) and state.pim is False:
        raise ProvisionerError(NO_PIM.format(what=f"{role.display_name} for {upn}: an eligible or time-bound "
                                                  "assignment").replace(" (without --eligible, --until or --duration)",
                                                                        " (a plain role name in the manifest)"))
    if not (holding.eligible or holding.time_bound or state.pim):
        return assign_change(upn, object_id, role, reason)
    expiry.check(role, holding, state, expiry.MANIFEST)
    justification = holding.justification or (None if holding.eligible else DEFAULT_JUSTIFICATION)
    return Change(Action.ASSIGN, upn, object_id, role_id=role.template_id, role_name=role.display_name,
                  reason=reason, eligible=holding.eligible, through_pim=True, end=holding.end,
                  duration=holding.duration, justification=justification)


def revoke_change(upn: str, object_id: str, template: str, index: Index, held: RoleAssignment,
                  reason: str) -> Change:
    return Change(Action.REVOKE, upn, object_id, role_id=template, role_name=index.role_name(template),
                  assignment_id=held.id, reason=reason, eligible=held.eligible,
                  through_pim=held.eligible or bool(index.state.pim and held.outside_pim is False))
