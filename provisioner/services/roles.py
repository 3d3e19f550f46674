"""Use cases on admin roles: list them with their holders, list one role's members, assign, revoke."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from provisioner.model import Holding, RoleAssignment, RoleDefinition, User, UserSpec
from provisioner.plan import plan_assign_rows, plan_revoke_rows
from provisioner.roles.catalog import CLASSIC_ROLES, ClassicRole, classic_for, is_privileged
from provisioner.services.reads import Reader, eligible_instances, role_instances, users_and_roles
from provisioner.services.target import Applied, Approve, Review, RunOptions, Target, carry_out, changing


@dataclass(frozen=True)
class RoleSummary:
    definition: RoleDefinition
    classic: ClassicRole | None
    privileged: bool
    holders: int  # active assignments (direct or through PIM): those who can act now
    # Eligible assignments (PIM; they act once activated): 0 on a tenant without PIM, None when Graph
    # would not list them (a permission the token lacks).
    eligible: int | None = 0


async def list_roles(target: Target, *, all_roles: bool = False) -> list[RoleSummary]:
    """The five classic roles (with ``all_roles`` every built-in role too) and how many hold each,
    actively and as eligible. The assignments, the eligible instances and, when every role is wanted,
    the definitions are read concurrently."""
    d = target.directory
    r = Reader(d)
    reads = [d.role_assignments(), eligible_instances(d)] + ([r.definitions()] if all_roles else [])
    assignments, eligible, *_ = await asyncio.gather(*reads)
    active = _counts(a.role_definition_id for a in assignments)
    eligibles = _counts(a.role_definition_id for a in eligible or ())
    by_template = {role.template_id.lower(): role for role in r.state.roles}
    ordered = [by_template[c.template_id] for c in CLASSIC_ROLES if c.template_id in by_template]
    if all_roles:
        rest = [role for role in r.state.roles if classic_for(role.template_id) is None]
        ordered += sorted(rest, key=lambda role: role.display_name.lower())
    return [RoleSummary(role, classic_for(role.template_id), is_privileged(role), _held(active, role),
                        None if eligible is None else _held(eligibles, role)) for role in ordered]


def _counts(definition_ids: Iterable[str]) -> Counter[str]:
    return Counter(i.lower() for i in definition_ids)


def _held(counts: Counter[str], role: RoleDefinition) -> int:
    """Assignments naming the role by its id or, for a custom role, by its template id."""
    same = role.id.lower() == role.template_id.lower()
    return counts.get(role.id.lower(), 0) + (0 if same else counts.get(role.template_id.lower(), 0))


@dataclass(frozen=True)
class RoleMembers:
    role: RoleDefinition
    users: tuple[User, ...]  # sorted by UPN; groups and service principals are not listed
    # How each user holds the role: user id (lower) -> its assignments (active and/or eligible).
    holdings: dict[str, tuple[RoleAssignment, ...]] = field(default_factory=dict)


async def role_members(target: Target, role: str) -> RoleMembers:
    """The users holding ``role`` (alias, display name, legacy name or template id), active or
    eligible, with how each holds it when the tenant has PIM."""
    d = target.directory
    definition = (await Reader(d).resolve([role]))[0]
    held, pim = await asyncio.gather(d.role_assignments(role_id=definition.template_id),
                                     role_instances(d, definition.template_id))
    by_id = {a.id: a for a in held}
    by_id.update({a.id: a for a in pim})
    holdings: dict[str, list[RoleAssignment]] = {}
    for a in by_id.values():
        holdings.setdefault(a.principal_id.lower(), []).append(a)
    found = await d.users_by_id({a.principal_id for a in by_id.values()})
    return RoleMembers(definition, tuple(sorted(found.values(), key=lambda u: u.user_principal_name.lower())),
                       {k: tuple(sorted(v, key=lambda a: a.eligible)) for k, v in holdings.items()})


async def assign_roles(target: Target, specs: Iterable[UserSpec], review: Review | None = None,
                       run: RunOptions | None = None, holding: Holding | None = None) -> Applied:
    """Assign each spec's roles to its user, as ``holding`` says (active permanent by default;
    eligible or time-bound through PIM); a role already held that way is a note, not a change."""
    return await _role_changes(target, list(specs), review, run, holding, assign=True)


async def revoke_roles(target: Target, specs: Iterable[UserSpec], review: Review | None = None,
                       run: RunOptions | None = None, holding: Holding | None = None) -> Applied:
    """Revoke each spec's roles from its user (whichever kind it holds, or ``holding.which``);
    never the last active Global Administrator."""
    return await _role_changes(target, list(specs), review, run, holding, assign=False)


async def _role_changes(target: Target, specs: list[UserSpec], review: Review | None, run: RunOptions | None,
                        holding: Holding | None, *, assign: bool) -> Applied:
    review, run = review or Approve(), run or RunOptions()
    async with changing(target, review, run):
        r = Reader(target.directory)
        # A revoke can remove a Global Administrator: read who holds it alongside the users. The
        # PIM instances (read with the assignments) say how each role is held and whether PIM is there.
        # An assignment also reads its roles' PIM policies (their expiry rules), in the same round trip.
        await users_and_roles(r, [s.upn for s in specs], global_admins=not assign,
                              role_refs=sorted({ref for s in specs for ref in s.roles}), pim=True, policies=assign)
        planned = (plan_assign_rows if assign else plan_revoke_rows)(specs, r.state, holding)
        return await carry_out(target, r.state, planned, review, run)
