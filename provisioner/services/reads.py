"""Reading exactly what a use case needs, in the fewest round trips.

Each reader sends its independent reads together (one ``$batch`` per 20, several in flight) and
fills a :class:`TenantState`. The tenant's clock comes from the answers' ``Date`` header. Role
definitions are read only when a role is not one the catalog knows (the five classic roles and
every template id need none).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from provisioner.directory import Directory
from provisioner.errors import NotFound
from provisioner.graph import NO_PIM_LICENCE, Kind, Request, Response, chunks
from provisioner.ids import is_guid
from provisioner.model import DeletedUser, RoleAssignment, RoleDefinition, RolePolicy, TenantState, User
from provisioner.queries import (
    MAX_IN_VALUES,
    assignments_request,
    deleted_users_request,
    eligibility_instances_request,
    get_user_request,
    instances_request,
    pim_instances_request,
    role_definitions_request,
    role_policies_request,
    users_by_upn_request,
)
from provisioner.roles.catalog import GLOBAL_ADMIN_ID, classic_definitions, classic_for, resolve_role

# Past this many users, one paged listing of the tenant is cheaper than looking each one up.
LIST_ALL_ABOVE = 2000
# Past this many users, one paged listing of every assignment beats a filtered read per user.
ASSIGNMENTS_LIST_ALL_ABOVE = 50


class Reader:
    """Builds one use case's TenantState from batched reads."""

    def __init__(self, d: Directory):
        self.d = d
        self.state = TenantState(now=d.now(), roles=classic_definitions())
        self._definitions_read = False
        self._assignments: dict[str, RoleAssignment] = {}

    # -- the requests each kind of read sends --

    @staticmethod
    def user_requests(refs: Iterable[str]) -> list[Request]:
        refs = list(refs)
        upns = sorted({r.lower() for r in refs if not is_guid(r)})
        ids = sorted({r.lower() for r in refs if is_guid(r)})
        requests = [users_by_upn_request(f"upn{n}", part) for n, part in enumerate(chunks(upns, MAX_IN_VALUES))]
        return requests + [get_user_request(f"id:{i}", i) for i in ids]

    async def send(self, requests: Sequence[Request]) -> dict[str, Response]:
        """Send reads together and take in what every answer says about users."""
        answers = await self.d.read(requests) if requests else {}
        self.state.now = self.d.now()
        for rid, resp in answers.items():
            if rid.startswith("upn"):
                for item in resp.checked().values():
                    self.add_user(User.from_graph(item))
            elif rid.startswith("id:") and resp.kind is not Kind.NOT_FOUND:
                self.add_user(User.from_graph(resp.checked().body))
        return answers

    async def collect(self, resp: Response) -> list[dict]:
        return await self.d.collect(resp)

    def add_user(self, user: User) -> None:
        self.state.users[user.user_principal_name.lower()] = user

    def add_assignments(self, assignments: Iterable[RoleAssignment]) -> None:
        for a in assignments:
            self._assignments[a.id] = a
        self.state.assignments = list(self._assignments.values())

    def ids(self) -> set[str]:
        return {u.id.lower() for u in self.state.users.values()}

    # -- reads several use cases share --

    async def users(self, refs: Sequence[str], *, also: Sequence[Request] = ()) -> dict[str, Response]:
        """The active users ``refs`` name (UPNs or object ids), with other independent reads."""
        if len(refs) > LIST_ALL_ABOVE:
            answers, _ = await asyncio.gather(self.send(also), self.all_users())
            return answers
        return await self.send([*self.user_requests(refs), *also])

    async def all_users(self) -> None:
        async for user in self.d.iter_users():
            self.add_user(user)

    async def assignments_of(self, principal_ids: Iterable[str], *, also: Sequence[Request] = (),
                             pim: bool = False) -> dict[str, Response]:
        """The role assignments of these principals, with other independent reads; with ``pim``
        their PIM instances too (how each is held, and whether the tenant has PIM at all)."""
        wanted = sorted(set(principal_ids))
        if pim and len(wanted) <= ASSIGNMENTS_LIST_ALL_ABOVE:
            also = [*also, *(r for p in wanted for r in pim_reads(p))]
        if len(wanted) > ASSIGNMENTS_LIST_ALL_ABOVE:
            # Too many to read one by one: every assignment and, with ``pim``, every PIM instance (unless
            # the caller lists them itself, as offboarding does), read together; these principals' kept.
            listed = pim and not any(q.id.partition(":")[0] in ("el", "ac") for q in also)

            async def instances() -> TenantState | None:
                return await all_instances(self.d) if listed else None

            answers, everything, held = await asyncio.gather(self.send(also), self.d.role_assignments(), instances())
            keep = {p.lower() for p in wanted}
            self.add_assignments(a for a in everything if a.principal_id.lower() in keep)
            await self.take_instances(answers)  # the instances the caller listed
            if held is not None:
                self.add_assignments(a for a in held.assignments if a.principal_id.lower() in keep)
                self.state.eligible += [a for a in held.eligible if a.principal_id.lower() in keep]
                self.state.pim = held.pim
            return answers
        requests = [assignments_request(f"as:{p}", principal_id=p) for p in wanted]
        answers = await self.send([*requests, *also])
        for rid, resp in answers.items():
            if rid.startswith("as:"):
                self.add_assignments(await self.d.assignments(resp))
        await self.take_instances(answers)
        return answers

    async def take_instances(self, answers: Mapping[str, Response]) -> None:
        """Take in the PIM instances read as ``el:``/``ac:`` (a 400 AadPremiumLicenseRequired: no PIM)."""
        for rid, resp in sorted(answers.items()):
            tag = rid.partition(":")[0]
            if tag not in ("el", "ac"):
                continue
            if not resp.ok and resp.error().code == NO_PIM_LICENCE:
                self.state.pim = False
                continue
            self.state.pim = self.state.pim if self.state.pim is False else True
            found = [RoleAssignment.from_instance(d, eligible=tag == "el") for d in await self.collect(resp)]
            if tag == "el":
                self.state.eligible += found
            else:  # the same ids as the role assignments: add how each is held
                self.add_assignments(found)

    async def take_ends(self, answers: Mapping[str, Response]) -> None:
        """Take in how each Global Administrator assignment already read is held (its end, PIM or
        not), from the instances read as :data:`GA_INSTANCES`. Only assignments read as such are
        changed: an instance adds no holder (the fingerprint covers the assignments as listed). Not
        given (no permission; no PIM, where every assignment is permanent): the ends stay unknown."""
        resp = answers.get(GA_INSTANCES.id)
        if resp is None or not resp.ok:
            return
        held = {a.id: a for a in self.state.assignments}
        found = [RoleAssignment.from_instance(d, eligible=False) for d in await self.collect(resp)]
        self.add_assignments(a for a in found if a.id in held)

    async def take_policies(self, answers: Mapping[str, Response]) -> None:
        """Take in the expiry rules of the role policies read as ``pol:`` (see :func:`policy_reads`).
        A policy Graph does not give (no permission, no licence) is left out: Graph still checks the
        rule when the grant is written, and refuses it with RoleAssignmentRequestPolicyValidationFailed."""
        for rid, resp in sorted(answers.items()):
            if rid.startswith("pol:") and resp.ok:
                self.state.policies.update(role_policies(await self.collect(resp)))

    async def global_admins(self, answers: Mapping[str, Response]) -> None:
        """Take in the Global Administrator assignments read as ``ga`` (see :data:`GA_REQUEST`)."""
        if "ga" in answers:
            self.add_assignments(await self.d.assignments(answers["ga"]))

    def unknown_holders(self) -> list[Request]:
        """Reads of the Global Administrator holders not read yet (their enabled state counts)."""
        known = self.ids()
        holders = {a.principal_id.lower() for a in self.state.assignments
                   if a.role_definition_id.lower() == GLOBAL_ADMIN_ID}
        return [get_user_request(f"id:{p}", p) for p in sorted(holders - known)]

    async def deleted(self, answers: Mapping[str, Response]) -> None:
        """Take in the deleted users read as ``deleted`` (see :func:`deleted_users_request`)."""
        items = await self.collect(answers["deleted"])
        self.state.deleted = [DeletedUser.from_graph(d) for d in items]

    # -- roles --

    def catalog_knows(self, refs: Iterable[str]) -> bool:
        """Whether every role reference resolves without reading the tenant's role definitions."""
        try:
            for ref in refs:
                resolve_role(ref, self.state.roles)
        except NotFound:
            return False
        return True

    async def take_definitions(self, answers: Mapping[str, Response]) -> None:
        """Take in the role definitions read as ``definitions`` (see :data:`DEFINITIONS_REQUEST`)."""
        if "definitions" in answers:
            self.state.roles = [RoleDefinition.from_graph(d) for d in await self.collect(answers["definitions"])]
            self._definitions_read = True

    async def definitions(self) -> None:
        """Every role definition of the tenant (built-in and custom), once."""
        if not self._definitions_read:
            self.state.roles = await self.d.role_definitions()
            self._definitions_read = True

    async def resolve(self, refs: Iterable[str]) -> list[RoleDefinition]:
        """Role references resolved, from the catalog when it knows them all, else from the tenant."""
        refs = list(refs)
        try:
            return [resolve_role(r, self.state.roles) for r in refs]
        except NotFound:
            if self._definitions_read:
                raise
        await self.definitions()
        return [resolve_role(r, self.state.roles) for r in refs]

    def held_role_names(self, principal_id: str) -> tuple[str, ...]:
        """The display names of the roles a principal holds, sorted (the id when a role is unknown)."""
        names = {d.id.lower(): d.display_name for d in self.state.roles}
        return tuple(sorted({names.get(a.role_definition_id.lower(), a.role_definition_id)
                             for a in self.state.assignments if a.principal_id.lower() == principal_id.lower()}))

    def holdings(self, principal_id: str) -> tuple[str, ...]:
        """Each role a principal holds, active or eligible, and how: "Billing Administrator: active permanent"."""
        names = {d.id.lower(): d.display_name for d in self.state.roles}
        mine = [a for a in (*self.state.assignments, *self.state.eligible)
                if a.principal_id.lower() == principal_id.lower()]
        return tuple(sorted(f"{names.get(a.role_definition_id.lower(), a.role_definition_id)}: {a.describe()}"
                            for a in mine))

    async def name_held_roles(self) -> None:
        """Read the role definitions only if a held role is not one the catalog names."""
        known = {r.id.lower() for r in self.state.roles}
        if any(a.role_definition_id.lower() not in known and classic_for(a.role_definition_id) is None
               for a in (*self.state.assignments, *self.state.eligible)):
            await self.definitions()


def pim_reads(principal_id: str) -> list[Request]:
    """A principal's PIM instances, eligible (``el:``) and active (``ac:``), for ``take_instances``."""
    return [instances_request(f"{tag}:{principal_id}", principal_id, eligible=tag == "el") for tag in ("el", "ac")]


GA_REQUEST = assignments_request("ga", role_id=GLOBAL_ADMIN_ID)
# Whether the tenant has PIM (400 AadPremiumLicenseRequired without P2 or Governance, P§A3), asked with
# what is worth knowing anyway: who is eligible for Global Administrator (a few).
PIM_PROBE = pim_instances_request("el:ga", True, role_id=GLOBAL_ADMIN_ID)
# How each Global Administrator assignment is held (its end): read with GA_REQUEST, same ids.
GA_INSTANCES = pim_instances_request("ac:ga", False, role_id=GLOBAL_ADMIN_ID)
# What every command that can remove, disable or shorten a Global Administrator reads first: the
# assignments and how each is held, so the guardrails judge the ends that remain (``take_ends``).
GA_READS = (GA_REQUEST, GA_INSTANCES)
DELETED_REQUEST = deleted_users_request("deleted")
DEFINITIONS_REQUEST = role_definitions_request("definitions")


async def users_and_roles(r: Reader, refs: Sequence[str], *, global_admins: bool,
                           deleted_if_missing: bool = False, role_refs: Iterable[str] = (),
                           pim: bool = False, policies: bool = False) -> None:
    """The named users and their role assignments, in two round trips: the users (with the Global
    Administrator assignments and their PIM instances when the plan could remove one, and the role
    definitions when a role is not in the catalog), then their assignments (with the Global
    Administrators' accounts, with ``policies`` the PIM policies of the roles named and, when a name
    matched no active user, the deleted users)."""
    role_refs = list(role_refs)
    first = ([*GA_READS] if global_admins else []) + (
        [] if r.catalog_knows(role_refs) else [DEFINITIONS_REQUEST])
    answers = await r.users(refs, also=first)
    await r.global_admins(answers)
    await r.take_definitions(answers)
    by_id = {u.id.lower(): u for u in r.state.users.values()}
    named = [u for ref in refs if (u := r.state.user(ref) or by_id.get(ref.lower())) is not None]
    then = r.unknown_holders() if global_admins else []
    missing = len({u.id for u in named}) < len({ref.lower() for ref in refs})
    if deleted_if_missing and missing:
        then.append(DELETED_REQUEST)
    if policies:  # with the assignments: the users' read stays a single request when it can be one
        then += policy_reads(resolvable(r, role_refs))
    answers = {**answers, **await r.assignments_of([u.id for u in named], also=then, pim=pim)}
    # After the named users' instances: the Global Administrators' say how each GA assignment is held.
    # (Not given for want of a permission: the ends stay unknown and count as permanent, docs/plans.md.)
    await r.take_instances({k: v for k, v in answers.items()
                            if k == GA_INSTANCES.id and (v.ok or v.error().code == NO_PIM_LICENCE)})
    await r.take_policies(answers)
    if "deleted" in answers:
        await r.deleted(answers)
    await r.name_held_roles()


def resolvable(r: Reader, refs: Iterable[str]) -> list[RoleDefinition]:
    """The roles of ``refs`` that resolve (an unknown one is the planner's problem to report)."""
    found = []
    for ref in refs:
        try:
            found.append(resolve_role(ref, r.state.roles))
        except NotFound:
            continue
    return found


def policy_reads(roles: Iterable[RoleDefinition]) -> list[Request]:
    """Each role's PIM policy with its rules, for ``take_policies``."""
    ids = sorted({role.template_id.lower() for role in roles})
    return [role_policies_request(f"pol:{i}", i) for i in ids]


ALL_POLICIES = role_policies_request("pol:all")


def role_policies(assignments: Iterable[Mapping[str, Any]]) -> dict[str, RolePolicy]:
    """Each role's PIM policy, by lower-cased role (template) id, from roleManagementPolicyAssignments
    listed with $expand=policy($expand=rules)."""
    return {str(a.get("roleDefinitionId") or "").lower(): RolePolicy.from_assignment(a) for a in assignments}


async def full_state(d: Directory, *, policies: Iterable[str] = (), every_user: bool = True) -> TenantState:
    """Every user, deleted user, role and assignment (what sync and the audit compare against):
    four listings, read concurrently; with ``policies`` (role references) those roles' PIM expiry
    rules too, in the same round trip (every role's when one is not in the catalog). Without
    ``every_user`` no user is read: a large tenant's listing is many pages one after another, and
    the audit without a manifest reads only the users it reports on (``services.audit``)."""
    users: dict[str, User] = {}

    async def all_users() -> None:
        if not every_user:
            return
        async for user in d.iter_users():
            users[user.user_principal_name.lower()] = user

    async def expiry() -> dict[str, Response]:
        refs = sorted(set(policies))
        if not refs:
            return {}
        r = Reader(d)
        requests = policy_reads(await r.resolve(refs)) if r.catalog_knows(refs) else [ALL_POLICIES]
        return await d.read(requests)

    _, roles, assignments, deleted, pim, rules = await asyncio.gather(
        all_users(), d.role_definitions(), d.role_assignments(), d.deleted_users(), all_instances(d), expiry()
    )
    by_id = {a.id: a for a in assignments}
    by_id.update({a.id: a for a in pim.assignments if a.id in by_id})  # how each active one is held
    state = TenantState(now=d.now(), users=users, deleted=deleted, roles=roles, assignments=list(by_id.values()),
                        eligible=pim.eligible, pim=pim.pim)
    r = Reader(d)
    await r.take_policies(rules)
    state.policies = r.state.policies
    return state


async def all_instances(d: Directory) -> TenantState:
    """Every PIM instance of the tenant, eligible and active (``pim`` False without P2), read together."""
    r = Reader(d)
    # Two plain GETs in flight (not a $batch): the audit's reads stay single requests.
    answers = await asyncio.gather(*(d.read([pim_instances_request(f"{tag}:all", tag == "el")])
                                     for tag in ("el", "ac")))
    await r.take_instances({k: v for answer in answers for k, v in answer.items()})
    return r.state


async def role_instances(d: Directory, role_id: str) -> list[RoleAssignment]:
    """One role's PIM instances, active and eligible, in one round trip ([] without PIM)."""
    requests = [pim_instances_request(f"{tag}:{role_id}", tag == "el", role_id=role_id) for tag in ("el", "ac")]
    r = Reader(d)
    await r.take_instances(await d.read(requests))
    return [*r.state.assignments, *r.state.eligible]


async def eligible_instances(d: Directory) -> list[RoleAssignment] | None:
    """Every eligible assignment of the tenant (PIM): [] without P2 (Graph's 400 AadPremiumLicenseRequired
    says there can be none), None when Graph would not list them (e.g. no permission)."""
    resp = (await d.read([eligibility_instances_request("el:all")]))["el:all"]
    if not resp.ok:
        return [] if resp.error().code == NO_PIM_LICENCE else None
    return [RoleAssignment.from_instance(i, eligible=True) for i in await d.collect(resp)]
