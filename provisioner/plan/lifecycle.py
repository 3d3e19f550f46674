"""The mover / leaver planner: update users' properties, rename them, set or remove their manager,
disable or enable them and sign them out. Pure: no I/O, deterministic.

Each edit becomes at most one UPDATE (every property that differs, as ``old -> new``, the rename
among them), one MANAGER change (its own request in Graph) and one SESSIONS change. What is
already so is a note. Problems no guardrail knows (a rename to an unverified domain or a taken
name, an unknown manager) refuse the whole plan, every one listed, before any write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from provisioner.changes import Action, Change
from provisioner.errors import Refused
from provisioner.model import TenantState, User
from provisioner.plan.imperative import Planned, finish
from provisioner.plan.index import Index


@dataclass(frozen=True)
class UserEdit:
    """What to change on one existing user. ``values`` uses Graph names; None clears a property.
    ``manager`` names the new manager (UPN or object id); ``clear_manager`` removes it."""

    ref: str
    values: Mapping[str, Any] = field(default_factory=dict)
    manager: str | None = None
    clear_manager: bool = False
    new_upn: str | None = None
    revoke_sessions: bool = False
    row: int | None = None
    licenses: tuple[str, ...] | None = None  # the direct licenses wanted (SKU references); None: kept

    @property
    def reason(self) -> str:
        return f"row {self.row}" if self.row is not None else "requested"


def plan_update(edits: Iterable[UserEdit], state: TenantState, *, verified_domains: Iterable[str] | None = None
                ) -> Planned:
    """Plan the edits. ``verified_domains`` (lower-cased) is needed when an edit renames a user;
    ``state.managers`` must hold the current manager of each user whose manager an edit sets."""
    index = Index(state)
    domains = {d.lower() for d in verified_domains or ()}
    changes: list[Change] = []
    notes: list[str] = []
    problems: list[str] = []
    seen: set[str] = set()
    names: dict[str, str] = {}  # new UPN (lower) -> the user taking it
    for edit in edits:
        user = index.require_active(edit.ref)
        upn = user.user_principal_name
        if user.id in seen:
            notes.append(f"{upn} is listed more than once; the first edit is planned")
            continue
        seen.add(user.id)
        current = user.writable()
        updates: dict[str, tuple[Any, Any]] = {}
        for key, new in edit.values.items():
            old = current.get(key)
            if key == "displayName" and not new:
                problems.append(f"{upn}: displayName cannot be cleared; give a new name")
            elif _differs(old, new):
                updates[key] = (old, new)
        if edit.new_upn:
            problem = _rename_problem(user, edit.new_upn, domains, state, names)
            if problem:
                problems.append(problem)
            elif edit.new_upn != upn:
                updates["userPrincipalName"] = (upn, edit.new_upn)
        planned = len(changes)
        if updates:
            changes.append(Change(Action.UPDATE, upn, user.id, updates=updates, reason=edit.reason))
        manager = _manager_change(user, edit, index, state, problems, notes)
        if manager is not None:
            changes.append(manager)
        # A disable signs the user out once: re-running it on a disabled user converges.
        if edit.revoke_sessions and ("accountEnabled" in updates or "accountEnabled" not in edit.values):
            changes.append(Change(Action.SESSIONS, upn, user.id, reason=edit.reason))
        if len(changes) == planned and (edit.values or edit.new_upn):
            notes.append(f"{upn} already has {_listed(edit)}; nothing to update")
    if problems:
        lines = [f"refused ({len(problems)} problem{'s' if len(problems) > 1 else ''}); nothing was written:"]
        raise Refused("\n".join(lines + [f"  - {p}" for p in problems]))
    return finish(changes, notes, state)


def _listed(edit: UserEdit) -> str:
    if set(edit.values) == {"accountEnabled"}:
        return "sign-in enabled" if edit.values["accountEnabled"] else "sign-in disabled"
    return "these values"


def _differs(old: Any, new: Any) -> bool:
    # Graph answers [] for no phone and null for an unset text; a clear of either is no change.
    if new in (None, []) and old in (None, [], ""):
        return False
    return old != new


def _rename_problem(user: User, new_upn: str, domains: set[str], state: TenantState,
                    names: dict[str, str]) -> str | None:
    upn = user.user_principal_name
    domain = new_upn.rsplit("@", 1)[-1].lower()
    if domain not in domains:
        listed = ", ".join(sorted(domains)) or "none"
        return (f"{upn} cannot be renamed to {new_upn}: {domain} is not a verified domain of the tenant "
                f"(verified: {listed}); verify it in the Entra admin center (Domain names) first")
    holder = state.user(new_upn)
    if holder is not None and holder.id != user.id:
        return f"{upn} cannot be renamed to {new_upn}: that name belongs to another user ({holder.id})"
    taker = names.setdefault(new_upn.lower(), upn)
    if taker != upn:
        return f"{new_upn} is asked for both {taker} and {upn}; give each user its own name"
    return None


def _manager_change(user: User, edit: UserEdit, index: Index, state: TenantState, problems: list[str],
                    notes: list[str]) -> Change | None:
    if not (edit.manager or edit.clear_manager):
        return None
    upn = user.user_principal_name
    if user.synced:
        problems.append(f"{upn} is synced from on-premises Active Directory (onPremisesSyncEnabled); set its "
                        "manager there and let Entra Connect sync it")
        return None
    old = state.managers.get(user.id.lower())
    old_upn = old.user_principal_name if old else None
    if edit.clear_manager:
        if old is None:
            notes.append(f"{upn} has no manager; nothing to remove")
            return None
        return Change(Action.MANAGER, upn, user.id, updates={"manager": (old_upn, None)}, reason=edit.reason)
    new = index.active(edit.manager or "")
    if new is None:
        problems.append(f"{upn}: manager {edit.manager} is not an active user of the tenant; check the name with: "
                        "provisioner users list")
        return None
    if new.id == user.id:
        problems.append(f"{upn} cannot be its own manager")
        return None
    if old is not None and old.id.lower() == new.id.lower():
        notes.append(f"{new.user_principal_name} is already the manager of {upn}; nothing to change")
        return None
    return Change(Action.MANAGER, upn, user.id, updates={"manager": (old_upn, new.user_principal_name)},
                  manager_id=new.id, reason=edit.reason)
