"""The leaver planner: password resets, and offboarding in one plan (L§7.3). Pure: no I/O,
deterministic.

A reset is one PASSWORD change (where the password comes from, never the password) and one
SESSIONS change. Offboarding is, per user and in this order: disable, revoke sessions, reset the
password to a random value nobody is shown, revoke every admin role (active and eligible), re-point its direct reports
to its own manager (if asked), remove its manager, remove the direct licenses (if asked) and soft
delete (if asked). What is already so is a note, so a
re-run converges; the guardrails (last Global Administrator, protected accounts, synced users)
judge the whole plan before the first write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from provisioner.changes import Action, Change, PasswordSource
from provisioner.errors import Refused
from provisioner.model import TenantState, User
from provisioner.plan.imperative import Planned, finish
from provisioner.plan.index import Index


def _users(refs: Iterable[str], index: Index, notes: list[str]) -> list[User]:
    """The active users named, each once (a second mention is a note)."""
    seen: set[str] = set()
    found: list[User] = []
    for ref in refs:
        user = index.require_active(ref)
        if user.id in seen:
            notes.append(f"{user.user_principal_name} is listed more than once; it is planned once")
            continue
        seen.add(user.id)
        found.append(user)
    return found


def plan_reset(refs: Iterable[str], state: TenantState, *, source: PasswordSource = PasswordSource.GENERATE,
               force_change: bool = True, revoke_sessions: bool = True, reason: str = "requested") -> Planned:
    """Reset each user's password (generated, supplied or random-and-unseen) and sign it out."""
    index = Index(state)
    changes: list[Change] = []
    notes: list[str] = []
    for user in _users(refs, index, notes):
        changes.append(Change(Action.PASSWORD, user.user_principal_name, user.id, password=source,
                              properties={"forceChangePasswordNextSignIn": force_change}, reason=reason))
        if revoke_sessions:
            changes.append(Change(Action.SESSIONS, user.user_principal_name, user.id, reason=reason))
    return finish(changes, notes, state)


@dataclass(frozen=True)
class Leaver:
    """What offboarding found about one user besides the state: its manager's UPN and object id
    (None: none), its direct licenses (skuId -> label) and its direct reports, read by the use case."""

    manager: str | None = None
    licenses: Mapping[str, str] | None = None
    manager_id: str | None = None
    reports: tuple[User, ...] = ()


def _reassign(leaver: User, found: Mapping[str, Leaver], leaving: set[str], notes: list[str]) -> list[Change]:
    """Each direct report of the leaver re-pointed to the leaver's manager (L§7.3 step 5): up the
    chain past managers who leave in the same plan; none left, the reports' manager is removed, so
    nobody keeps a departed manager. Synced reports are left to on-premises (a note)."""
    upn = leaver.user_principal_name
    new_upn, new_id = None, None
    here, seen = found.get(leaver.id.lower(), Leaver()), {leaver.id.lower()}
    while here.manager_id is not None and here.manager_id.lower() not in seen:
        if here.manager_id.lower() not in leaving:
            new_upn, new_id = here.manager, here.manager_id
            break
        seen.add(here.manager_id.lower())
        here = found.get(here.manager_id.lower(), Leaver())
    reports = [r for r in found.get(leaver.id.lower(), Leaver()).reports if r.id.lower() not in leaving]
    if reports and new_id is None:
        notes.append(f"{upn} has no manager who stays: its direct reports are left without a manager; give them one "
                     "with: provisioner users update USER --manager UPN")
    changes = []
    why = f"offboarding {upn}, their manager"
    for report in sorted(reports, key=lambda r: r.user_principal_name.lower()):
        if report.synced:
            notes.append(f"{report.user_principal_name} reports to {upn} but is synced from on-premises Active "
                         "Directory; re-point its manager there")
            continue
        if new_id is not None and report.id.lower() == new_id.lower():
            # Managers in a loop (the leaver's manager reports to the leaver): a user cannot manage itself
            # (Graph refuses it for good), so its departing manager is removed instead.
            notes.append(f"{report.user_principal_name} manages {upn} and reports to {upn} (a loop): it cannot "
                         "become its own manager, so its manager is removed; give it one with: provisioner users "
                         f"update {report.user_principal_name} --manager UPN")
            changes.append(Change(Action.MANAGER, report.user_principal_name, report.id,
                                  updates={"manager": (upn, None)}, reason=why))
            continue
        changes.append(Change(Action.MANAGER, report.user_principal_name, report.id,
                              updates={"manager": (upn, new_upn)}, manager_id=new_id, reason=why))
    return changes


def plan_offboard(refs: Sequence[str], state: TenantState, found: Mapping[str, Leaver], *,
                  remove_licenses: bool = False, delete: bool = False, reassign_reports: bool = False) -> Planned:
    """Plan the offboarding of each user named (``found`` is keyed by lower-cased object id)."""
    index = Index(state)
    changes: list[Change] = []
    notes: list[str] = []
    present = []
    for ref in refs:
        if index.active(ref) is None and index.deleted(ref):
            notes.append(f"{ref} is already deleted; nothing left to offboard")
        else:
            present.append(ref)
    leavers = _users(present, index, notes)
    synced = [u.user_principal_name for u in leavers if u.synced]
    if synced:
        lines = [f"refused ({len(synced)} problem{'s' if len(synced) > 1 else ''}); nothing was written:"]
        raise Refused("\n".join(lines + [
            f"  - {upn} is synced from on-premises Active Directory (onPremisesSyncEnabled); offboard it there "
            "(disable it, reset its password, delete it) and let Entra Connect sync it" for upn in synced]))
    leaving = {u.id.lower() for u in leavers}
    for user in leavers:
        upn, oid, why = user.user_principal_name, user.id, "offboarding"
        extra = found.get(oid.lower(), Leaver())
        if user.account_enabled:
            changes.append(Change(Action.UPDATE, upn, oid, updates={"accountEnabled": (True, False)}, reason=why))
        else:
            notes.append(f"{upn} is already disabled; sign-in stays blocked")
        changes.append(Change(Action.SESSIONS, upn, oid, reason=why))
        changes.append(Change(Action.PASSWORD, upn, oid, password=PasswordSource.HIDDEN,
                              properties={"forceChangePasswordNextSignIn": False}, reason=why))
        names = {d.id.lower(): d.display_name for d in state.roles}
        held = sorted((a for a in state.assignments if a.principal_id.lower() == oid.lower()),
                      key=lambda a: names.get(a.role_definition_id.lower(), a.role_definition_id))
        for a in held:
            changes.append(Change(Action.REVOKE, upn, oid, role_id=a.role_definition_id,
                                  role_name=names.get(a.role_definition_id.lower(), a.role_definition_id),
                                  assignment_id=a.id, reason=why))
        # Eligible (PIM) ones too: a leaver must not be able to activate a role later. Removed through
        # PIM (adminRemove), the only way an eligible assignment goes.
        eligible = sorted({(a.role_definition_id.lower(), a.id): a for a in state.eligible
                           if a.principal_id.lower() == oid.lower()}.values(),
                          key=lambda a: names.get(a.role_definition_id.lower(), a.role_definition_id))
        for a in eligible:
            changes.append(Change(Action.REVOKE, upn, oid, role_id=a.role_definition_id,
                                  role_name=names.get(a.role_definition_id.lower(), a.role_definition_id),
                                  assignment_id=a.id, eligible=True, through_pim=True, reason=why))
        if reassign_reports:
            changes += _reassign(user, found, leaving, notes)
        if extra.manager is not None:
            changes.append(Change(Action.MANAGER, upn, oid, updates={"manager": (extra.manager, None)}, reason=why))
        if remove_licenses and extra.licenses:
            ordered = sorted(extra.licenses.items(), key=lambda kv: kv[1])
            changes.append(Change(Action.LICENSE, upn, oid, updates={sku: ([], None) for sku, _ in ordered},
                                  properties=dict(ordered), reason=why))
        if delete:
            changes.append(Change(Action.DELETE, upn, oid, reason=why))
    return finish(changes, notes, state)
