"""Can a saved plan be trusted? Its ids are the truth (the writes use them); its labels (user
principal names, role names) are what a person read and approved. ``check_labels`` re-derives
every label from its id in the tenant state read for apply and lists each disagreement, so a
plan that says "delete alex" but carries another user's object id is refused. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from provisioner.changes import Action, Change, Plan
from provisioner.licenses import Sku
from provisioner.model import RoleAssignment, TenantState
from provisioner.plan.index import Index
from provisioner.plan.pim_rules import rebuilt
from provisioner.planfile import RULE_TYPES

# Actions whose object id must name an active user (or one this plan restores first).
_ON_ACTIVE = (Action.UPDATE, Action.DELETE, Action.ASSIGN, Action.REVOKE)


def check_labels(plan: Plan, state: TenantState, skus: Iterable[Sku] = ()) -> list[str]:
    """Every place where a change's labels and ids disagree in ``state``, one line each; empty
    when the plan is consistent.

    Checked: the object id names an active user (a deleted one for RESTORE and PURGE) whose user
    principal name (original one when deleted) is the change's ``upn``, without regard to case;
    an ASSIGN or LICENSE without an object id goes to a user the plan creates; the role id names a role
    whose display name is ``role_name`` (from the role catalog when the state holds no roles); a
    REVOKE's assignment exists, tenant-wide, for that user and that role; a CREATE's name is free;
    a RESCHEDULE's assignment is the user's, of that role and kind, made through PIM, and ends (by
    day) when the plan says it ends before the change;
    a POLICY_RULE's policy id is its role's PIM policy, which has that rule, of that type, and the
    change is exactly what the fix planner makes of the rule as it is now (``pim_rules.rebuilt``).
    A RESET-PASSWORD is checked as an UPDATE is (its object id names the active user its UPN names).
    A LICENSE's skuIds are SKUs of the tenant (``skus``, as read for apply; removing one it no longer
    has is allowed, unnamed) whose part numbers are the names the change shows, and each plan it
    disables is a service plan of that SKU by the name shown; one line per disagreement.
    """
    index = Index(state)
    by_sku = {s.id: s for s in skus}
    created = {c.upn.lower() for c in plan.changes if c.action is Action.CREATE}
    # A user this plan restores may be updated or given roles by later changes of the same plan.
    restored: dict[str, set[str]] = {}
    for c in plan.changes:
        if c.action is Action.RESTORE and c.object_id:
            restored[c.object_id.lower()] = {n.lower() for n in (c.upn, c.new_upn) if n}
    problems: list[str] = []
    for c in plan.changes:
        if c.action is Action.POLICY_RULE:
            found = _role_problem(c, index) or _rule_problem(c, index)
            if found is not None:
                problems.append(f"change the {c.rule_id} rule of {c.role_name}: {found}")
            continue
        found = _user_problem(c, index, created, restored)
        if found is None and c.action in (Action.ASSIGN, Action.REVOKE, Action.RESCHEDULE):
            found = _role_problem(c, index)
        if found is None and c.action is Action.REVOKE:
            found = _assignment_problem(c, index)
        if found is None and c.action is Action.RESCHEDULE:
            found = _end_problem(c, index)
        if found is not None:
            problems.append(f"{_what(c)}: {found}")
        if c.action is Action.LICENSE:
            problems += [f"{_what(c)}: {p}" for p in _license_problems(c, by_sku)]
    return problems


def _what(c: Change) -> str:
    if c.action is Action.ASSIGN:
        return f"assign {c.role_name} to {c.upn}"
    if c.action is Action.REVOKE:
        return f"revoke {c.role_name} from {c.upn}"
    if c.action is Action.LICENSE:
        return f"change the licenses of {c.upn}"
    if c.action is Action.PASSWORD:
        return f"reset the password of {c.upn}"
    if c.action is Action.RESCHEDULE:
        return f"change the end of {c.role_name} for {c.upn}"
    return f"{c.action.value} {c.upn}"


def _license_problems(c: Change, skus: Mapping[str, Sku]) -> list[str]:
    """Where a license change's names (``properties``: skuId or plan id -> name) and ids disagree. A
    name left out is no disagreement: the id itself is shown."""
    found = []
    for sku_id, (_, new) in c.updates.items():
        label = c.properties.get(sku_id)
        sku = skus.get(sku_id.lower())
        if sku is None:
            if new is not None:
                found.append(f"license {sku_id}{f' ({label})' if label else ''} is not a license of this tenant "
                             "(see: provisioner licenses list)")
            elif label is not None and label != sku_id:
                found.append(f"license {sku_id} is not a license of this tenant, not {label}")
            continue
        if label is not None and label.casefold() != sku.part_number.casefold():
            found.append(f"license {sku_id} is {sku.part_number}, not {label}")
        plans = {p.id: p.name for p in sku.plans}
        for plan_id in new or ():
            name, shown = plans.get(plan_id.lower()), c.properties.get(plan_id)
            if name is None:
                found.append(f"service plan {plan_id}{f' ({shown})' if shown else ''} is not a plan of "
                             f"{sku.part_number}")
            elif shown is not None and shown.casefold() != name.casefold():
                found.append(f"service plan {plan_id} is {name}, not {shown}")
    return found


def _user_problem(c: Change, index: Index, created: set[str], restored: dict[str, set[str]]) -> str | None:
    label = c.upn.lower()
    if c.action is Action.CREATE:
        taken = index.state.user(c.upn)
        if taken is not None:
            return f"{taken.user_principal_name} already exists (object id {taken.id})"
        return None
    if c.object_id is None:
        if c.action in (Action.ASSIGN, Action.LICENSE) and label in created:
            return None
        return f"no object id, and {c.upn} is not created by this plan"
    oid = c.object_id.lower()
    user = index.by_id.get(oid)
    deleted = index.deleted_by_id.get(oid)
    if c.action in (Action.RESTORE, Action.PURGE):
        if deleted is None:
            actual = f"the active user {user.user_principal_name}" if user else "not a deleted user in this tenant"
            return f"object id {c.object_id} is {actual}"
        if deleted.original_upn.lower() != label:
            return f"object id {c.object_id} is the deleted user {deleted.original_upn}, not {c.upn}"
        return None
    if user is not None:
        if user.user_principal_name.lower() != label:
            return f"object id {c.object_id} is {user.user_principal_name}, not {c.upn}"
        return None
    if c.action is not Action.DELETE and oid in restored:
        if label in restored[oid]:
            return None
        return f"object id {c.object_id} is restored by this plan as {' or '.join(sorted(restored[oid]))}, not {c.upn}"
    if deleted is not None:
        return f"object id {c.object_id} is the deleted user {deleted.original_upn}, not an active user"
    return f"object id {c.object_id} is not a user in this tenant"


def _role_problem(c: Change, index: Index) -> str | None:
    name = index.role_display_name(c.role_id or "")
    if name is None:
        return f"role id {c.role_id} is not a role in this tenant"
    if name.casefold() != (c.role_name or "").casefold():
        return f"role id {c.role_id} is {name}, not {c.role_name}"
    return None


def _assignment_problem(c: Change, index: Index) -> str | None:
    """A revoke's or reschedule's assignment, looked up among the kind the change says it is (eligible
    ones in ``state.eligible``, active ones in ``state.assignments``): a revoke labelled eligible that
    carries an active assignment's id is refused, not sent."""
    a = _held(c, index)
    if a is None:
        other = index.assignments.get(c.assignment_id or "") if c.eligible else _eligible(c, index)
        if other is not None and c.action is Action.REVOKE:
            return f"role assignment {c.assignment_id} is not an {_kind(c)} assignment in this tenant"
        return f"role assignment {c.assignment_id} does not exist in this tenant"
    if a.directory_scope_id != "/":
        return f"role assignment {c.assignment_id} is scoped to {a.directory_scope_id}, not tenant-wide"
    if a.principal_id.lower() != (c.object_id or "").lower():
        holder = index.by_id.get(a.principal_id.lower())
        owner = holder.user_principal_name if holder else a.principal_id
        return f"role assignment {c.assignment_id} belongs to {owner}"
    if index.template(a.role_definition_id) != index.template(c.role_id or ""):
        role = index.role_display_name(a.role_definition_id) or a.role_definition_id
        return f"role assignment {c.assignment_id} is for {role}, not {c.role_name}"
    return None


def _kind(c: Change) -> str:
    return "eligible" if c.eligible else "active"


def _eligible(c: Change, index: Index) -> RoleAssignment | None:
    return next((e for e in index.state.eligible if e.id == c.assignment_id), None)


def _held(c: Change, index: Index) -> RoleAssignment | None:
    """The assignment a change names, among the kind it says it is."""
    return _eligible(c, index) if c.eligible else index.assignments.get(c.assignment_id or "")


def _end_problem(c: Change, index: Index) -> str | None:
    """A reschedule: its assignment is the user's, of that role and kind, through PIM, and ends (by day)
    when the plan says it does now; what the write sends is the new end, which a person read as such."""
    found = _assignment_problem(c, index)
    if found is not None:
        return found.replace("does not exist in this tenant", f"is not an {_kind(c)} assignment in this tenant")
    held = _held(c, index)
    if held is None:  # found above; kept for the type
        return f"role assignment {c.assignment_id} does not exist in this tenant"
    if not c.eligible and held.outside_pim is not False:
        return (f"role assignment {c.assignment_id} was made outside PIM (or PIM was not read): PIM cannot "
                "change its end")
    old = c.updates.get("endDateTime", (None, None))[0]
    if (held.end or "")[:10] != (old or "")[:10]:
        return (f"role assignment {c.assignment_id} ends {(held.end or '')[:10] or 'never (permanent)'}, not "
                f"{(old or '')[:10] or 'never (permanent)'} as the plan says")
    return None


def _rule_problem(c: Change, index: Index) -> str | None:
    policy = index.state.policies.get(index.template(c.role_id or ""))
    if policy is None:
        return f"the PIM policy of {c.role_name} was not found in this tenant"
    if policy.id != c.policy_id:
        return f"policy {c.policy_id} is not the PIM policy of {c.role_name} (that is {policy.id})"
    rule = policy.rules.get(c.rule_id or "")
    if rule is None:
        return f"policy {policy.id} has no rule {c.rule_id}"
    if str(rule.get("@odata.type", "")).lstrip("#") != RULE_TYPES[c.rule_id or ""].lstrip("#"):
        return f"rule {c.rule_id} is a {rule.get('@odata.type')}, not a {RULE_TYPES[c.rule_id or '']}"
    if (dict(c.updates), dict(c.properties)) != rebuilt(c, rule, index):
        return ("what it would send is not what it shows (the rule as it is, with only its recipients or "
                "approvers added)")
    return None
