"""``audit --fix-plan`` as a use case: read the tenant and its PIM settings once, judge them against
the SCuBA baseline, and plan what fixes it without choosing people (``provisioner.plan.fixes``).
Nothing is written: the plan is for ``apply``, which checks it against the tenant again.

Round trips: as the audit's (``services.audit.read_tenant``), the approver read in the first round.

A PIM rule PATCH is delegated-only (graph-pim-baseline P§A4.3, A5): with an app-only credential the
plan is still written, saying so, and ``apply`` refuses its role-setting changes before any write
(:func:`refuse_app_only_rules`) rather than run the assignments and get 403 for every rule.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from provisioner import plan as planning
from provisioner.audit import baseline as scuba
from provisioner.changes import Action, Plan
from provisioner.config import Profile
from provisioner.errors import NotFound, ProvisionerError, Refused
from provisioner.graph import Kind, Response
from provisioner.model import User
from provisioner.plan.fixes import EXPIRING_WITHIN, FixPlan, FixRequest
from provisioner.plan.fixes import fix_plan as plan_fixes
from provisioner.queries import get_user_request
from provisioner.services.audit import BASELINE_READS, baseline, read_tenant, with_approvers
from provisioner.services.target import Target


async def fix_plan(target: Target, *, recipients: tuple[str, ...] = (), approver: str | None = None,
                   expiring_within: timedelta = EXPIRING_WITHIN) -> FixPlan:
    """The saved-plan-to-be that fixes SCuBA MS.AAD.7.4-7.9 where no choice of people is needed:
    alerts to ``recipients``, Global Administrator activation approved by ``approver`` (a UPN or an
    object id), highly privileged roles eligible (a Global Administrator whose active assignment ends
    within ``expiring_within`` does not count as staying active); with the tenant's name and the
    fingerprint ``apply`` checks."""
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
    assignments_read = state.pim is not None
    if not assignments_read:  # the instances were refused: PIM's licence, from the tenant's service plans
        state.pim = _pim_plan(answers.get("service_plans"))
    judged = await baseline(d, state, answers, profile.scuba, immutable=read.immutable)
    if chosen is not None:
        await with_approvers(d, state, chosen)
    request = FixRequest(
        recipients=recipients, approver=chosen,
        protected=frozenset(i.lower() for i in planning.protected_ids(state, target.policy())),
        excluded=frozenset(i.lower() for i in (*profile.scuba.excluded_users, *profile.scuba.excluded_groups)),
        expiring_within=expiring_within, assignments_read=assignments_read)
    fixed = plan_fixes(state, judged, request)
    plan = replace(fixed.plan, tenant=profile.name, fingerprint=planning.fingerprint(state, fixed.plan))
    rules = _rule_changes(plan)
    person = ((f"Its {rules} PIM role setting change(s) need a signed-in person: Graph refuses them from an "
               f"application ({_credential(profile)}), so apply refuses this plan with it; {SIGN_IN}.",)
              if rules and await acts_as_app(target) else ())
    return replace(fixed, plan=plan, notes=(*judged.notes, *fixed.notes, *person))


def _pim_plan(resp: Response | None) -> bool | None:
    """Whether a subscribed SKU holds Entra ID P2 or Governance, provisioned (P§A6.3); None: not read."""
    if resp is None or not resp.ok:
        return None
    plans = {p.get("servicePlanName") for sku in resp.values() for p in sku.get("servicePlans") or ()
             if p.get("provisioningStatus") == "Success"}
    return bool(plans & {scuba.P2_PLAN, scuba.GOVERNANCE_PLAN})


# --- who may change PIM role settings -------------------------------------------------------------

# Credentials that act as an application: no person signs in (auth.py's builders).
APP_ONLY_AUTH = frozenset({"certificate", "secret", "workload-identity", "github-oidc", "managed-identity"})
SIGN_IN = ('apply it with a profile where a Privileged Role Administrator signs in: auth = "device-code" or '
           'auth = "browser"')


def app_only(profile: Profile) -> bool:
    """Whether the profile's credential acts as an application (no signed-in person): its auth method,
    or for a static token its claims (``roles`` without ``scp``). The local tenant in-process and an
    unreadable token: False (Graph says what it refuses)."""
    if profile.is_local or not profile.auth:
        return False
    if profile.auth in APP_ONLY_AUTH:
        return True
    if profile.auth != "token":
        return False  # device-code, browser, azure-cli: a person signs in
    from provisioner import auth, permissions

    try:
        delegated, _ = permissions.granted_from_claims(auth.token_claims(auth.static_token(profile)))
    except ProvisionerError:
        return False
    return not delegated


async def acts_as_app(target: Target) -> bool:
    """:func:`app_only`, and for an Azure CLI sign-in (``az login`` as a person, or as a service
    principal or managed identity) the claims of the token it gives."""
    profile = target.profile
    if app_only(profile):
        return True
    if profile.auth != "azure-cli":
        return False
    from provisioner import auth, permissions

    try:
        delegated, _ = permissions.granted_from_claims(auth.token_claims(await target.directory.bearer_token()))
    except ProvisionerError:
        return False  # no token to tell from: Graph says what it refuses
    return not delegated


async def refuse_app_only_rules(target: Target, plan: Plan) -> None:
    """Refuse (exit 4), before any write, a plan changing PIM role settings with an app-only
    credential: Graph accepts a rule PATCH only from a signed-in person (P§A4.3, A5)."""
    rules = _rule_changes(plan)
    if rules and await acts_as_app(target):
        raise Refused(f"this plan changes {rules} PIM role setting(s), which Graph accepts only from a signed-in "
                      f"person, not from an application ({_credential(target.profile)}); nothing was written: "
                      f"{SIGN_IN}")


def _rule_changes(plan: Plan) -> int:
    return sum(1 for c in plan.changes if c.action is Action.POLICY_RULE)


def _credential(profile: Profile) -> str:
    return "an app-only token" if profile.auth == "token" else f'auth = "{profile.auth}"'
