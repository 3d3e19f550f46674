"""Use cases for licenses: list the tenant's SKUs, and add or remove users' direct licenses
within the seats the tenant has (L§6); and the licenses a create, an update or a sync lists
(``with_licenses``), planned after the rest of the plan.

Two batched round trips: the users named with the tenant's SKUs, then each user's licenses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from provisioner.changes import Action
from provisioner.directory import Directory
from provisioner.errors import NotFound
from provisioner.graph import Kind, Request, Response
from provisioner.licenses import Sku, resolve_sku
from provisioner.model import TenantState
from provisioner.plan import Planned
from provisioner.plan.licenses import Held, LicenseEdit, Wanted, add_wanted, plan_licenses
from provisioner.queries import (
    deleted_licenses_listing_request,
    deleted_user_licenses_request,
    skus_request,
    user_licenses_listing_request,
    user_licenses_request,
)
from provisioner.services.reads import Reader
from provisioner.services.target import Applied, Approve, Review, RunOptions, Target, carry_out, changing


async def list_licenses(target: Target) -> list[Sku]:
    """The tenant's subscribed SKUs, by part number."""
    answers = await target.directory.read([skus_request("skus")])
    return sorted((Sku.from_graph(s) for s in answers["skus"].checked().values()), key=lambda s: s.part_number)


def held_licenses(body: Mapping[str, Any]) -> dict[str, Held]:
    """skuId -> what the user holds, from ``assignedLicenses`` and ``licenseAssignmentStates``: a
    license is direct when a state without ``assignedByGroup`` names it (no states: all direct)."""
    states = [s for s in body.get("licenseAssignmentStates") or [] if isinstance(s, Mapping)]
    direct = {str(s.get("skuId", "")).lower() for s in states if not s.get("assignedByGroup")}
    grouped = {str(s.get("skuId", "")).lower() for s in states if s.get("assignedByGroup")}
    held = {}
    for a in body.get("assignedLicenses") or []:
        sku = str(a.get("skuId", "")).lower()
        held[sku] = Held(tuple(str(p).lower() for p in a.get("disabledPlans") or []), not states or sku in direct,
                         sku in grouped)
    return held


class SkuRequest:
    """Licenses named as an admin names them (part number, product name or GUID; plans by name or
    id), resolved against the tenant's SKUs once they are read."""

    def __init__(self, ref: str, add: Iterable[str] = (), remove: Iterable[str] = (),
                 disable_plans: Iterable[str] = (), usage_location: str | None = None):
        self.ref, self.add, self.remove = ref, list(add), list(remove)
        self.disable_plans, self.usage_location = list(disable_plans), usage_location

    def edit(self, skus: list[Sku]) -> LicenseEdit:
        add: dict[str, tuple[str, ...]] = {}
        used: set[str] = set()
        for ref in self.add:
            sku = resolve_sku(ref, skus)
            # One --disable-plan list serves several SKUs: each SKU disables the plans it carries.
            carried = [p for p in self.disable_plans if any(p.lower() in (q.id, q.name.lower()) for q in sku.plans)]
            used.update(carried)
            add[sku.id] = tuple(sorted(sku.plan(p).id for p in carried))
        for plan in self.disable_plans:
            if plan not in used and self.add:
                resolve_sku(self.add[0], skus).plan(plan)  # refused, naming the plans the SKU has
        remove = tuple(resolve_sku(ref, skus).id for ref in self.remove)
        return LicenseEdit(self.ref, add, remove, self.usage_location)


async def change_licenses(target: Target, requests: Iterable[SkuRequest], review: Review | None = None,
                          run: RunOptions | None = None) -> Applied:
    """Add and remove direct licenses; refused before the first write when seats are short, a
    user has no usage location (and none is given), or a license to remove comes from a group."""
    requests = list(requests)
    review, run = review or Approve(), run or RunOptions()
    async with changing(target, review, run):
        r = Reader(target.directory)
        answers = await r.users([q.ref for q in requests], also=[skus_request("skus")])
        skus = [Sku.from_graph(s) for s in answers["skus"].checked().values()]
        edits = [q.edit(skus) for q in requests]
        by_id = {u.id.lower(): u for u in r.state.users.values()}
        ids = sorted({u.id.lower() for q in requests if (u := r.state.user(q.ref) or by_id.get(q.ref.lower()))})
        answers = await r.send([user_licenses_request(f"lic:{oid}", oid) for oid in ids])
        held = {oid: held_licenses(answers[f"lic:{oid}"].checked().body) for oid in ids}
        planned = plan_licenses(edits, r.state, skus, held)
        return await carry_out(target, r.state, planned, review, run)


# Past this many users, one paged listing of everyone's licenses beats a read per user.
LIST_LICENSES_ABOVE = 50


def license_reads(ids: Sequence[str], *, skus: bool = True) -> list[Request]:
    """The tenant's SKUs (with ``skus``) and the licenses of the users of these object ids, to send
    with other independent reads; see :func:`take_licenses`."""
    reads = [skus_request("skus")] if skus else []
    if len(ids) > LIST_LICENSES_ABOVE:
        return [*reads, user_licenses_listing_request("lic:all")]
    return reads + [user_licenses_request(f"lic:{oid.lower()}", oid) for oid in ids]


def restored_license_reads(ids: Sequence[str]) -> list[Request]:
    """The licenses deleted users of these object ids hold (a deleted user keeps its assignedLicenses,
    L§6.9): each one's deleted object; many, the deleted users' listing, paged."""
    if len(ids) > LIST_LICENSES_ABOVE:
        return [deleted_licenses_listing_request("dlic:all")]
    return [deleted_user_licenses_request(f"dlic:{oid.lower()}", oid.lower()) for oid in ids]


async def take_restored_licenses(d: Directory, answers: Mapping[str, Response],
                                 ids: Sequence[str]) -> dict[str, dict[str, Held]]:
    """lower-cased object id -> the licenses its restore takes back, as :func:`restored_license_reads`
    asked; a deleted user not found (purged since) takes none back, and the restore says so itself."""
    if "dlic:all" in answers:
        wanted = {oid.lower() for oid in ids}
        listed = await d.collect(answers["dlic:all"].checked())
        return {oid: held_licenses(b) for b in listed if (oid := str(b.get("id", "")).lower()) in wanted}
    found = {}
    for oid in (i.lower() for i in ids):
        resp = answers[f"dlic:{oid}"]
        if resp.kind is not Kind.NOT_FOUND:
            found[oid] = held_licenses(resp.checked().body)
    return found


async def take_licenses(d: Directory, answers: Mapping[str, Response], ids: Sequence[str], *,
                        missing_ok: bool = False) -> tuple[list[Sku], dict[str, dict[str, Held]]]:
    """The SKUs and the licenses held (lower-cased object id -> skuId -> Held) that
    :func:`license_reads` asked for; with ``missing_ok`` a user not found is left out (a saved plan's
    user deleted since: its fingerprint says so), else it is an error."""
    skus = [Sku.from_graph(s) for s in answers["skus"].checked().values()]
    if "lic:all" in answers:
        wanted = {oid.lower() for oid in ids}
        listed = await d.collect(answers["lic:all"])
        return skus, {oid: held_licenses(b) for b in listed if (oid := str(b.get("id", "")).lower()) in wanted}
    held = {}
    for oid in (i.lower() for i in ids):
        resp = answers[f"lic:{oid}"]
        if not (missing_ok and resp.kind is Kind.NOT_FOUND):
            held[oid] = held_licenses(resp.checked().body)
    return skus, held


async def with_licenses(d: Directory, planned: Planned, state: TenantState,
                        wanted: Sequence[tuple[str, Sequence[str] | None, str]],
                        read: Mapping[str, Response] | None = None, *, exact: bool = True) -> Planned:
    """``planned`` with the LICENSE changes that give each user (reference, SKUs as an admin names
    them or None: keep what it holds, reason) exactly those direct licenses (without ``exact``: at
    least those, nothing removed). One round trip (the
    tenant's SKUs with the licenses of the users that exist), none when no input lists licenses
    or when the SKUs came with an earlier read (``read["skus"]``) and every user is new."""
    wanted = [w for w in wanted if w[1] is not None]
    if not wanted:
        return planned
    by_id = {u.id.lower(): u for u in state.users.values()}
    ids = sorted({u.id.lower() for ref, _, _ in wanted if (u := state.user(ref) or by_id.get(ref.lower()))})
    # A user the plan restores takes back the licenses it had, seats free or not (L§6.9): read them
    # from its deleted object with the rest, so the seats the plan's additions need count them too.
    restored = sorted({c.object_id.lower() for c in planned.plan.changes if c.action is Action.RESTORE and c.object_id})
    reads = license_reads(ids, skus=not (read and "skus" in read)) + restored_license_reads(restored)
    answers = {**(read or {}), **(await d.read(reads) if reads else {})}
    skus, held = await take_licenses(d, answers, ids)
    returning = await take_restored_licenses(d, answers, restored)
    problems: list[str] = []
    resolved: list[Wanted] = []
    for ref, names, reason in wanted:
        found = []
        for name in names or ():
            try:
                found.append(resolve_sku(name, skus).id)
            except NotFound as e:
                problems.append(f"{ref} ({reason}): {e}")
        resolved.append(Wanted(ref, tuple(dict.fromkeys(found)), exact=exact, reason=reason))
    return add_wanted(planned, resolved, state, skus, held, returning=returning, unknown=problems)
