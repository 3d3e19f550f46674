"""The PIM policy rule changes a plan makes (graph-pim-baseline P§A4.3-A4.5), built from the rule
as the tenant has it. Pure. ``check_labels`` builds them again from the rule read at apply time: a
saved change must be exactly what these give, so an edited plan cannot send more than it shows.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from provisioner.changes import Change
from provisioner.plan.index import Index
from provisioner.planfile import APPROVER_KEYS, SETTING_KEYS, STAGE_KEYS

# A new approval stage when a rule has none (the v1.0 sample values, P§A4.4).
_STAGE = {"@odata.type": "microsoft.graph.unifiedApprovalStage", "approvalStageTimeOutInDays": 1,
          "isApproverJustificationRequired": True, "escalationTimeInMinutes": 0, "isEscalationEnabled": False,
          "primaryApprovers": [], "escalationApprovers": []}


def notification_update(rule: Mapping[str, Any], recipients: Sequence[str]) -> tuple[dict, dict]:
    """(updates, properties) adding ``recipients`` to an alert rule's, the ones it has kept first."""
    old = list(rule.get("notificationRecipients") or [])
    new = list(old)
    have = {r.lower() for r in old}
    for r in recipients:
        if r.lower() not in have:
            have.add(r.lower())
            new.append(r)
    return {"notificationRecipients": (old, new)}, {"notificationRecipients": new}


def approval_update(rule: Mapping[str, Any], approver_ids: Sequence[str], index: Index) -> tuple[dict, dict]:
    """(updates, properties) making activation require approval, with ``approver_ids`` added as
    single-user approvers of the first stage (P§A4.5). The whole setting is sent: its other
    values are kept as the tenant has them (only the v1.0 keys)."""
    current = rule.get("setting") or {}
    setting = {k: copy.deepcopy(current[k]) for k in SETTING_KEYS if k in current}
    setting.setdefault("@odata.type", "microsoft.graph.approvalSettings")
    stages = [{k: v for k, v in stage.items() if k in STAGE_KEYS} for stage in setting.get("approvalStages") or []]
    for stage in stages:
        for key in ("primaryApprovers", "escalationApprovers"):
            stage[key] = [{k: v for k, v in a.items() if k in APPROVER_KEYS} for a in stage.get(key) or []]
        stage.setdefault("@odata.type", "microsoft.graph.unifiedApprovalStage")
    if not stages:
        stages = [copy.deepcopy(_STAGE)]
    old_approvers = list(stages[0]["primaryApprovers"])
    have = {str(a.get("userId", "")).lower() for a in old_approvers}
    for i in approver_ids:
        if i.lower() not in have:
            have.add(i.lower())
            stages[0]["primaryApprovers"].append({"@odata.type": "#microsoft.graph.singleUser", "userId": i})
    setting["isApprovalRequired"] = True
    setting["approvalStages"] = stages
    updates = {"isApprovalRequired": (current.get("isApprovalRequired"), True),
               "approvers": (_labels(old_approvers, index), _labels(stages[0]["primaryApprovers"], index))}
    return updates, {"setting": setting}


def added_approvers(c: Change) -> list[str]:
    """The single-user approver ids of a saved approval change's first stage."""
    stages = (c.properties.get("setting") or {}).get("approvalStages") or [{}]
    return [a["userId"] for a in stages[0].get("primaryApprovers") or () if "userId" in a]


def _labels(approvers: Sequence[Mapping[str, Any]], index: Index) -> list[str]:
    out = []
    for a in approvers:
        if a.get("userId"):
            user = index.by_id.get(str(a["userId"]).lower())
            out.append(user.user_principal_name if user else str(a["userId"]))
        elif a.get("groupId"):
            out.append(f"group {a['groupId']}")
        else:
            out.append(str(a.get("@odata.type", "?")).rsplit(".", 1)[-1])
    return out


def rebuilt(c: Change, rule: Mapping[str, Any], index: Index) -> tuple[dict, dict]:
    """(updates, properties) a saved policy-rule change must hold, built again from ``rule`` as the
    tenant has it now and the recipients or approvers the change adds."""
    if "setting" in c.properties:
        return approval_update(rule, added_approvers(c), index)
    return notification_update(rule, list(c.properties.get("notificationRecipients") or []))
