"""Two digests a saved plan carries: the fingerprint of the tenant state it was made from (so a
plan the tenant has moved away from is refused) and the digest of its own content (so an edited
plan file is refused). Pure."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from provisioner.changes import Action, Plan
from provisioner.model import RoleAssignment, TenantState, User
from provisioner.plan.index import Index
from provisioner.roles.catalog import GLOBAL_ADMIN_ID
from provisioner.roles.rules import holders


def digest(plan: Plan) -> str:
    """The sha256 a plan file carries over its changes, tenant and fingerprint (format 2).

    It only catches careless edits: whoever has this code can recompute it, which is why
    ``apply`` also re-derives every label from the ids (``check_labels``)."""
    return plan.digest


def fingerprint(state: TenantState, plan: Plan, licenses: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """A sha256 over the parts of the tenant state the plan depends on.

    Covers, for every user the plan names (by UPN, by object id, and any new UPN of a restore):
    the active user's properties (its usage location among them) or its absence, the matching
    deleted users, their role assignments; and every Global Administrator assignment, which the
    guardrails read; for every policy-rule change, the role's policy id and the rule as it is; for
    every license change of an existing user, the licenses it holds (``licenses``: lower-cased
    object id -> skuId -> ``plan.licenses.Held``; a user missing from it holds none it is known to);
    for every grant through PIM whose role's policy was read (``state.policies``), the policy id and
    its admin expiry rule for that kind (``Expiration_Admin_Eligibility`` or ``_Assignment``): a rule
    tightened since would make the grant fail at apply, and the revoke it replaces must not run alone.
    Free seats are left out: another user's assignment must not make a plan stale, so ``apply``
    counts the seats again instead. The clock is left out, so the same tenant gives the same digest
    later.
    """
    index = Index(state)
    upns: set[str] = set()
    ids: set[str] = set()
    rules: dict[str, Any] = {}
    for c in plan.changes:
        if c.action is Action.POLICY_RULE:
            # The rule as it is, and which policy is the role's: the change was made from them.
            policy = state.policies.get(index.template(c.role_id or ""))
            rules[f"{c.role_id}/{c.rule_id}"] = [policy.id, policy.rules.get(c.rule_id or "")] if policy else None
            continue
        upns.add(c.upn.lower())
        if c.object_id:
            ids.add(c.object_id.lower())
        if c.new_upn:
            upns.add(c.new_upn.lower())
    # A UPN stands for the id it names (or none); each id's properties are digested once.
    upn_ids: dict[str, str | None] = {}
    for upn in upns:
        user = state.user(upn)
        upn_ids[upn] = user.id.lower() if user is not None else None
        if user is not None:
            ids.add(user.id.lower())
    users = {oid: _user_digest(index.by_id.get(oid)) for oid in ids}
    deleted = sorted(
        [d.id, d.user_principal_name, d.deleted.isoformat(), d.on_premises_sync_enabled]
        for d in state.deleted
        if d.id.lower() in ids or d.original_upn.lower() in upns
    )
    ga_principals = holders(state, GLOBAL_ADMIN_ID)
    assignments = sorted(
        [a.id, a.principal_id, a.role_definition_id, a.directory_scope_id]
        for a in state.assignments
        if a.principal_id.lower() in ids or (a.principal_id in ga_principals and _is_ga(a, index))
    )
    ga_users = [_user_digest(index.by_id.get(p.lower())) or p for p in sorted(ga_principals)]
    payload = {"upns": upn_ids, "users": users, "deleted": deleted, "assignments": assignments,
               "globalAdmins": ga_users}
    if rules:  # only a plan with policy-rule changes: other plans' fingerprints stay as they were
        payload["policyRules"] = rules
    expiry = _expiry_rules(state, plan, index)
    if expiry:  # likewise only a plan granting through PIM a role whose policy was read
        payload["expiryRules"] = expiry
    licensed = sorted({c.object_id.lower() for c in plan.changes if c.action is Action.LICENSE and c.object_id})
    if licensed:  # likewise only a plan with license changes
        payload["licenses"] = {oid: _held_digest((licenses or {}).get(oid)) for oid in licensed}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _expiry_rules(state: TenantState, plan: Plan, index: Index) -> dict[str, Any]:
    """Role template id/rule id -> [policy id, the rule as read], for each kind of grant through PIM."""
    found: dict[str, Any] = {}
    for c in plan.changes:
        if c.action is not Action.ASSIGN or not c.through_pim:
            continue
        template = index.template(c.role_id or "")
        policy = state.policies.get(template)
        if policy is not None:
            rule_id = "Expiration_Admin_Eligibility" if c.eligible else "Expiration_Admin_Assignment"
            found[f"{template}/{rule_id}"] = [policy.id, policy.rules.get(rule_id)]
    return found


def _is_ga(a: RoleAssignment, index: Index) -> bool:
    return index.template(a.role_definition_id) == GLOBAL_ADMIN_ID


def _user_digest(user: User | None) -> Any:
    if user is None:
        return None
    g = user.to_graph()
    g.pop("createdDateTime", None)
    return g


def _held_digest(held: Mapping[str, Any] | None) -> Any:
    """skuId -> [disabled plan ids, assigned directly], the way the licenses of a user were read."""
    if held is None:
        return None
    # by_group only when set: plans made before it was read keep their digest.
    return {sku: [sorted(h.disabled), h.direct, *([True] if h.by_group else [])] for sku, h in sorted(held.items())}
