"""Planning: what to change, refused or not, and how it reads. Pure: no I/O, deterministic.

Every planner returns ``Planned``: the plan (only what is not already so, each change with its
reason) and notes, the human "already so, nothing to do" messages. ``guardrails`` refuses a whole
plan before the first write; ``fingerprint`` digests the tenant state a plan depends on so a saved
plan can be checked for staleness; rendering lives in ``provisioner.render``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from provisioner.errors import NotFound, ProvisionerError, Refused
from provisioner.model import (
    USER_WRITABLE,
    Action,
    Change,
    DeletedUser,
    Manifest,
    Plan,
    Policy,
    RoleAssignment,
    RoleDefinition,
    TenantState,
    User,
    UserSpec,
)
from provisioner.passwords import mail_nickname
from provisioner.roles.catalog import GLOBAL_ADMIN_ID, resolve_role
from provisioner.roles.rules import holders, removes_last_global_admin, template_of

__all__ = [
    "Planned",
    "diff",
    "fingerprint",
    "guardrails",
    "plan_assign",
    "plan_assign_rows",
    "plan_create",
    "plan_delete",
    "plan_purge",
    "plan_restore",
    "plan_revoke",
    "plan_revoke_rows",
]


@dataclass(frozen=True)
class Planned:
    """A plan and the notes about what needs no change."""

    plan: Plan
    notes: tuple[str, ...] = ()


# --- reading the state -------------------------------------------------------------------------


class _Index:
    """Look-ups over a TenantState, built once per plan."""

    def __init__(self, state: TenantState):
        self.state = state
        self.by_id = {u.id.lower(): u for u in state.users.values()}
        self.deleted_by_id = {d.id.lower(): d for d in state.deleted}
        self.deleted_by_upn: dict[str, list[DeletedUser]] = {}
        for d in sorted(state.deleted, key=lambda d: (d.deleted, d.id)):
            self.deleted_by_upn.setdefault(d.original_upn.lower(), []).append(d)
        self.templates = templates = template_of(state)
        self.role_names = {d.template_id.lower(): d.display_name for d in state.roles}
        self.held: dict[str, dict[str, RoleAssignment]] = {}
        for a in state.assignments:
            if a.directory_scope_id != "/":
                continue
            template = templates.get(a.role_definition_id.lower(), a.role_definition_id.lower())
            self.held.setdefault(a.principal_id, {})[template] = a
        self._roles: dict[str, RoleDefinition] = {}

    def role(self, ref: str) -> RoleDefinition:
        found = self._roles.get(ref)
        if found is None:
            found = self._roles[ref] = resolve_role(ref, self.state.roles)
        return found

    def role_name(self, template_id: str) -> str:
        return self.role_names.get(template_id, template_id)

    def active(self, ref: str) -> User | None:
        return self.state.user(ref) or self.by_id.get(ref.lower())

    def deleted(self, ref: str) -> list[DeletedUser]:
        by_id = self.deleted_by_id.get(ref.lower())
        return [by_id] if by_id else list(self.deleted_by_upn.get(ref.lower(), []))


def _day(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def _deleted_reason(d: DeletedUser, now: datetime) -> str:
    if d.expired(now):
        return f"deleted {_day(d.deleted)}, window expired {_day(d.expires)}"
    return f"deleted {_day(d.deleted)}, {_days(d.days_left(now))} left"


def _finish(changes: Iterable[Change], notes: Iterable[str], state: TenantState) -> Planned:
    plan = Plan(changes=tuple(changes))
    return Planned(replace(plan, fingerprint=fingerprint(state, plan)), tuple(notes))


def _unknown_user(ref: str) -> NotFound:
    return NotFound(
        f"user {ref!r} not found in the tenant; check the name with: provisioner users list "
        "(a deleted user is listed by: provisioner deleted list)"
    )


def _one_deleted(ref: str, matches: list[DeletedUser], verb: str) -> DeletedUser:
    if len(matches) > 1:
        listed = ", ".join(f"{d.id} (deleted {_day(d.deleted)})" for d in matches)
        raise ProvisionerError(
            f"{len(matches)} deleted users had the user principal name {ref}: {listed}; {verb} one by its object id"
        )
    return matches[0]


# --- imperative planners -----------------------------------------------------------------------


def _create_attributes(spec: UserSpec) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "userPrincipalName": spec.upn,
        "displayName": spec.attributes.get("displayName") or spec.upn.rsplit("@", 1)[0],
        "accountEnabled": spec.attributes.get("accountEnabled", True),
        "mailNickname": spec.attributes.get("mailNickname") or mail_nickname(spec.upn),
    }
    for key in USER_WRITABLE:
        if key not in attrs and spec.attributes.get(key) is not None:
            attrs[key] = spec.attributes[key]
    # The plan only says where the password comes from; the secret itself never enters it.
    attrs["passwordProfile"] = "supplied" if spec.password else "generate"
    return attrs


def _assign(upn: str, object_id: str | None, role: RoleDefinition, reason: str) -> Change:
    return Change(Action.ASSIGN, upn, object_id, role_id=role.template_id, role_name=role.display_name, reason=reason)


def plan_create(specs: Iterable[UserSpec], state: TenantState) -> Planned:
    """Create the users that do not exist yet, and assign their roles (``spec.roles``).

    An existing user is not created again (noted); its missing roles are still assigned. A
    deleted user with the same UPN still in its window is noted with the restore command, since
    restoring keeps its mailbox, licenses and groups.
    """
    index = _Index(state)
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
                    f"a deleted user {d.original_upn} ({_deleted_reason(d, state.now)}) could be restored "
                    f"instead, with its mailbox, licenses and groups: provisioner users restore {d.id}"
                )
        changes.append(Change(Action.CREATE, spec.upn, attributes=_create_attributes(spec), reason="not in the tenant"))
        changes += [_assign(spec.upn, None, r, "requested for the new user") for r in roles]
    return _finish(changes, notes, state)


def _assignments(user: User, roles: Sequence[RoleDefinition], index: _Index, notes: list[str]) -> list[Change]:
    changes: list[Change] = []
    held = index.held.get(user.id, {})
    for role in roles:
        if role.template_id.lower() in held:
            notes.append(f"{user.user_principal_name} already holds {role.display_name}; nothing to assign")
        else:
            changes.append(_assign(user.user_principal_name, user.id, role, "not held yet"))
    return changes


def _held_roles(user_id: str, index: _Index) -> str:
    names = sorted(index.role_name(t) for t in index.held.get(user_id, {}))
    return "; holds " + ", ".join(names) if names else ""


def plan_delete(upns_or_ids: Sequence[str], state: TenantState) -> Planned:
    """Soft-delete users (restorable for 30 days). An already deleted user is noted, not an error."""
    index = _Index(state)
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
        reason = "soft delete, restorable for 30 days" + _held_roles(user.id, index)
        changes.append(Change(Action.DELETE, user.user_principal_name, user.id, reason=reason))
    return _finish(changes, notes, state)


def plan_restore(
    refs: Sequence[str], state: TenantState, *, new_upn: str | None = None, auto_reconcile: bool = False
) -> Planned:
    """Restore deleted users, by object id or original UPN, optionally under ``new_upn`` and with
    conflicting proxy addresses dropped (``auto_reconcile``). A user already active is noted."""
    if new_upn and len(refs) > 1:
        raise ProvisionerError("a new user principal name applies to one user; restore the others separately")
    index = _Index(state)
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
        options: dict[str, Any] = {}
        if new_upn:
            options["newUserPrincipalName"] = new_upn
        if auto_reconcile:
            options["autoReconcileProxyConflict"] = True
        changes.append(Change(Action.RESTORE, d.original_upn, d.id, options, reason=_deleted_reason(d, state.now)))
    return _finish(changes, notes, state)


def plan_purge(refs: Sequence[str], state: TenantState) -> Planned:
    """Permanently delete users that are already deleted. An active user is an error: delete first."""
    index = _Index(state)
    changes: list[Change] = []
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
            raise NotFound(f"no deleted user {ref!r}: it may already be purged; see: provisioner deleted list")
        d = _one_deleted(ref, matches, "purge")
        if d.id not in seen:
            seen.add(d.id)
            changes.append(Change(Action.PURGE, d.original_upn, d.id, reason=_deleted_reason(d, state.now)))
    return _finish(changes, [], state)


def _user_for_roles(ref: str, index: _Index) -> User:
    user = index.active(ref)
    if user is None:
        if index.deleted(ref):
            raise NotFound(f"user {ref!r} is deleted; restore it first: provisioner users restore {ref}")
        raise _unknown_user(ref)
    return user


def _role_changes(pairs: Iterable[tuple[str, Sequence[str]]], state: TenantState, assign: bool) -> Planned:
    index = _Index(state)
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
                    changes.append(_assign(upn, user.id, role, "not held yet"))
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
    return _finish(changes, notes, state)


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


# --- declarative ------------------------------------------------------------------------------


def diff(desired: Manifest, state: TenantState, *, prune: bool = False) -> Planned:
    """The changes that make the tenant match a manifest, within the manifest's scope.

    - A listed user missing from the tenant is restored when a deleted user with that original
      UPN is still in its window (the most recently deleted one), else created.
    - Attributes are compared only where the manifest sets them (``USER_WRITABLE``).
    - Of the managed roles, each listed user ends up holding exactly the ones listed; roles the
      manifest does not manage are left alone (a listed unmanaged role is assigned, never revoked).
    - With ``prune``, active users in the scope's domains who are not listed are deleted; synced
      and protected ones are planned too, so the guardrails refuse them loudly.
    """
    index = _Index(state)
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
            changes += _converge_user(user, spec, wanted, managed, index)
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
                f"(window expired {_day(d.expires)}); a new user is created"
            )
        changes.append(
            Change(
                Action.CREATE,
                spec.upn,
                attributes=_create_attributes(spec),
                reason="in the manifest, not in the tenant",
            )
        )
        changes += [_assign(spec.upn, None, r, "in the manifest") for r in wanted.values()]
    if prune:
        for user in sorted(state.users.values(), key=lambda u: u.user_principal_name.lower()):
            upn = user.user_principal_name
            domain = upn.rsplit("@", 1)[-1].lower()
            if domain in scope and upn.lower() not in listed:
                reason = f"in scope ({domain}), not in the manifest; pruned" + _held_roles(user.id, index)
                changes.append(Change(Action.DELETE, upn, user.id, reason=reason))
    return _finish(changes, notes, state)


def _converge_user(
    user: User, spec: UserSpec, wanted: dict[str, RoleDefinition], managed: set[str], index: _Index
) -> list[Change]:
    changes: list[Change] = []
    upn = user.user_principal_name
    current = user.writable()
    updates = {
        key: [current[key], spec.attributes[key]]
        for key in USER_WRITABLE
        if key in spec.attributes and current[key] != spec.attributes[key]
    }
    if updates:
        changes.append(Change(Action.UPDATE, upn, user.id, updates, reason="differs from the manifest"))
    held = index.held.get(user.id, {})
    for template, role in wanted.items():
        if template not in held:
            changes.append(_assign(upn, user.id, role, "in the manifest"))
    for template, assignment in sorted(held.items()):
        if template in managed and template not in wanted:
            changes.append(
                Change(
                    Action.REVOKE,
                    upn,
                    user.id,
                    role_id=template,
                    role_name=index.role_name(template),
                    assignment_id=assignment.id,
                    reason="a managed role the manifest does not give this user",
                )
            )
    return changes


def _restore_for(spec: UserSpec, d: DeletedUser, wanted: dict[str, RoleDefinition], index: _Index) -> list[Change]:
    now = index.state.now
    reason = _deleted_reason(d, now) + "; restored instead of created anew"
    changes = [Change(Action.RESTORE, d.original_upn, d.id, reason=reason)]
    # A deleted user's other properties are not read, so every set one is written after the
    # restore (old value unknown); the display name is known and compared.
    updates: dict[str, list[Any]] = {}
    for key in USER_WRITABLE:
        if key not in spec.attributes:
            continue
        old = d.display_name if key == "displayName" else None
        if old != spec.attributes[key]:
            updates[key] = [old, spec.attributes[key]]
    if updates:
        changes.append(Change(Action.UPDATE, d.original_upn, d.id, updates, reason="set by the manifest after restore"))
    held = index.held.get(d.id, {})
    changes += [_assign(d.original_upn, d.id, r, "in the manifest") for t, r in wanted.items() if t not in held]
    return changes


# --- guardrails --------------------------------------------------------------------------------

_SYNCED = (
    "{upn} is synced from on-premises Active Directory (onPremisesSyncEnabled); delete it there, in "
    "Active Directory Users and Computers or with Remove-ADUser, and let Entra Connect sync the deletion"
)


def guardrails(plan: Plan, state: TenantState, policy: Policy) -> None:
    """Refuse the whole plan, before any write, listing every problem found (one per line).

    Refused: deleting or purging a directory-synced user, or updating one; deleting, purging or
    revoking a role from a protected account; leaving no active Global Administrator; more
    deletes than ``policy.max_deletes`` unless ``policy.force``; restoring past the 30-day window;
    restoring to a user principal name another user holds.
    """
    index = _Index(state)
    protected = {p.lower() for p in policy.protected}
    problems: list[str] = []
    targets: dict[str, str] = {}  # UPN taken by a create or restore in this plan -> object id or ""
    for c in plan.changes:
        oid = (c.object_id or "").lower()
        user = index.by_id.get(oid)
        deleted = index.deleted_by_id.get(oid)
        if c.action in (Action.DELETE, Action.PURGE):
            synced = (user is not None and user.synced) or (
                c.action is Action.PURGE and deleted is not None and deleted.on_premises_sync_enabled is True
            )
            if synced:
                problems.append(_SYNCED.format(upn=c.upn))
        if c.action is Action.UPDATE and user is not None and user.synced:
            problems.append(
                f"{c.upn} is synced from on-premises Active Directory (onPremisesSyncEnabled); change "
                f"{', '.join(sorted(c.attributes))} there and let Entra Connect sync it"
            )
        if c.action in (Action.DELETE, Action.PURGE, Action.REVOKE) and c.upn.lower() in protected:
            doing = {
                Action.DELETE: "deleting",
                Action.PURGE: "purging",
                Action.REVOKE: f"revoking {c.role_name or c.role_id} from",
            }[c.action]
            problems.append(
                f"{doing} {c.upn} is not allowed: it is a protected account (safety.protected_accounts); "
                "remove it from that list in the config if this is really intended"
            )
        if c.action is Action.RESTORE:
            if deleted is not None and deleted.expired(state.now):
                problems.append(
                    f"{c.upn} cannot be restored: it was deleted {_day(deleted.deleted)} and its 30-day restore "
                    f"window expired {_day(deleted.expires)}; create it again instead"
                )
            target = str(c.attributes.get("newUserPrincipalName") or c.upn)
            holder = state.user(target)
            if holder is not None and holder.id.lower() != oid:
                problems.append(
                    f"{c.upn} ({c.object_id}) cannot be restored as {target}: that name now belongs to "
                    f"another user ({holder.id}); restore it under another name with --new-upn"
                )
            _claim(targets, target, oid, c, problems)
        if c.action is Action.CREATE:
            _claim(targets, c.upn, "", c, problems)
    culprits = removes_last_global_admin(plan, state)
    if culprits:
        what = "; ".join(_describe(c) for c in culprits)
        problems.append(
            f"this plan would leave the tenant without an active Global Administrator ({what}); assign "
            "Global Administrator to another active user first: provisioner roles assign USER global"
        )
    deletes = plan.count(Action.DELETE)
    if deletes > policy.max_deletes and not policy.force:
        problems.append(
            f"this plan deletes {deletes} users, more than safety.max_deletes ({policy.max_deletes}); "
            "check the plan, then rerun with --force or raise safety.max_deletes in the config"
        )
    if problems:
        lines = [f"refused ({len(problems)} problem{'s' if len(problems) > 1 else ''}); nothing was written:"]
        raise Refused("\n".join(lines + [f"  - {p}" for p in problems]))


def _claim(targets: dict[str, str], upn: str, oid: str, c: Change, problems: list[str]) -> None:
    key = upn.lower()
    if key in targets and targets[key] != oid:
        problems.append(f"{upn} is both created and restored, or restored twice, in this plan; keep one")
    targets.setdefault(key, oid)


def _describe(c: Change) -> str:
    if c.action is Action.REVOKE:
        return f"revoke {c.role_name or 'Global Administrator'} from {c.upn}"
    if c.action is Action.UPDATE:
        return f"disable {c.upn}"
    return f"{c.action.value} {c.upn}"


# --- fingerprint --------------------------------------------------------------------------------


def fingerprint(state: TenantState, plan: Plan) -> str:
    """A sha256 over the parts of the tenant state the plan depends on.

    Covers, for every user the plan names (by UPN, by object id, and any new UPN of a restore):
    the active user's properties or its absence, the matching deleted users, their role
    assignments; and every Global Administrator assignment, which the guardrails read. The clock
    is left out, so the same tenant gives the same digest later.
    """
    index = _Index(state)
    upns: set[str] = set()
    ids: set[str] = set()
    for c in plan.changes:
        upns.add(c.upn.lower())
        if c.object_id:
            ids.add(c.object_id.lower())
        new_upn = c.attributes.get("newUserPrincipalName") if c.action is Action.RESTORE else None
        if isinstance(new_upn, str):
            upns.add(new_upn.lower())
    # A UPN stands for the id it names (or none); each id's properties are digested once.
    upn_ids: dict[str, str | None] = {}
    for upn in upns:
        user = state.user(upn)
        upn_ids[upn] = user.id.lower() if user is not None else None
        if user is not None:
            ids.add(user.id.lower())
    users = {oid: _user_digest(index.by_id.get(oid)) for oid in ids}
    deleted = sorted(
        [d.id, d.user_principal_name, d.deleted.isoformat(), d.on_premises_sync_enabled]
        for d in state.deleted
        if d.id.lower() in ids or d.original_upn.lower() in upns
    )
    ga_principals = holders(state, GLOBAL_ADMIN_ID)
    assignments = sorted(
        [a.id, a.principal_id, a.role_definition_id, a.directory_scope_id]
        for a in state.assignments
        if a.principal_id.lower() in ids or (a.principal_id in ga_principals and _is_ga(a, index))
    )
    ga_users = [_user_digest(index.by_id.get(p.lower())) or p for p in sorted(ga_principals)]
    payload = {"upns": upn_ids, "users": users, "deleted": deleted, "assignments": assignments,
               "globalAdmins": ga_users}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _is_ga(a: RoleAssignment, index: _Index) -> bool:
    return index.templates.get(a.role_definition_id.lower(), a.role_definition_id.lower()) == GLOBAL_ADMIN_ID


def _user_digest(user: User | None) -> Any:
    if user is None:
        return None
    g = user.to_graph()
    g.pop("createdDateTime", None)
    return g
