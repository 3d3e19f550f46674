"""Use cases on users: list, show, create, delete, restore, purge, and the deleted users' list."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from provisioner.errors import NotFound
from provisioner.graph import NO_PIM_LICENCE, Kind, Response
from provisioner.ids import is_guid
from provisioner.licenses import Sku
from provisioner.model import USER_SELECT, DeletedUser, User, UserSpec
from provisioner.plan import plan_create, plan_delete, plan_purge, plan_restore
from provisioner.plan.licenses import restore_seat_notes
from provisioner.queries import assignments_request, domains_request, get_user_request, odata_string, skus_request
from provisioner.services.licenses import with_licenses
from provisioner.services.reads import (
    DEFINITIONS_REQUEST,
    DELETED_REQUEST,
    PIM_PROBE,
    Reader,
    pim_reads,
    policy_reads,
    resolvable,
    users_and_roles,
)
from provisioner.services.target import Applied, Approve, Passwords, Review, RunOptions, Target, carry_out, changing


async def list_users(target: Target, *, upn_prefix: str | None = None, enabled: bool | None = None,
                     synced: bool | None = None, role: str | None = None) -> AsyncIterator[User]:
    """Every active user matching the filters, streamed a page at a time."""
    d = target.directory
    clauses = []
    if upn_prefix:
        clauses.append(f"startswith(userPrincipalName,{odata_string(upn_prefix)})")
    if enabled is not None:
        clauses.append(f"accountEnabled eq {str(enabled).lower()}")
    if synced is True:
        clauses.append("onPremisesSyncEnabled eq true")
    holders: asyncio.Task[set[str]] | None = None
    if role:
        definition = (await Reader(d).resolve([role]))[0]

        async def holder_ids() -> set[str]:
            return {a.principal_id.lower() for a in await d.role_assignments(role_id=definition.template_id)}

        holders = asyncio.create_task(holder_ids())  # read while the first page of users is on its way
    try:
        async for user in d.iter_users(filter=" and ".join(clauses) or None):
            if synced is False and user.synced:
                continue
            if holders is not None and user.id.lower() not in await holders:
                continue
            yield user
    finally:
        if holders is not None and not holders.done():
            holders.cancel()


@dataclass(frozen=True)
class UserDetails:
    user: User
    roles: tuple[str, ...]  # display names of the admin roles held actively, sorted
    licenses: tuple[str, ...] = ()  # part numbers (skuId when unknown); "(group)" when only a group gives it
    # Every role held, active or eligible, and how ("Global Administrator: eligible until 2027-01-31");
    # empty when the tenant has no PIM to say it.
    assignments: tuple[str, ...] = ()


async def show_user(target: Target, ref: str) -> UserDetails:
    """One active user (by UPN or object id), the admin roles and the licenses it holds: two round
    trips at most (one when named by object id and unlicensed: the user and its assignments are
    read together; the SKUs' names are read only for a licensed user)."""
    r = Reader(target.directory)
    # assignedLicenses comes only with $select (L§6.7): asked for with the user itself.
    select = (*USER_SELECT, "assignedLicenses", "licenseAssignmentStates")
    requests = [get_user_request("user", ref, select=select)]
    if is_guid(ref):
        requests += [assignments_request("held", principal_id=ref.lower()), *pim_reads(ref.lower())]
    answers = await r.send(requests)
    if answers["user"].status == 404:
        raise NotFound(f"no active user {ref!r}; deleted users are listed by 'provisioner deleted list'")
    body = answers["user"].checked().body
    user = User.from_graph(body)
    licensed = bool(body.get("assignedLicenses"))
    then = [] if "held" in answers else [assignments_request("held", principal_id=user.id), *pim_reads(user.id)]
    then += [skus_request("skus")] if licensed else []
    answers.update(await r.send(then) if then else {})
    r.add_assignments(await target.directory.assignments(answers["held"]))
    await r.take_instances(answers)
    await r.name_held_roles()
    return UserDetails(user, r.held_role_names(user.id), _license_names(body, answers.get("skus")),
                       r.holdings(user.id) if r.state.pim else ())


def _license_names(body: dict, skus: Response | None) -> tuple[str, ...]:
    """The user's licenses by part number; without Organization.Read.All (no SKU names), by skuId."""
    from provisioner.services.licenses import held_licenses

    names = {}
    if skus is not None and skus.ok:
        names = {str(s.get("skuId", "")).lower(): str(s.get("skuPartNumber")) for s in skus.values()}
    held = held_licenses(body)
    return tuple(sorted(names.get(sku, sku) + ("" if h.direct else " (group)") for sku, h in held.items()))


async def create_users(target: Target, specs: Iterable[UserSpec], review: Review | None = None,
                       run: RunOptions | None = None, *, passwords: Passwords | None = None,
                       update_existing: bool = False) -> Applied:
    """Create the users that do not exist yet and assign their roles.

    Reads the named users (one batched round trip), and the assignments of those that already
    exist and are given roles; role definitions only for a role the catalog does not know.
    """
    specs = list(specs)
    review, run = review or Approve(), run or RunOptions()
    async with changing(target, review, run):
        return await _create(target, specs, review, run, passwords, update_existing)


async def _create(target: Target, specs: list[UserSpec], review: Review, run: RunOptions,
                  passwords: Passwords | None, update_existing: bool) -> Applied:
    r = Reader(target.directory)
    role_refs = {ref for s in specs for ref in s.roles}
    # The tenant's domains travel with the users: a UPN in an unverified domain is a row's problem.
    also = [domains_request("domains")] + ([] if r.catalog_knows(role_refs) else [DEFINITIONS_REQUEST])
    licensing = any(s.licenses for s in specs)
    also += [skus_request("skus")] if licensing else []  # with the users: a new joiner costs no extra read
    if role_refs:  # roles go through PIM when the tenant has it: whether it does, and the roles' expiry rules
        also += [PIM_PROBE, *(policy_reads(await r.resolve(sorted(role_refs))) if r.catalog_knows(role_refs) else [])]
    answers = await r.users([s.upn for s in specs], also=also)
    await r.take_definitions(answers)
    probe = answers.get(PIM_PROBE.id)
    if probe is not None and (probe.ok or probe.error().code == NO_PIM_LICENCE):
        await r.take_instances({PIM_PROBE.id: probe})
    if role_refs and r.state.pim and not r.catalog_knows(role_refs):
        # A role the catalog does not know: its policy is read once its definition is (one more round trip).
        answers.update(await r.send(policy_reads(resolvable(r, sorted(role_refs)))))
    await r.take_policies(answers)
    domains, unread = await _verified_domains(r, answers["domains"])
    existing = [u.id for s in specs if s.roles and (u := r.state.user(s.upn)) is not None]
    if existing:
        await r.assignments_of(existing, pim=True)
    planned = plan_create(specs, r.state, update_existing=update_existing, verified_domains=domains)
    if unread:
        planned = replace(planned, notes=(*planned.notes, unread))
    if licensing:
        # Licenses go to the users this plan creates; a user that exists keeps every license it holds
        # (with --update-existing the listed ones are added, none removed: a create never takes away).
        kept = [s.upn for s in specs if s.licenses and not update_existing and r.state.user(s.upn) is not None]
        if kept:
            planned = replace(planned, notes=(*planned.notes, *(
                f"{upn} already exists: its licenses are left as they are (add them with provisioner licenses "
                "assign, or --update-existing)" for upn in kept)))
        wanted = [(s.upn, s.licenses, f"row {s.row}" if s.row is not None else "requested") for s in specs
                  if update_existing or r.state.user(s.upn) is None]
        planned = await with_licenses(target.directory, planned, r.state, wanted, answers, exact=False)
    passwords = passwords or Passwords({s.upn: s.password for s in specs if s.password})
    return await carry_out(target, r.state, planned, review, run, passwords=passwords)


async def _verified_domains(r: Reader, resp: Response) -> tuple[set[str] | None, str]:
    """The tenant's verified domains, or None and why when they cannot be read (the check is then Graph's)."""
    if resp.kind is Kind.FORBIDDEN:
        return None, ("the tenant's domains could not be read (the permission Domain.Read.All would allow it), so "
                      "UPN domains are checked by Graph when each user is created")
    if not resp.ok:
        return None, ""
    return {str(d.get("id", "")).lower() for d in await r.collect(resp) if d.get("isVerified")}, ""


async def delete_users(target: Target, refs: Sequence[str], review: Review | None = None,
                       run: RunOptions | None = None, *, rows: Mapping[str, int] | None = None) -> Applied:
    """Soft-delete users (restorable for 30 days); synced users and the last Global Administrator
    are refused by the guardrails. A user already deleted is a note, not an error."""
    review, run = review or Approve(), run or RunOptions()
    async with changing(target, review, run):
        r = Reader(target.directory)
        await users_and_roles(r, refs, global_admins=True, deleted_if_missing=True)
        return await carry_out(target, r.state, plan_delete(refs, r.state, rows=rows), review, run)


@dataclass
class Restored(Applied):
    """A restore's result, with the roles that came back with each restored user (by UPN)."""

    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)


async def restore_users(target: Target, refs: Sequence[str], review: Review | None = None,
                        run: RunOptions | None = None, *, new_upn: str | None = None,
                        auto_reconcile: bool = False, rows: Mapping[str, int] | None = None) -> Restored:
    """Restore deleted users by object id or original UPN, optionally under ``new_upn``."""
    review, run = review or Approve(), run or RunOptions()
    async with changing(target, review, run):
        return await _restore(target, refs, review, run, new_upn, auto_reconcile, rows)


async def _restore(target: Target, refs: Sequence[str], review: Review, run: RunOptions, new_upn: str | None,
                   auto_reconcile: bool, rows: Mapping[str, int] | None) -> Restored:
    r = Reader(target.directory)
    # Active users too: one already restored (a re-run) is a note, not an error.
    names = [ref for ref in refs if not is_guid(ref)] + ([new_upn] if new_upn else [])
    # The SKUs travel with the users: a restore takes its licenses back even past the seats (L§6.9).
    answers = await r.users([*refs, *([new_upn] if new_upn else [])], also=[DELETED_REQUEST, skus_request("skus")])
    await r.deleted(answers)
    planned = plan_restore(refs, r.state, new_upn=new_upn, auto_reconcile=auto_reconcile, rows=rows)
    # The names the restores take back must be free: read those not read yet (named by object id).
    asked = {n.lower() for n in names}
    taken = sorted({(c.new_upn or c.upn).lower() for c in planned.plan.changes} - asked)
    if taken:
        await r.users(taken)
        planned = plan_restore(refs, r.state, new_upn=new_upn, auto_reconcile=auto_reconcile, rows=rows)
    skus = answers["skus"]  # not readable (no Organization.Read.All): nothing to say about seats
    if skus.ok:
        seats = restore_seat_notes(planned.plan, r.state.deleted, [Sku.from_graph(s) for s in skus.values()])
        planned = replace(planned, notes=(*planned.notes, *seats))
    applied = await carry_out(target, r.state, planned, review, run)
    result = Restored(applied.planned, applied.report)
    if applied.report is not None and applied.report.created:
        spelled = {c.upn.lower(): c.upn for c in planned.plan.changes}
        result.roles = await _roles_back(r, {spelled.get(k, k): v for k, v in applied.report.created.items()})
    return result


async def _roles_back(r: Reader, created: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """The admin roles each restored user holds again (role assignments come back on restore)."""
    await r.assignments_of(created.values())
    await r.name_held_roles()
    return {upn: r.held_role_names(oid) for upn, oid in created.items()}


async def purge_users(target: Target, refs: Sequence[str], review: Review | None = None,
                      run: RunOptions | None = None, *, rows: Mapping[str, int] | None = None) -> Applied:
    """Permanently delete users that are already deleted. This cannot be undone."""
    review, run = review or Approve(), run or RunOptions()
    async with changing(target, review, run):
        r = Reader(target.directory)
        await r.deleted(await r.users(refs, also=[DELETED_REQUEST]))  # an active user named is told to delete first
        return await carry_out(target, r.state, plan_purge(refs, r.state, rows=rows), review, run)


@dataclass(frozen=True)
class DeletedList:
    now: datetime  # the tenant's time, for days left
    users: tuple[DeletedUser, ...]


async def deleted_users(target: Target, *, expiring_within: timedelta | None = None) -> DeletedList:
    """Deleted users still restorable, soonest expiry first (only those expiring within the
    given time when asked)."""
    d = target.directory
    found = await d.deleted_users()
    now = d.now()
    kept = [u for u in found if not u.expired(now) and (expiring_within is None or u.expires - now <= expiring_within)]
    kept.sort(key=lambda u: (u.expires, u.original_upn.lower()))
    return DeletedList(now, tuple(kept))
