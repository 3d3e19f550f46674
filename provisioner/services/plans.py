"""Declarative use cases: plan a sync of a manifest, and apply a saved plan.

A saved plan is data someone may have edited: ``apply_plan`` reads only what the plan's fingerprint
covers, refuses a plan made for another tenant or from a state that has changed, re-derives every
label from the ids and, for license changes, counts the seats again before the first write.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from provisioner import plan as planning
from provisioner.changes import Action, Change, Plan
from provisioner.errors import Refused
from provisioner.licenses import Sku
from provisioner.model import Manifest, TenantState
from provisioner.plan import Planned
from provisioner.plan.licenses import Held, refuse, saved_problems
from provisioner.plan.pim_rules import added_approvers
from provisioner.queries import role_policies_request
from provisioner.roles.rules import disables
from provisioner.services.audit import POLICIES_REQUEST
from provisioner.services.fixes import refuse_app_only_rules
from provisioner.services.licenses import (
    license_reads,
    restored_license_reads,
    take_licenses,
    take_restored_licenses,
    with_licenses,
)
from provisioner.services.reads import (
    DEFINITIONS_REQUEST,
    DELETED_REQUEST,
    GA_INSTANCES,
    GA_REQUEST,
    Reader,
    full_state,
    role_policies,
)
from provisioner.services.target import Applied, Approve, Passwords, Review, RunOptions, Target, carry_out, changing

# Plans come from sync --out and from audit --fix-plan: either is made again the same way.
AGAIN = "provisioner sync MANIFEST --out PLAN.json, or provisioner audit --fix-plan PLAN.json"
STALE = f"the tenant changed since this plan was made; make the plan again ({AGAIN})"


async def plan_sync(target: Target, manifest: Manifest, *, prune: bool = False) -> tuple[TenantState, Planned]:
    """Read the whole tenant and plan the changes that make it match ``manifest``."""
    state = await full_state(target.directory, policies={ref for spec in manifest.users for ref in spec.roles})
    planned = planning.diff(manifest, state, prune=prune)
    planned = await with_licenses(target.directory, planned, state,
                                  [(s.upn, s.licenses, "in the manifest") for s in manifest.users])
    return state, Planned(replace(planned.plan, tenant=target.profile.name), planned.notes)


async def sync(target: Target, manifest: Manifest, review: Review | None = None, run: RunOptions | None = None, *,
               prune: bool = False, passwords: Passwords | None = None) -> Applied:
    """Converge the tenant to ``manifest``: plan, guard, review, run."""
    review, run = review or Approve(), run or RunOptions()
    async with changing(target, review, run):
        state, planned = await plan_sync(target, manifest, prune=prune)
        return await carry_out(target, state, planned, review, run, passwords=passwords or Passwords())


@dataclass
class ReadForPlan:
    """What ``apply`` read to check a plan: the tenant state and, for a plan with license changes,
    the tenant's SKUs and the licenses its users hold (lower-cased object id -> skuId -> Held)."""

    state: TenantState
    skus: list[Sku] = field(default_factory=list)
    held: dict[str, dict[str, Held]] = field(default_factory=dict)
    returning: dict[str, dict[str, Held]] = field(default_factory=dict)  # what the plan's restores take back


async def read_for(target: Target, plan: Plan) -> ReadForPlan:
    """What the plan's fingerprint covers, in two round trips: the users it names (by UPN and by id),
    the deleted users, the Global Administrator assignments and the role definitions (and the roles'
    PIM policies for a policy-rule change or a grant through PIM; how each Global Administrator
    assignment is held, its end, when the plan could remove or shorten one; the tenant's SKUs and the
    licensed users' licenses for a license change: their object ids are in the plan); then those
    users' assignments (with their PIM instances when the plan revokes through PIM, revokes an
    eligible role or moves an end) and the Global Administrators' accounts."""
    r = Reader(target.directory)
    names = {c.upn for c in plan.changes if c.upn} | {c.new_upn for c in plan.changes if c.new_upn}
    ids = {c.object_id for c in plan.changes if c.object_id}
    # A PIM policy-rule change: the roles' policies, and the approvers its labels name.
    rules = [c for c in plan.changes if c.action is Action.POLICY_RULE]
    ids |= {i for c in rules for i in added_approvers(c)}
    # A grant through PIM: its role's expiry rules, which the fingerprint covers (all of them ride along
    # with a policy-rule change's read of every policy).
    granted = sorted({c.role_id.lower() for c in plan.changes
                      if c.action is Action.ASSIGN and c.through_pim and c.role_id})
    policies = [POLICIES_REQUEST] if rules else [role_policies_request(f"pol:{i}", i) for i in granted]
    licenses = [c for c in plan.changes if c.action is Action.LICENSE]
    licensed = sorted({c.object_id.lower() for c in licenses if c.object_id})
    # A restore takes its user's licenses back, seats included (L§6.9): counted against the additions.
    restored = sorted({c.object_id.lower() for c in plan.changes if c.action is Action.RESTORE and c.object_id}
                      if licenses else ())
    ends = any(map(shortens_a_role, plan.changes))
    also = [GA_REQUEST, *([GA_INSTANCES] if ends else []), DELETED_REQUEST, DEFINITIONS_REQUEST, *policies,
            *(license_reads(licensed) if licenses else []), *restored_license_reads(restored)]
    answers = await r.users(sorted(names | ids), also=also)
    if rules:
        r.state.policies = role_policies(await r.collect(answers["policies"]))
    await r.take_policies(answers)
    read = ReadForPlan(r.state)
    if licenses:
        read.skus, read.held = await take_licenses(target.directory, answers, licensed, missing_ok=True)
        read.returning = await take_restored_licenses(target.directory, answers, restored)
    await r.global_admins(answers)
    await r.deleted(answers)
    await r.take_definitions(answers)
    # A reschedule is checked against how its assignment is held (kind, PIM or not, end), a revoke
    # against the kind it says it removes: the users' PIM instances.
    pim = any(c.action is Action.RESCHEDULE or (c.action is Action.REVOKE and (c.eligible or c.through_pim))
              for c in plan.changes)
    # (Above 50 users, one listing of every instance, in the same round trip: Reader.assignments_of.)
    await r.assignments_of(r.ids(), also=r.unknown_holders(), pim=pim)
    if ends:  # after the users' assignments, which say nothing of ends: each GA assignment's end
        await r.take_ends(answers)
    return read


def shortens_a_role(c: Change) -> bool:
    """Whether a change can take away or shorten someone's Global Administrator (or any role): a
    revoke, a new end, a delete or purge, a disable. Apply then reads how each Global Administrator
    assignment is held, so the guardrails judge the ends that remain."""
    return c.action in (Action.REVOKE, Action.RESCHEDULE, Action.DELETE, Action.PURGE) or (
        c.action is Action.UPDATE and disables(c))


async def check_plan(target: Target, plan: Plan) -> TenantState:
    """Refuse (exit 4) a plan for another tenant, one the tenant has moved away from, or one whose
    names (UPNs, role names) do not name the objects its ids do; return the state it was checked
    against."""
    tenant = target.profile.name
    if plan.tenant and tenant and plan.tenant != tenant:
        raise Refused(f"this plan was made for tenant {plan.tenant!r}, not {tenant!r}; apply it with --tenant "
                      f"{plan.tenant}, or make the plan again against this tenant ({AGAIN})")
    read = await read_for(target, plan)
    state = read.state
    if not plan.fingerprint or planning.fingerprint(state, plan, read.held) != plan.fingerprint:
        raise Refused(STALE)
    problems = planning.check_labels(plan, state, read.skus)
    if problems:
        head = (f"this plan's names and ids disagree ({len(problems)} problem{'s' if len(problems) > 1 else ''}): "
                "it was edited after it was made; nothing was written. Make the plan again: provisioner sync "
                "MANIFEST --out PLAN.json")
        raise Refused("\n".join([head, *(f"  - {p}" for p in problems)]))
    # The seats: the fingerprint leaves them out (another user's license must not make the plan
    # stale), so they are counted again here, with the usage locations, before the first write.
    refuse(saved_problems(plan, state, read.skus, read.held, read.returning))
    return state


async def apply_plan(target: Target, plan: Plan, review: Review | None = None, run: RunOptions | None = None, *,
                     passwords: Passwords | None = None) -> Applied:
    """Apply exactly a saved plan, if it still fits the tenant."""
    review, run = review or Approve(), run or RunOptions()
    await refuse_app_only_rules(target, plan)  # a PIM rule PATCH is delegated-only: before any write
    async with changing(target, review, run):
        state = await check_plan(target, plan)
        return await carry_out(target, state, Planned(plan), review, run, passwords=passwords or Passwords())

