"""The imperative planners: create, delete, restore, purge users; assign and revoke roles.

Each returns ``Planned``: the plan (only what is not already so, each change with its reason)
and notes, the human "already so, nothing to do" messages. Pure: no I/O, deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from provisioner.changes import Action, Change, PasswordSource, Plan
from provisioner.errors import NotFound, ProvisionerError
from provisioner.model import (
    DEFAULT_JUSTIFICATION,
    USER_WRITABLE,
    DeletedUser,
    Holding,
    RoleAssignment,
    RoleDefinition,
    TenantState,
    User,
    UserSpec,
)
from provisioner.passwords import mail_nickname
from provisioner.plan import expiry
from provisioner.plan.fingerprint import fingerprint
from provisioner.plan.index import Index, day, deleted_reason
from provisioner.roles.rules import template_of


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


class Problems:
    """Every row's problem, collected, so one run reports them all at once (with the spreadsheet row
    and column when the reference came from a file), before any write."""

    def __init__(self, rows: Mapping[str, int] | None = None):
        self.rows = {ref.lower(): row for ref, row in (rows or {}).items()}
        self.found: list[tuple[int | None, str, ProvisionerError]] = []

    def add(self, ref: str, error: ProvisionerError, *, row: int | None = None,
            column: str = "userPrincipalName") -> None:
        self.found.append((row if row is not None else self.rows.get(ref.lower()), column, error))

    def check(self) -> None:
        if not self.found:
            return
        if len(self.found) == 1 and self.found[0][0] is None:
            raise self.found[0][2]
        lines = [(f"row {row}, column {column}: " if row is not None else "") + str(e) for row, column, e in self.found]
        kinds = {type(e) for _, _, e in self.found}
        cls = kinds.pop() if len(kinds) == 1 else ProvisionerError
        count = f"{len(self.found)} problem{'s' if len(self.found) > 1 else ''}"
        raise cls("\n".join([f"{count} in the users named; nothing was written:", *(f"  {line}" for line in lines)]))


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


def create_change(spec: UserSpec, reason: str) -> Change:
    """The CREATE a spec asks for: its properties and where its password comes from."""
    return Change(Action.CREATE, spec.upn, properties=create_properties(spec), password=password_source(spec),
                  reason=reason)


def assign_change(upn: str, object_id: str | None, role: RoleDefinition, reason: str) -> Change:
    return Change(Action.ASSIGN, upn, object_id, role_id=role.template_id, role_name=role.display_name, reason=reason)


def plan_create(specs: Iterable[UserSpec], state: TenantState, *, update_existing: bool = False,
                verified_domains: set[str] | None = None) -> Planned:
    """Create the users that do not exist yet, and assign their roles (``spec.roles``).

    An existing user is not created again (noted); its missing roles are still assigned. When the
    input sets properties that differ from the existing user's, that is a problem naming each
    difference, or with ``update_existing`` an update. A deleted user with the same UPN still in its
    window is noted with the restore command, since restoring keeps its mailbox, licenses and groups.
    """
    index = Index(state)
    changes: list[Change] = []
    notes: list[str] = []
    problems = Problems()
    seen: set[str] = set()
    for spec in specs:
        key = spec.upn.lower()
        if key in seen:
            notes.append(f"{spec.upn} is listed more than once; planned once")
            continue
        seen.add(key)
        try:
            roles = [index.role(r) for r in spec.roles]
            aliases = {r.template_id: ref for r, ref in zip(roles, spec.roles, strict=True)}
        except ProvisionerError as e:
            problems.add(spec.upn, e, row=spec.row, column="roles")
            continue
        user = state.user(spec.upn)
        if user is not None:
            current = user.writable()
            differs = {k: (current[k], v) for k, v in spec.attributes.items() if k in current and current[k] != v}
            if differs and not update_existing:
                shown = "; ".join(f"{k} {old!r} -> {new!r}" for k, (old, new) in sorted(differs.items()))
                problems.add(spec.upn, ProvisionerError(
                    f"user {user.user_principal_name} already exists and differs: {shown}; update it with "
                    "--update-existing, or leave those values out"), row=spec.row)
                continue
            notes.append(f"user {user.user_principal_name} already exists (object id {user.id}); not created")
            if differs:
                changes.append(Change(Action.UPDATE, user.user_principal_name, user.id, updates=differs,
                                      reason="exists, with other values (--update-existing)"))
            try:
                changes += _assignments(user, roles, index, notes, aliases)
            except ProvisionerError as e:
                problems.add(spec.upn, e, row=spec.row, column="roles")
            continue
        domain = spec.upn.rsplit("@", 1)[-1].lower()
        if verified_domains is not None and domain not in verified_domains:
            problems.add(spec.upn, ProvisionerError(
                f"{domain} is not a verified domain of the tenant (verified: {', '.join(sorted(verified_domains))}); "
                "verify it in the Entra admin center, or use one of those"), row=spec.row)
            continue
        for d in index.deleted_by_upn.get(key, []):
            if not d.expired(state.now):
                notes.append(
                    f"a deleted user {d.original_upn} ({deleted_reason(d, state.now)}) could be restored "
                    f"instead, with its mailbox, licenses and groups: provisioner users restore {d.id}"
                )
        try:
            grants = [grant_change(spec.upn, None, r, state, Holding(), "requested for the new user",
                                   expiry.USERS_CREATE, aliases[r.template_id]) for r in roles]
        except ProvisionerError as e:
            problems.add(spec.upn, e, row=spec.row, column="roles")
            continue
        changes.append(create_change(spec, "not in the tenant"))
        changes += grants
    problems.check()
    return finish(changes, notes, state)


def _assignments(user: User, roles: Sequence[RoleDefinition], index: Index, notes: list[str],
                 aliases: Mapping[str, str]) -> list[Change]:
    changes: list[Change] = []
    held = index.held.get(user.id, {})
    for role in roles:
        if role.template_id.lower() in held:
            notes.append(f"{user.user_principal_name} already holds {role.display_name}; nothing to assign")
        else:
            changes.append(grant_change(user.user_principal_name, user.id, role, index.state, Holding(),
                                        "not held yet", expiry.USERS_CREATE, aliases[role.template_id]))
    return changes


def held_roles(user_id: str, index: Index) -> str:
    names = sorted(index.role_name(t) for t in index.held.get(user_id, {}))
    return "; holds " + ", ".join(names) if names else ""


def plan_delete(upns_or_ids: Sequence[str], state: TenantState, *, rows: Mapping[str, int] | None = None) -> Planned:
    """Soft-delete users (restorable for 30 days). An already deleted user is noted, not an error.
    ``rows`` maps a reference to the file row it came from, for the problems reported."""
    index = Index(state)
    changes: list[Change] = []
    notes: list[str] = []
    problems = Problems(rows)
    seen: set[str] = set()
    for ref in upns_or_ids:
        user = index.active(ref)
        if user is None:
            gone = index.deleted(ref)
            if not gone:
                problems.add(ref, _unknown_user(ref))
                continue
            notes.append(f"{gone[-1].original_upn} is already deleted (object id {gone[-1].id}); nothing to do")
            continue
        if user.id in seen:
            continue
        seen.add(user.id)
        reason = "soft delete, restorable for 30 days" + held_roles(user.id, index)
        changes.append(Change(Action.DELETE, user.user_principal_name, user.id, reason=reason))
    problems.check()
    return finish(changes, notes, state)


def _each_deleted(refs: Sequence[str], index: Index, problems: Problems, verb: str, *,
                  active: Callable[[str, User], None], missing: Callable[[str], None]) -> Iterator[DeletedUser]:
    """The deleted user each reference names, once each; a reference naming an active user, or
    nobody, is handed to ``active`` or ``missing``; one naming several deleted users is a problem."""
    seen: set[str] = set()
    for ref in refs:
        matches = index.deleted(ref)
        if not matches:
            user = index.active(ref)
            if user is not None:
                active(ref, user)
            else:
                missing(ref)
            continue
        try:
            d = _one_deleted(ref, matches, verb)
        except ProvisionerError as e:
            problems.add(ref, e)
            continue
        if d.id not in seen:
            seen.add(d.id)
            yield d


def plan_restore(
    refs: Sequence[str], state: TenantState, *, new_upn: str | None = None, auto_reconcile: bool = False,
    rows: Mapping[str, int] | None = None,
) -> Planned:
    """Restore deleted users, by object id or original UPN, optionally under ``new_upn`` and with
    conflicting proxy addresses dropped (``auto_reconcile``). A user already active is noted."""
    if new_upn and len(refs) > 1:
        raise ProvisionerError("a new user principal name applies to one user; restore the others separately")
    index = Index(state)
    notes: list[str] = []
    problems = Problems(rows)
    restorable = _each_deleted(
        refs, index, problems, "restore",
        active=lambda ref, user: notes.append(
            f"{user.user_principal_name} is active (object id {user.id}); nothing to restore"),
        missing=lambda ref: problems.add(ref, NotFound(
            f"no deleted user {ref!r}: it may have been purged or never existed; "
            "see the restorable users with: provisioner deleted list")),
    )
    changes = [Change(Action.RESTORE, d.original_upn, d.id, reason=deleted_reason(d, state.now),
                      new_upn=new_upn or None, auto_reconcile=auto_reconcile) for d in restorable]
    problems.check()
    return finish(changes, notes, state)


def plan_purge(refs: Sequence[str], state: TenantState, *, rows: Mapping[str, int] | None = None) -> Planned:
    """Permanently delete users that are already deleted. An active user is an error: delete first.
    A name that is neither active nor deleted is a note: a re-run after the purge converges."""
    index = Index(state)
    notes: list[str] = []
    problems = Problems(rows)
    purgeable = _each_deleted(
        refs, index, problems, "purge",
        active=lambda ref, user: problems.add(ref, ProvisionerError(
            f"{user.user_principal_name} is not deleted; purge only removes deleted users. "
            f"Delete it first: provisioner users delete {user.user_principal_name}")),
        missing=lambda ref: notes.append(
            f"{ref} is not among the deleted users (already purged, or never deleted); nothing to purge"),
    )
    changes = [Change(Action.PURGE, d.original_upn, d.id, reason=deleted_reason(d, state.now)) for d in purgeable]
    problems.check()
    return finish(changes, notes, state)


def _user_for_roles(ref: str, index: Index) -> User:
    user = index.active(ref)
    if user is None:
        if index.deleted(ref):
            raise NotFound(f"user {ref!r} is deleted; restore it first: provisioner users restore {ref}")
        raise _unknown_user(ref)
    return user


NO_PIM = ("{what} needs Microsoft Entra ID P2 (or Entra ID Governance) and this tenant has neither; "
          "assign it as a permanent active role instead (without --eligible, --until or --duration)")


def _eligible_held(state: TenantState) -> dict[str, dict[str, RoleAssignment]]:
    templates = template_of(state)
    held: dict[str, dict[str, RoleAssignment]] = {}
    for a in state.eligible:
        template = templates.get(a.role_definition_id.lower(), a.role_definition_id.lower())
        held.setdefault(a.principal_id, {})[template] = a
    return held


def _assign(upn: str, user: User, role: RoleDefinition, state: TenantState, holding: Holding,
            active: RoleAssignment | None, eligible: RoleAssignment | None, notes: list[str]) -> list[Change]:
    """The change granting ``role`` as ``holding`` says, or a note when it is already held that way."""
    if (holding.eligible or holding.time_bound) and state.pim is False:
        what = "an eligible assignment" if holding.eligible else "a time-bound assignment"
        raise ProvisionerError(NO_PIM.format(what=what))
    current = eligible if holding.eligible else active
    kind = "eligible for" if holding.eligible else "holds"
    if current is not None:
        how = f" ({current.describe()})" if state.pim else ""
        notes.append(f"{upn} already {kind} {role.display_name}{how}; nothing to assign")
        return []
    return [grant_change(upn, user.id, role, state, holding, "not held yet", expiry.ROLES_ASSIGN)]


def grant_change(upn: str, object_id: str | None, role: RoleDefinition, state: TenantState, holding: Holding,
                 reason: str, fix: str, alias: str = "") -> Change:
    """A grant of ``role`` as ``holding`` says: through PIM when the tenant has it, so that even an
    active one is not "outside PIM" (P§A2.4), and refused first when the role's expiry rule forbids it."""
    if not state.pim:
        return Change(Action.ASSIGN, upn, object_id, role_id=role.template_id, role_name=role.display_name,
                      reason=reason, eligible=holding.eligible, end=holding.end, duration=holding.duration,
                      justification=holding.justification)
    expiry.check(role, holding, state, fix, upn=upn, alias=alias)
    # PIM requires a justification on active assignments by default (Enablement_Admin_Assignment).
    justification = holding.justification or (None if holding.eligible else DEFAULT_JUSTIFICATION)
    return Change(Action.ASSIGN, upn, object_id, role_id=role.template_id, role_name=role.display_name,
                  reason=reason, eligible=holding.eligible, through_pim=True, end=holding.end,
                  duration=holding.duration, justification=justification)


def _revoke(upn: str, user: User, role: RoleDefinition, state: TenantState, holding: Holding,
            active: RoleAssignment | None, eligible: RoleAssignment | None, notes: list[str]) -> list[Change]:
    """The changes removing whichever kind of ``role`` the user holds (or the kind ``holding.which`` names)."""
    found = [(a, a is eligible) for a in (active, eligible) if a is not None
             and holding.which in (None, "eligible" if a is eligible else "active")]
    if not found:
        kind = {"eligible": " as eligible", "active": " as active"}.get(holding.which or "", "")
        notes.append(f"{upn} does not hold {role.display_name}{kind}; nothing to revoke")
    return [Change(Action.REVOKE, upn, user.id, role_id=role.template_id, role_name=role.display_name,
                   assignment_id=a.id, reason=f"held {a.describe()}" if state.pim else "currently held",
                   eligible=is_eligible,
                   # A direct assignment is deleted directly: PIM's adminRemove of one is not documented.
                   through_pim=is_eligible or bool(state.pim and a.outside_pim is False))
            for a, is_eligible in found]


def _role_changes(specs: Iterable[UserSpec], state: TenantState, assign: bool,
                  holding: Holding | None = None) -> Planned:
    holding = holding or Holding()
    index = Index(state)
    eligible_held = _eligible_held(state)
    changes: list[Change] = []
    notes: list[str] = []
    problems = Problems()
    done: set[tuple[str, str]] = set()
    for spec in specs:
        try:
            user = _user_for_roles(spec.upn, index)
        except ProvisionerError as e:
            problems.add(spec.upn, e, row=spec.row)
            continue
        held = index.held.get(user.id, {})
        for ref in spec.roles:
            try:
                role = index.role(ref)
                template = role.template_id.lower()
                if (user.id, template) in done:
                    continue
                done.add((user.id, template))
                plan = _assign if assign else _revoke
                changes += plan(user.user_principal_name, user, role, state, holding, held.get(template),
                                eligible_held.get(user.id, {}).get(template), notes)
            except ProvisionerError as e:
                problems.add(spec.upn, e, row=spec.row, column="roles")
    problems.check()
    return finish(changes, notes, state)


def plan_assign(user_ref: str, role_refs: Sequence[str], state: TenantState) -> Planned:
    """Assign roles to an active user; a role already held is noted, not planned again."""
    return _role_changes([UserSpec(user_ref, roles=tuple(role_refs))], state, assign=True)


def plan_revoke(user_ref: str, role_refs: Sequence[str], state: TenantState) -> Planned:
    """Revoke roles from an active user; a role not held is noted, not an error."""
    return _role_changes([UserSpec(user_ref, roles=tuple(role_refs))], state, assign=False)


def plan_assign_rows(specs: Iterable[UserSpec], state: TenantState, holding: Holding | None = None) -> Planned:
    """``plan_assign`` for many users at once (``--from FILE``): each spec's upn and roles."""
    return _role_changes(specs, state, assign=True, holding=holding)


def plan_revoke_rows(specs: Iterable[UserSpec], state: TenantState, holding: Holding | None = None) -> Planned:
    """``plan_revoke`` for many users at once (``--from FILE``): each spec's upn and roles."""
    return _role_changes(specs, state, assign=False, holding=holding)
