"""The license planner: add and remove users' direct licenses within the seats the tenant has.
Pure: no I/O, deterministic.

Each user gets at most one LICENSE change (one ``assignLicense`` call: every SKU added and removed
at once, L§6.3); its ``updates`` map skuId -> (disabled plan ids held before or None, after or
None), its ``properties`` map the ids to the names people read. Refused before any write, every
problem listed: more seats needed than are free (L§6.1), a user without a usage location when none
is given (L§6.5; given, it is set by an UPDATE earlier in the same plan), removing a license that
only a group gives (L§6.7).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from provisioner.changes import Action, Change
from provisioner.errors import Refused
from provisioner.licenses import PRODUCT_NAMES, Sku
from provisioner.model import TenantState
from provisioner.plan.imperative import Planned, finish
from provisioner.plan.index import Index
from provisioner.plan.lifecycle import _user


@dataclass(frozen=True)
class Held:
    """One license a user holds: its disabled plans, and whether it is assigned directly (else only
    through a group)."""

    disabled: tuple[str, ...] = ()
    direct: bool = True


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
    by_id = {s.id: s for s in skus}
    changes: list[Change] = []
    notes: list[str] = []
    problems: list[str] = []
    needed: Counter[str] = Counter()
    freed: Counter[str] = Counter()
    seen: set[str] = set()
    for edit in edits:
        user = _user(edit.ref, index)
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
            name = by_id[sku].part_number
            if current is not None and current.direct and sorted(current.disabled) == sorted(disabled):
                notes.append(f"{upn} already has {name}; nothing to add")
                continue
            updates[sku] = (list(current.disabled) if current and current.direct else None, sorted(disabled))
            labels[sku] = name
            labels.update({p.id: p.name for p in by_id[sku].plans if p.id in disabled})
            needed[sku] += current is None  # a license a group already gives takes no second seat
        for sku in edit.remove:
            current = has.get(sku)
            name = by_id[sku].part_number if sku in by_id else sku
            if current is None:
                notes.append(f"{upn} does not have {name}; nothing to remove")
            elif not current.direct:
                problems.append(f"{upn} gets {name} from a group: it cannot be removed from the user; remove the "
                                "user from that group (or the license from the group) instead")
            else:
                updates[sku] = (list(current.disabled), None)
                labels[sku] = name
                freed[sku] += 1
        adding = any(new is not None for _, new in updates.values())
        if adding and not user.usage_location:
            if edit.usage_location:
                changes.append(Change(Action.UPDATE, upn, oid, updates={"usageLocation": (None, edit.usage_location)},
                                      reason=f"{edit.reason}; a license needs a usage location"))
            else:
                problems.append(f"{upn} has no usage location, which a license needs; give one with "
                                "--usage-location CC (a two-letter country code)")
        if updates:
            changes.append(Change(Action.LICENSE, upn, oid, updates=updates, properties=labels, reason=edit.reason))
    for sku, n in sorted(needed.items()):
        s = by_id[sku]
        if n - freed[sku] > s.free:
            name = PRODUCT_NAMES.get(s.part_number)
            problems.append(f"{s.part_number}{f' ({name})' if name else ''}: {n - freed[sku]} seat(s) needed, "
                            f"{s.free} free ({s.enabled} enabled, {s.consumed} consumed); free seats first or buy more")
    if problems:
        lines = [f"refused ({len(problems)} problem{'s' if len(problems) > 1 else ''}); nothing was written:"]
        raise Refused("\n".join(lines + [f"  - {p}" for p in problems]))
    return finish(changes, notes, state)
