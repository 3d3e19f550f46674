"""Guardrails: refuse a whole plan before its first write. Pure.

Every rule decides on ids (object ids, role template ids), never on the labels a change carries
(its UPN, its role name): a saved plan's labels can say one thing while its ids say another, and
the write goes to the id. Labels appear only in the messages, and there the tenant's own name for
the id is preferred. The one exception is a CREATE, which has no id yet: its UPN is its identity.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from provisioner.changes import Action, Change, Plan
from provisioner.errors import Refused
from provisioner.model import Policy, TenantState, User, format_datetime, parse_datetime
from provisioner.plan.expiry import iso_span
from provisioner.plan.index import Index, day
from provisioner.roles.catalog import GLOBAL_ADMIN_ID
from provisioner.roles.rules import (
    RemovesGlobalAdmin,
    WrittenIds,
    disables,
    global_admin_holders,
    removes_last_global_admin,
    template_of,
)

# The audit's default --expiring-within: an active Global Administrator ending sooner is "expiring".
EXPIRING_WITHIN = timedelta(days=7)
# A plan leaving only active Global Administrators that end sooner is refused: nobody could act tomorrow.
CANNOT_ACT = timedelta(hours=24)

_SYNCED = (
    "{upn} is synced from on-premises Active Directory (onPremisesSyncEnabled); delete it there, in "
    "Active Directory Users and Computers or with Remove-ADUser, and let Entra Connect sync the deletion"
)


def protected_ids(state: TenantState, policy: Policy) -> set[str]:
    """The lower-cased object ids of the protected accounts (config lists UPNs), active or deleted."""
    protected = {p.lower() for p in policy.protected}
    ids = {u.id.lower() for key, u in state.users.items() if key.lower() in protected}
    ids |= {d.id.lower() for d in state.deleted if d.original_upn.lower() in protected}
    return ids


def guardrails(plan: Plan, state: TenantState, policy: Policy) -> None:
    """Refuse the whole plan, before any write, listing every problem found (one per line).

    Refused: deleting or purging a directory-synced user, or updating one or resetting its password;
    deleting, purging, disabling, renaming, resetting the password of, revoking a role from or giving
    an end date to a role of a protected account; leaving no active Global Administrator, or only
    active ones whose assignments all end within 24 hours (``ends_too_soon``); more
    deletes (or purges) than ``policy.max_deletes`` unless ``policy.force``; restoring past the 30-day window;
    restoring to a user principal name another user holds.
    """
    index = Index(state)
    guarded = protected_ids(state, policy)
    written = WrittenIds(state)
    problems: list[str] = []
    targets: dict[str, str] = {}  # UPN taken by a create or restore in this plan -> object id or ""
    for c in plan.changes:
        oid = (c.object_id or "").lower()
        user = index.by_id.get(oid)
        deleted = index.deleted_by_id.get(oid)
        # For messages only: the tenant's name for the object, else the change's own label.
        name = user.user_principal_name if user else deleted.original_upn if deleted else c.upn
        if c.action in (Action.DELETE, Action.PURGE):
            synced = (user is not None and user.synced) or (
                c.action is Action.PURGE and deleted is not None and deleted.on_premises_sync_enabled is True
            )
            if synced:
                problems.append(_SYNCED.format(upn=name))
        if c.action is Action.PASSWORD and user is not None and user.synced:
            problems.append(f"{name} is synced from on-premises Active Directory (onPremisesSyncEnabled); reset its "
                            "password there (Active Directory Users and Computers or Set-ADAccountPassword)")
        if c.action is Action.UPDATE and user is not None and user.synced:
            problems.append(
                f"{name} is synced from on-premises Active Directory (onPremisesSyncEnabled); change "
                f"{', '.join(sorted(c.updates))} there and let Entra Connect sync it"
            )
        target, template = written(c)  # a revoke's target is the principal of the assignment it deletes
        harms = c.action in (Action.DELETE, Action.PURGE, Action.REVOKE, Action.PASSWORD) or (
            c.action is Action.UPDATE and (disables(c) or "userPrincipalName" in c.updates)) or (
            c.action is Action.RESCHEDULE and c.updates["endDateTime"][1] is not None)  # a demotion to come
        if harms and target in guarded:
            doing = {
                Action.DELETE: "deleting",
                Action.PURGE: "purging",
                Action.REVOKE: f"revoking {index.role_display_name(template) or template} from",
                Action.PASSWORD: "resetting the password of",
                Action.RESCHEDULE: f"giving an end date to {index.role_display_name(template) or template} of",
                Action.UPDATE: "disabling" if disables(c) else "renaming",
            }[c.action]
            who = index.by_id.get(target) or index.deleted_by_id.get(target)
            who_name = who.user_principal_name if isinstance(who, User) else who.original_upn if who else name
            problems.append(
                f"{doing} {who_name} is not allowed: it is a protected account (safety.protected_accounts); "
                "remove it from that list in the config if this is really intended"
            )
        if c.action is Action.RESTORE:
            if deleted is not None and deleted.expired(state.now):
                problems.append(
                    f"{name} cannot be restored: it was deleted {day(deleted.deleted)} and its 30-day restore "
                    f"window expired {day(deleted.expires)}; create it again instead"
                )
            # The name it comes back under: the one asked for, else its own original name.
            target = c.new_upn or (deleted.original_upn if deleted else None)
            holder = state.user(target) if target else None
            if target and holder is not None and holder.id.lower() != oid:
                problems.append(
                    f"{name} ({c.object_id}) cannot be restored as {target}: that name now belongs to "
                    f"another user ({holder.id}); restore it under another name with --new-upn"
                )
            if target:
                _claim(targets, target, oid, problems)
        if c.action is Action.CREATE:
            _claim(targets, c.upn, "", problems)
    culprits = removes_last_global_admin(plan, state)
    if culprits:
        what = "; ".join(_describe(c, index, written) for c in culprits)
        problems.append(
            f"this plan would leave the tenant without an active Global Administrator ({what}); assign "
            "Global Administrator to another active user first: provisioner roles assign USER global"
        )
    elif (soon := ends_too_soon(plan, state)) is not None:
        problems.append(soon)
    deletes = plan.count(Action.DELETE)
    if deletes > policy.max_deletes and not policy.force:
        problems.append(
            f"this plan deletes {deletes} users, more than safety.max_deletes ({policy.max_deletes}); "
            "check the plan, then rerun with --force or raise safety.max_deletes in the config"
        )
    purges = plan.count(Action.PURGE)
    if purges > policy.max_deletes and not policy.force:
        problems.append(
            f"this plan purges {purges} users, permanently, more than safety.max_deletes ({policy.max_deletes}); "
            "check the plan, then rerun with --force or raise safety.max_deletes in the config"
        )
    if problems:
        lines = [f"refused ({len(problems)} problem{'s' if len(problems) > 1 else ''}); nothing was written:"]
        raise Refused("\n".join(lines + [f"  - {p}" for p in problems]))


def _claim(targets: dict[str, str], upn: str, oid: str, problems: list[str]) -> None:
    key = upn.lower()
    if key in targets and targets[key] != oid:
        problems.append(f"{upn} is both created and restored, or restored twice, in this plan; keep one")
    targets.setdefault(key, oid)


def _describe(c: Change, index: Index, written: WrittenIds) -> str:
    user = index.by_id.get(written(c)[0])
    name = user.user_principal_name if user else c.upn
    if c.action is Action.REVOKE:
        return f"revoke Global Administrator from {name}"
    if c.action is Action.UPDATE:
        return f"disable {name}"
    return f"{c.action.value} {name}"


def warnings(plan: Plan, state: TenantState, within: timedelta = EXPIRING_WITHIN) -> list[str]:
    """What the review should hear but that does not block the plan: a plan removing a Global
    Administrator, or moving the end of an active one, that leaves only active ones whose assignments
    end within ``within`` (the others eligible or gone). None of them could act after that end; an
    eligible one can act only once it activates, which needs an active administrator when approval is
    on. The refusals (zero active Global Administrators, or only ones ending within ``CANNOT_ACT``) are
    ``guardrails``'. An end not read (PIM instances not given) counts as permanent."""
    ends = remaining_ends(plan, state)
    if not ends or any(end is None or end - state.now > within for end in ends.values()):
        return []
    return [f"warning: after this plan every active Global Administrator assignment ends within "
            f"{within.days} days ({_listed(ends, state)}); an eligible one can act only once activated. Give one "
            "a permanent or longer assignment first: provisioner roles assign USER global"]


def ends_too_soon(plan: Plan, state: TenantState) -> str | None:
    """The refusal of a plan after which every remaining active Global Administrator assignment ends
    within ``CANNOT_ACT`` (24 hours): by tomorrow nobody could administer the tenant, nor activate an
    eligible assignment whose activation needs approval."""
    ends = remaining_ends(plan, state)
    if not ends or any(end is None or end - state.now > CANNOT_ACT for end in ends.values()):
        return None
    return (f"this plan would leave only active Global Administrator assignments that end within 24 hours "
            f"({_listed(ends, state, exact=True)}); after that nobody could administer the tenant. Give one a "
            "permanent or longer assignment first: provisioner roles assign USER global")


def remaining_ends(plan: Plan, state: TenantState) -> dict[str, datetime | None]:
    """Each active Global Administrator left after a plan that removes one or moves the end of one
    (lower object id -> the latest end of its assignments, None: no end); empty for other plans."""
    removes = RemovesGlobalAdmin(state)
    written = WrittenIds(state)
    # An active Global Administrator assignment whose end the plan moves: its new end (None: permanent).
    moved = {written(c)[0]: parse_datetime(c.updates["endDateTime"][1]) for c in plan.changes
             if c.action is Action.RESCHEDULE and not c.eligible and written(c)[1] == GLOBAL_ADMIN_ID}
    if not any(removes(c) for c in plan.changes) and not moved:
        return {}
    now = state.now
    gone = {written(c)[0] for c in plan.changes if removes(c)}
    templates = template_of(state)
    holders = {oid.lower() for oid in global_admin_holders(state)}
    ends: dict[str, datetime | None] = {}  # remaining holder -> the latest end of its GA assignments
    for a in state.assignments:
        oid = a.principal_id.lower()
        is_ga = templates.get(a.role_definition_id.lower(), a.role_definition_id.lower()) == GLOBAL_ADMIN_ID
        if is_ga and a.directory_scope_id == "/" and oid in holders and oid not in gone:
            ends[oid] = _later(ends.get(oid, now), moved[oid] if oid in moved else parse_datetime(a.end))
    enabled = {u.id.lower() for u in state.users.values() if u.account_enabled}
    for c in plan.changes:
        oid, template = written(c)
        if c.action is Action.ASSIGN and template == GLOBAL_ADMIN_ID and not c.eligible and oid in enabled \
                and oid not in gone:
            span = iso_span(c.duration) if c.duration else None
            end = parse_datetime(c.end) if c.end else (now + span if span is not None else None)
            ends[oid] = _later(ends.get(oid, now), end)
    return ends


def _listed(ends: dict[str, datetime | None], state: TenantState, *, exact: bool = False) -> str:
    index = Index(state)
    return ", ".join(f"{index.by_id[oid].user_principal_name if oid in index.by_id else oid} "
                     + (f"at {format_datetime(end)}" if exact else f"on {day(end)}")
                     for oid, end in sorted(ends.items(), key=lambda kv: (kv[1], kv[0])) if end is not None)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    """The later of two ends, None (no end) being the latest."""
    return None if a is None or b is None else max(a, b)
