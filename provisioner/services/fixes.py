"""``audit --fix-plan`` as a use case: read the tenant and its PIM settings once, judge them against
the SCuBA baseline, and plan what fixes it without choosing people (``provisioner.plan.fixes``).
Nothing is written: the plan is for ``apply``, which checks it against the tenant again.

Round trips: as the audit's (``services.audit.read_tenant``), the approver read in the first round.
"""

from __future__ import annotations

from dataclasses import replace

from provisioner import plan as planning
from provisioner.errors import NotFound
from provisioner.graph import Kind, get_user_request
from provisioner.model import User
from provisioner.plan.fixes import FixPlan, FixRequest
from provisioner.plan.fixes import fix_plan as plan_fixes
from provisioner.services.audit import BASELINE_READS, baseline, read_tenant, with_approvers
from provisioner.services.target import Target


async def fix_plan(target: Target, *, recipients: tuple[str, ...] = (), approver: str | None = None) -> FixPlan:
    """The saved-plan-to-be that fixes SCuBA MS.AAD.7.4-7.9 where no choice of people is needed:
    alerts to ``recipients``, Global Administrator activation approved by ``approver`` (a UPN or an
    object id), highly privileged roles eligible; with the tenant's name and the fingerprint
    ``apply`` checks."""
    d = target.directory
    reads = [*BASELINE_READS.values(), *([get_user_request("approver", approver)] if approver else [])]
    read = await read_tenant(d, protected=target.profile.safety.protected_accounts, also=reads)
    state, answers = read.state, read.answers
    chosen = None
    if approver:
        resp = answers.pop("approver")
        if resp.kind is Kind.NOT_FOUND:
            raise NotFound(f"--approver {approver}: no such user in this tenant; name the approver by user principal "
                           "name or object id")
        chosen = User.from_graph(resp.checked().body)
    profile = target.profile
    judged = await baseline(d, state, answers, profile.scuba, immutable=read.immutable)
    if chosen is not None:
        await with_approvers(d, state, chosen)
    request = FixRequest(
        recipients=recipients, approver=chosen,
        protected=frozenset(i.lower() for i in planning.protected_ids(state, target.policy())),
        excluded=frozenset(i.lower() for i in (*profile.scuba.excluded_users, *profile.scuba.excluded_groups)))
    fixed = plan_fixes(state, judged, request)
    plan = replace(fixed.plan, tenant=profile.name, fingerprint=planning.fingerprint(state, fixed.plan))
    return replace(fixed, plan=plan, notes=(*judged.notes, *fixed.notes))
