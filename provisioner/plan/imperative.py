"""The imperative planners: create, delete, restore, purge users; assign and revoke roles.

Each returns ``Planned``: the plan (only what is not already so, each change with its reason)
and notes, the human "already so, nothing to do" messages. Pure: no I/O, deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from provisioner.errors import NotFound, ProvisionerError
from provisioner.model import (
    USER_WRITABLE,
    Action,
    Change,
    DeletedUser,
    PasswordSource,
    Plan,
    RoleDefinition,
    TenantState,
    User,
    UserSpec,
)
from provisioner.passwords import mail_nickname
from provisioner.plan.fingerprint import fingerprint
from provisioner.plan.index import Index, day, deleted_reason


@dataclass(frozen=True)
class Planned:
    """A plan and the notes about what needs no change."""

    plan: Plan
    notes: tuple[str, ...] = ()


def finish(changes: Iterable[Change], notes: Iterable[str], state: TenantState) -> Planned:
    plan = Plan(changes=tuple(changes))
    return Planned(replace(plan, fingerprint=fingerprint(state, plan)), tuple(notes))


def _unknown_user(ref: str) -> NotFound:
    return NotFound(
        f"user {ref!r} not found in the tenant; check the name with: provisioner users list "
        "(a deleted user is listed by: provisioner deleted list)"
    )


def _one_deleted(ref: str, matches: list[DeletedUser], verb: str) -> DeletedUser:
    if len(matches) > 1:
        listed = ", ".join(f"{d.id} (deleted {day(d.deleted)})" for d in matches)
        raise ProvisionerError(
            f"{len(matches)} deleted users had the user principal name {ref}: {listed}; {verb} one by its object id"
        )
    return matches[0]


# --- imperative planners -----------------------------------------------------------------------


def create_properties(spec: UserSpec) -> dict[str, Any]:
    """A new user's Graph properties; the password is not one of them (see ``password_source``)."""
    attrs: dict[str, Any] = {
        "userPrincipalName": spec.upn,
        "displayName": spec.attributes.get("displayName") or spec.upn.rsplit("@", 1)[0],
        "accountEnabled": spec.attributes.get("accountEnabled", True),
        "mailNickname": spec.attributes.get("mailNickname") or mail_nickname(spec.upn),
    }
    for key in USER_WRITABLE:
        if key not in attrs and spec.attributes.get(key) is not None:
            attrs[key] = spec.attributes[key]
    return attrs


def password_source(spec: UserSpec) -> PasswordSource:
    # The plan only says where the password comes from; the secret itself never enters it.
    return PasswordSource.SUPPLIED if spec.password else PasswordSource.GENERATE


def assign_change(upn: str, object_id: str | None, role: RoleDefinition, reason: str) -> Change:
    return Change(Action.ASSIGN, upn, object_id, role_id=role.template_id, role_name=role.display_name, reason=reason)


def plan_create(specs: Iterable[UserSpec], state: TenantState) -> Planned:
    """Create the users that do not exist yet, and assign their roles (``spec.roles``).

    An existing user is not created again (noted); its missing roles are still assigned. A
    deleted user with the same UPN still in its window is noted with the restore command, since
    restoring keeps its mailbox, licenses and groups.
    """
    index = Index(state)
    changes: list[Change] = []
    notes: list[str] = []
    seen: set[str] = set()
    for spec in specs:
        key = spec.upn.lower()
        if key in seen:
            notes.append(f"{spec.upn} is listed more than once; planned once")
            continue
        seen.add(key)
        roles = [index.role(r) for r in spec.roles]
        user = state.user(spec.upn)
        if user is not None:
            notes.append(f"user {user.user_principal_name} already exists (object id {user.id}); not created")
            changes += _assignments(user, roles, index, notes)
            continue
        for d in index.deleted_by_upn.get(key, []):
            if not d.expired(state.now):
                notes.append(
                    f"a deleted user {d.original_upn} ({deleted_reason(d, state.now)}) could be restored "
                    f"instead, with its mailbox, licenses and groups: provisioner users restore {d.id}"
                )
        changes.append(
            Change(
                Action.CREATE,
                spec.upn,
                properties=create_properties(spec),
                password=password_source(spec),
                reason="not in the tenant",
            )
        )
        changes += [assign_change(spec.upn, None, r, "requested for the new user") for r in roles]
    return finish(changes, notes, state)


def _assignments(user: User, roles: Sequence[RoleDefinition], index: Index, notes: list[str]) -> list[Change]:
    changes: list[Change] = []
    held = index.held.get(user.id, {})
    for role in roles:
        if role.template_id.lower() in held:
            notes.append(f"{user.user_principal_name} already holds {role.display_name}; nothing to assign")
        else:
            changes.append(assign_change(user.user_principal_name, user.id, role, "not held yet"))
    return changes


def held_roles(user_id: str, index: Index) -> str:
    names = sorted(index.role_name(t) for t in index.held.get(user_id, {}))
    return "; holds " + ", ".join(names) if names else ""


def plan_delete(upns_or_ids: Sequence[str], state: TenantState) -> Planned:
    """Soft-delete users (restorable for 30 days). An already deleted user is noted, not an error."""
    index = Index(state)
    changes: list[Change] = []
    notes: list[str] = []
    seen: set[str] = set()
    for ref in upns_or_ids:
        user = index.active(ref)
        if user is None:
            gone = index.deleted(ref)
            if not gone:
                raise _unknown_user(ref)
            notes.append(f"{gone[-1].original_upn} is already deleted (object id {gone[-1].id}); nothing to do")
            continue
        if user.id in seen:
            continue
        seen.add(user.id)
        reason = "soft delete, restorable for 30 days" + held_roles(user.id, index)
        changes.append(Change(Action.DELETE, user.user_principal_name, user.id, reason=reason))
    return finish(changes, notes, state)


def plan_restore(
    refs: Sequence[str], state: TenantState, *, new_upn: str | None = None, auto_reconcile: bool = False
) -> Planned:
    """Restore deleted users, by object id or original UPN, optionally under ``new_upn`` and with
    conflicting proxy addresses dropped (``auto_reconcile``). A user already active is noted."""
    if new_upn and len(refs) > 1:
        raise ProvisionerError("a new user principal name applies to one user; restore the others separately")
    index = Index(state)
    changes: list[Change] = []
    notes: list[str] = []
    seen: set[str] = set()
    for ref in refs:
        matches = index.deleted(ref)
        if not matches:
            user = index.active(ref)
            if user is None:
                raise NotFound(
                    f"no deleted user {ref!r}: it may have been purged or never existed; "
                    "see the restorable users with: provisioner deleted list"
                )
            notes.append(f"{user.user_principal_name} is active (object id {user.id}); nothing to restore")
            continue
        d = _one_deleted(ref, matches, "restore")
        if d.id in seen:
            continue
        seen.add(d.id)
        changes.append(
            Change(
                Action.RESTORE,
                d.original_upn,
                d.id,
                reason=deleted_reason(d, state.now),
                new_upn=new_upn or None,
                auto_reconcile=auto_reconcile,
            )
        )
    return finish(changes, notes, state)


def plan_purge(refs: Sequence[str], state: TenantState) -> Planned:
    """Permanently delete users that are already deleted. An active user is an error: delete first.
    A name that is neither active nor deleted is a note: a re-run after the purge converges."""
    index = Index(state)
    changes: list[Change] = []
    notes: list[str] = []
    seen: set[str] = set()
    for ref in refs:
        matches = index.deleted(ref)
        if not matches:
            user = index.active(ref)
            if user is not None:
                raise ProvisionerError(
                    f"{user.user_principal_name} is not deleted; purge only removes deleted users. "
                    f"Delete it first: provisioner users delete {user.user_principal_name}"
                )
            notes.append(f"{ref} is not among the deleted users (already purged, or never deleted); nothing to purge")
            continue
        d = _one_deleted(ref, matches, "purge")
        if d.id not in seen:
            seen.add(d.id)
            changes.append(Change(Action.PURGE, d.original_upn, d.id, reason=deleted_reason(d, state.now)))
    return finish(changes, notes, state)


def _user_for_roles(ref: str, index: Index) -> User:
    user = index.active(ref)
    if user is None:
        if index.deleted(ref):
            raise NotFound(f"user {ref!r} is deleted; restore it first: provisioner users restore {ref}")
        raise _unknown_user(ref)
    return user


def _role_changes(pairs: Iterable[tuple[str, Sequence[str]]], state: TenantState, assign: bool) -> Planned:
    index = Index(state)
    changes: list[Change] = []
    notes: list[str] = []
    done: set[tuple[str, str]] = set()
    for user_ref, role_refs in pairs:
        user = _user_for_roles(user_ref, index)
        held = index.held.get(user.id, {})
        for ref in role_refs:
            role = index.role(ref)
            template = role.template_id.lower()
            if (user.id, template) in done:
                continue
            done.add((user.id, template))
            upn = user.user_principal_name
            if assign:
                if template in held:
                    notes.append(f"{upn} already holds {role.display_name}; nothing to assign")
                else:
                    changes.append(assign_change(upn, user.id, role, "not held yet"))
            elif template not in held:
                notes.append(f"{upn} does not hold {role.display_name}; nothing to revoke")
            else:
                changes.append(
                    Change(
                        Action.REVOKE,
                        upn,
                        user.id,
                        role_id=role.template_id,
                        role_name=role.display_name,
                        assignment_id=held[template].id,
                        reason="currently held",
                    )
                )
    return finish(changes, notes, state)


def plan_assign(user_ref: str, role_refs: Sequence[str], state: TenantState) -> Planned:
    """Assign roles to an active user; a role already held is noted, not planned again."""
    return _role_changes([(user_ref, role_refs)], state, assign=True)


def plan_revoke(user_ref: str, role_refs: Sequence[str], state: TenantState) -> Planned:
    """Revoke roles from an active user; a role not held is noted, not an error."""
    return _role_changes([(user_ref, role_refs)], state, assign=False)


def plan_assign_rows(specs: Iterable[UserSpec], state: TenantState) -> Planned:
    """``plan_assign`` for many users at once (``--from FILE``): each spec's upn and roles."""
    return _role_changes(((s.upn, s.roles) for s in specs), state, assign=True)


def plan_revoke_rows(specs: Iterable[UserSpec], state: TenantState) -> Planned:
    """``plan_revoke`` for many users at once (``--from FILE``): each spec's upn and roles."""
    return _role_changes(((s.upn, s.roles) for s in specs), state, assign=False)
