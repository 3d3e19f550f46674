"""The license planner: add and remove users' direct licenses within the seats the tenant has.
Pure: no I/O, deterministic.

Each user gets at most one LICENSE change (one ``assignLicense`` call: every SKU added and removed
at once, L§6.3); its ``updates`` map skuId -> (disabled plan ids held before or None, after or
None), its ``properties`` map the ids to the names people read. Refused before any write, every
problem listed: more seats needed than are free (L§6.1), a user without a usage location when none
is given (L§6.5; given, it is set by an UPDATE earlier in the same plan), removing a license that
only a group gives (L§6.7). A saved plan meets the same rules again when it is applied
(``saved_problems``): seats another user took since are not free any more. The three planners
keep their count in one ``Ledger``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from provisioner.changes import Action, Change, Plan
from provisioner.errors import ExitCode, Refused
from provisioner.licenses import PRODUCT_NAMES, Sku
from provisioner.model import DeletedUser, TenantState, User
from provisioner.plan.fingerprint import fingerprint
from provisioner.plan.imperative import Planned, finish
from provisioner.plan.index import Index


@dataclass(frozen=True)
class Held:
    """One license a user holds: its disabled plans, whether it is assigned directly (else only
    through a group), and whether a group gives it too (removing the direct one then frees no seat:
    the user still takes one through the group, L§6.7)."""

    disabled: tuple[str, ...] = ()
    direct: bool = True
    by_group: bool = False


# How the admin gives a user the usage location a license needs, in the words of the command at
# hand ({upn}: the user): the problem is worded once (``Ledger.need_location``), the fix is the command's.
GIVE_WITH_FLAG = "give one with --usage-location CC (a two-letter country code)"
GIVE_WITH_INPUT = ("give one with it (usageLocation in a file or manifest, --usage-location on the command line: "
                   "two letters, like US)")
SET_AND_PLAN_AGAIN = ("set one (provisioner users update {upn} --usage-location US, two letters) and make the "
                      "plan again")
# A user the saved plan creates does not exist yet: ``users update`` cannot reach it.
GIVE_AND_PLAN_AGAIN = ("give it one where the plan came from (usageLocation in the file or manifest: two letters, "
                       "like US) and make the plan again")


@dataclass
class Ledger:
    """One count of what a plan does to the tenant's licenses: the seats it needs and frees per SKU,
    the seats the users it restores take back (L§6.9), where each user's usage location comes from,
    and the problems found, each worded once."""

    skus: Mapping[str, Sku]  # skuId -> the tenant's SKU
    created: Mapping[str, Change] = field(default_factory=dict)  # lower-cased UPN -> the plan's CREATE
    located: Mapping[str, str | None] = field(default_factory=dict)  # object id -> the plan's UPDATE's location
    restored: frozenset[str] = frozenset()  # object ids the plan restores
    restoring: Counter[str] = field(default_factory=Counter)
    needed: Counter[str] = field(default_factory=Counter)
    freed: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, skus: Iterable[Sku], plan: Plan | None = None,
           returning: Mapping[str, Mapping[str, Held]] | None = None) -> Ledger:
        """The ledger of the tenant's SKUs, knowing what ``plan`` (if any) creates, restores and
        sets; ``returning``: the licenses the users it restores held (lower-cased object id)."""
        changes = plan.changes if plan is not None else ()
        restored = frozenset(c.object_id.lower() for c in changes if c.action is Action.RESTORE and c.object_id)
        return cls(
            skus={s.id: s for s in skus},
            created={c.upn.lower(): c for c in changes if c.action is Action.CREATE},
            located={c.object_id.lower(): c.updates["usageLocation"][1] for c in changes
                     if c.action is Action.UPDATE and c.object_id and "usageLocation" in c.updates},
            restored=restored,
            restoring=Counter(sku for oid in restored for sku in (returning or {}).get(oid, {})),
        )

    def name(self, sku: str) -> str:
        return self.skus[sku].part_number if sku in self.skus else sku

    def usage_location_of(self, user: User | None, upn: str) -> str | None:
        """Where a user's usage location comes from: an UPDATE of the same plan (it runs first),
        else the user's own; a user the plan creates, its create's."""
        if user is not None:
            return self.located.get(user.id.lower(), user.usage_location)
        new = self.created.get(upn.lower())
        return new.properties.get("usageLocation") if new is not None else None

    def add(self, sku: str, current: Held | None) -> None:
        self.needed[sku] += current is None  # a license a group already gives takes no second seat

    def remove(self, upn: str, sku: str, current: Held) -> bool:
        """Count a removal of a license held; False (a problem) when only a group gives it (L§6.7)."""
        if not current.direct:
            self.problems.append(f"{upn} gets {self.name(sku)} from a group: it cannot be removed from the user; "
                                 "remove the user from that group (or the license from the group) instead")
            return False
        self.freed[sku] += not current.by_group
        return True

    def need_location(self, user: User | None, upn: str, reason: str, fix: str) -> None:
        """A problem, unless the user gets a license with a usage location (L§6.5): ``fix`` says how."""
        if not self.usage_location_of(user, upn):
            row = f" ({reason})" if reason.startswith("row ") else ""
            self.problems.append(f"{upn}{row} has no usage location, which a license needs; {fix.format(upn=upn)}")

    def all_problems(self) -> list[str]:
        """The problems found, then one line per SKU the plan needs more free seats of than the
        tenant has (L§6.1): the seats restored users take back count too (L§6.9: they come back even
        past the limit, so it is the plan's additions that would fail); only a SKU the plan adds is judged."""
        seats = []
        for sku, n in sorted(self.needed.items()):
            s, back = self.skus[sku], self.restoring[sku]
            if n and n + back - self.freed[sku] > s.free:
                name = PRODUCT_NAMES.get(s.part_number)
                why = f" ({back} of them taken back by restored users)" if back else ""
                seats.append(f"{s.part_number}{f' ({name})' if name else ''}: {n + back - self.freed[sku]} seat(s) "
                             f"needed{why}, {s.free} free ({s.enabled} enabled, {s.consumed} consumed); free seats "
                             "first or buy more")
        return self.problems + seats


@dataclass(frozen=True)
class LicenseEdit:
    """Licenses to add (skuId -> disabled plan ids) and remove (skuIds) for one user."""

    ref: str
    add: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    usage_location: str | None = None
    reason: str = "requested"


def plan_licenses(edits: Iterable[LicenseEdit], state: TenantState, skus: Iterable[Sku],
                  held: Mapping[str, Mapping[str, Held]]) -> Planned:
    """Plan the edits; ``held`` is keyed by lower-cased object id, then skuId."""
    index = Index(state)
    ledger = Ledger.of(skus)
    changes: list[Change] = []
    notes: list[str] = []
    seen: set[str] = set()
    for edit in edits:
        user = index.require_active(edit.ref)
        upn, oid = user.user_principal_name, user.id
        if oid in seen:
            notes.append(f"{upn} is listed more than once; the first edit is planned")
            continue
        seen.add(oid)
        has = held.get(oid.lower(), {})
        updates: dict[str, tuple[list[str] | None, list[str] | None]] = {}
        labels: dict[str, str] = {}
        for sku, disabled in edit.add.items():
            current = has.get(sku)
            name = ledger.name(sku)
            if current is not None and current.direct and sorted(current.disabled) == sorted(disabled):
                notes.append(f"{upn} already has {name}; nothing to add")
                continue
            updates[sku] = (list(current.disabled) if current and current.direct else None, sorted(disabled))
            labels[sku] = name
            labels.update({p.id: p.name for p in ledger.skus[sku].plans if p.id in disabled})
            ledger.add(sku, current)
        for sku in edit.remove:
            current = has.get(sku)
            if current is None:
                notes.append(f"{upn} does not have {ledger.name(sku)}; nothing to remove")
            elif ledger.remove(upn, sku, current):
                updates[sku], labels[sku] = (list(current.disabled), None), ledger.name(sku)
        if any(new is not None for _, new in updates.values()):
            if edit.usage_location and not user.usage_location:
                changes.append(Change(Action.UPDATE, upn, oid, updates={"usageLocation": (None, edit.usage_location)},
                                      reason=f"{edit.reason}; a license needs a usage location"))
            else:
                ledger.need_location(user, upn, edit.reason, GIVE_WITH_FLAG)
        if updates:
            changes.append(Change(Action.LICENSE, upn, oid, updates=updates, properties=labels, reason=edit.reason))
    refuse(ledger.all_problems())
    return _finish(changes, notes, state, held)


class BadLicenseNames(Refused):
    """The input names a license the tenant does not have: a usage error, listed with every other problem."""

    exit_code = ExitCode.USAGE


def refuse(problems: list[str], *, bad_input: bool = False) -> None:
    """Every problem at once, nothing written; ``bad_input``: some are the input's own (exit 64)."""
    if problems:
        lines = [f"refused ({len(problems)} problem{'s' if len(problems) > 1 else ''}); nothing was written:"]
        raise (BadLicenseNames if bad_input else Refused)("\n".join(lines + [f"  - {p}" for p in problems]))


@dataclass(frozen=True)
class Wanted:
    """The direct licenses one user of a create, update or sync should end up with (skuIds): the
    missing ones are added, and with ``exact`` the direct ones not listed are removed."""

    ref: str  # UPN or object id, as the input names the user
    skus: tuple[str, ...]
    exact: bool = True
    reason: str = "requested"


def add_wanted(planned: Planned, wanted: Iterable[Wanted], state: TenantState, skus: Iterable[Sku],
               held: Mapping[str, Mapping[str, Held]], *,
               returning: Mapping[str, Mapping[str, Held]] | None = None, unknown: Iterable[str] = ()) -> Planned:
    """``planned`` (a create, update or sync plan) with the LICENSE changes that give each user the
    direct licenses it wants; ``held`` is keyed by lower-cased object id, then skuId; ``returning``
    likewise, the licenses of the users the plan restores (they take their seats back first);
    ``unknown``: the input's license names the tenant does not have, listed first with the rest.

    A license a group gives counts as held (nothing to add, and it is never removed). A user the
    plan creates is licensed after its create (no object id yet); one the plan restores gets its
    licenses back with the restore (L§6.9), so it is left to the next run. The usage location a
    license needs may come from the plan itself (the create's properties, or an UPDATE setting
    it, which runs first). Refused before any write, every problem listed: no usage location,
    more seats needed than are free.
    """
    index = Index(state)
    plan = planned.plan
    ledger = Ledger.of(skus, plan, returning)
    unknown = tuple(unknown)
    ledger.problems.extend(unknown)
    changes: list[Change] = []
    notes: list[str] = []
    seen: set[str] = set()
    for w in wanted:
        user = index.active(w.ref)
        if user is None and w.ref.lower() not in ledger.created:
            continue  # the plan said what became of it (deleted, unknown, restored)
        upn = user.user_principal_name if user is not None else ledger.created[w.ref.lower()].upn
        oid = user.id if user is not None else None
        if (oid or upn).lower() in seen:
            continue
        seen.add((oid or upn).lower())
        if oid is not None and oid.lower() in ledger.restored:
            notes.append(f"{upn} is restored with the licenses it had; the next run converges them")
            continue
        has = held.get(oid.lower(), {}) if oid else {}
        add = [s for s in dict.fromkeys(w.skus) if s not in has]
        remove = sorted(s for s, h in has.items() if w.exact and h.direct and s not in w.skus)
        if not add and not remove:
            continue
        if add:
            ledger.need_location(user, upn, w.reason, GIVE_WITH_INPUT)
        updates: dict[str, tuple[list[str] | None, list[str] | None]] = {}
        for sku in add:
            updates[sku] = (None, [])
            ledger.add(sku, None)
        for sku in remove:
            updates[sku] = (list(has[sku].disabled), None)
            ledger.remove(upn, sku, has[sku])
        labels = {sku: ledger.name(sku) for sku in updates}
        changes.append(Change(Action.LICENSE, upn, oid, updates=updates, properties=labels, reason=w.reason))
    refuse(ledger.all_problems(), bad_input=bool(unknown))
    if not changes:
        return Planned(plan, planned.notes + tuple(notes))
    return _finish((*plan.changes, *changes), (*planned.notes, *notes), state, held)


def _finish(changes: Iterable[Change], notes: Iterable[str], state: TenantState,
            held: Mapping[str, Mapping[str, Held]]) -> Planned:
    """The plan, with a fingerprint that covers the licenses its users hold (``apply`` reads them again)."""
    planned = finish(changes, notes, state)
    return Planned(replace(planned.plan, fingerprint=fingerprint(state, planned.plan, held)), planned.notes)


def saved_problems(plan: Plan, state: TenantState, skus: Iterable[Sku], held: Mapping[str, Mapping[str, Held]],
                   returning: Mapping[str, Mapping[str, Held]] | None = None) -> list[str]:
    """The license guardrails once more, for a saved plan about to be applied (``held`` as read
    then): the seats its additions need against the seats free now, which another user may have
    taken since the plan was made (L§6.1); a usage location for each user it gives a license (its
    own, an UPDATE of the same plan or its create's, L§6.5); no removal of a license only a group
    gives (L§6.7); what each change says the user holds ("before") true, so an addition is never
    shown as a change of disabled plans, nor a SKU the user does not hold removed. One line per
    problem. A SKU the tenant does not have is ``check_labels``' to
    report; a user gone or changed, the fingerprint's. ``returning``: the licenses the users the plan
    restores take back (their seats count as needed)."""
    index = Index(state)
    ledger = Ledger.of(skus, plan, returning)
    for c in plan.changes:
        if c.action is not Action.LICENSE:
            continue
        oid = (c.object_id or "").lower()
        user = index.by_id.get(oid) if oid else None
        has = held.get(oid, {}) if oid else {}
        for key, (before, new) in c.updates.items():
            sku = key.lower()  # a plan file may spell a GUID in capitals; Graph does not mind
            current = has.get(sku)
            if sku not in ledger.skus:
                continue
            if problem := _shown_wrong(c.upn, ledger.name(sku), before, new, current):
                ledger.problems.append(problem)
            elif new is not None:
                ledger.add(sku, current)
            elif current is not None:
                ledger.remove(c.upn, sku, current)
        known = user is not None or (not oid and c.upn.lower() in ledger.created)  # else the fingerprint's
        if known and any(new is not None for _, new in c.updates.values()):
            ledger.need_location(user, c.upn, c.reason, SET_AND_PLAN_AGAIN if user else GIVE_AND_PLAN_AGAIN)
    return ledger.all_problems()


def _shown_wrong(upn: str, name: str, before: list[str] | None, new: list[str] | None,
                 current: Held | None) -> str | None:
    """Why a saved license change misstates what the user holds, or None: "before" is null exactly
    when the SKU is not held directly, else the disabled plans held (an edited plan could otherwise
    show an addition, which takes a seat, as a change of disabled plans); a removal needs the SKU held."""
    direct = current.disabled if current is not None and current.direct else None
    if new is None and current is not None and not current.direct:
        return None  # a group's license: said as such by the caller
    if new is None and direct is None:
        return f"{upn} does not hold {name} directly: the plan cannot remove it; make the plan again"
    if before is None and direct is not None:
        return f"{upn} already holds {name}: the plan shows it as added; make the plan again"
    if before is not None and direct is None:
        return (f"{upn} does not hold {name} directly: the plan shows a change of its disabled plans, but it would "
                "add the license (a seat); make the plan again")
    if before is not None and direct is not None and sorted(p.lower() for p in before) != sorted(direct):
        return (f"{upn} holds {name} with disabled plans {sorted(direct) or 'none'}, not {sorted(before) or 'none'} "
                "as the plan shows; make the plan again")
    return None


def restore_seat_notes(plan: Plan, deleted: Iterable[DeletedUser], skus: Iterable[Sku]) -> list[str]:
    """What restoring the plan's users does to the seats: their licenses come back "even if there are no
    seats available" (L§6.9), so a SKU without enough free seats ends over its limit. Said, not refused:
    the restore is what the admin asked for."""
    held = {d.id.lower(): d.sku_ids for d in deleted}
    back: Counter[str] = Counter(sku for c in plan.changes if c.action is Action.RESTORE and c.object_id
                                 for sku in held.get(c.object_id.lower(), ()))
    notes = []
    for s in skus:
        n = back.get(s.id, 0)
        if n > s.free:
            notes.append(f"the restore takes back {n} {s.part_number} seat(s) but {s.free} are free: the tenant will "
                         f"use {s.consumed + n} of its {s.enabled} until you free seats or buy more (Graph restores "
                         "licenses even past the limit)")
    return notes
