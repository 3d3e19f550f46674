"""The plan file format (version 2): strict reading and the content digest. Stdlib only, so the
model can build on it.

A plan file is data someone may have edited, so every key is checked: strings where strings are
expected, ids of the right shape (they end up in request URLs), known actions, and no key an
action does not use. Each problem is one line naming the change and the key. The digest is a
sha256 over a canonical JSON of the content; it catches careless edits, not a determined editor
(who can recompute it): ``apply`` re-derives every label from the ids for that.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Mapping
from typing import Any

from provisioner.ids import EMAIL_EXAMPLE, GUID, GUID_PATTERN, is_email
from provisioner.isoduration import iso_span

FORMAT = 2
OLD_FORMAT = (
    "this plan was made by an older version of provisioner (format 1); make the plan again with this "
    "version: provisioner sync MANIFEST --out PLAN.json"
)

# Role assignment ids are opaque, not GUIDs (base64url of the role and principal ids plus a scope
# suffix, e.g. lAPpYvVpN0KRkAEhdxReEMmO4KwRqtpKkUWt3wOYIz4-1): URL-safe characters only.
# Every pattern here is checked with fullmatch: match with $ would accept a trailing newline.
ASSIGNMENT_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
SHA256 = re.compile(r"[0-9a-f]{64}")
UTC_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")

# How a role is held (PIM, graph-pim-baseline P§A1-A2): eligible or active, made through PIM's
# schedule requests or the direct API, until a date or for a duration, and why.
PIM_KEYS = ("eligible", "throughPim", "endDateTime", "duration", "justification")
PLAN_KEYS = ("formatVersion", "tenant", "fingerprint", "digest", "changes")
COMMON = ("action", "userPrincipalName", "reason")
# The keys each action uses, beyond COMMON; the ones in REQUIRED must be there.
KEYS: dict[str, tuple[str, ...]] = {
    "create": ("properties", "password"),
    "update": ("objectId", "updates"),
    "manager": ("objectId", "updates", "managerId"),  # no managerId: the manager is removed
    "revoke-sessions": ("objectId",),
    "reset-password": ("objectId", "properties", "password"),
    "restore": ("objectId", "newUserPrincipalName", "autoReconcileProxyConflict"),
    "assign": ("objectId", "roleDefinitionId", "roleName", *PIM_KEYS),
    "revoke": ("objectId", "roleDefinitionId", "roleName", "assignmentId", "eligible", "throughPim"),
    # Always through PIM (adminUpdate): no throughPim key; ``updates`` {"endDateTime": [old, new]}.
    "reschedule": ("objectId", "roleDefinitionId", "roleName", "assignmentId", "eligible", "justification", "updates"),
    # no objectId: the user is created by the same plan; properties: the names of its SKUs and plans
    "license": ("objectId", "updates", "properties"),
    "delete": ("objectId",),
    "purge": ("objectId",),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "create": ("properties", "password"),
    "update": ("objectId", "updates"),
    "manager": ("objectId", "updates"),
    "revoke-sessions": ("objectId",),
    "reset-password": ("objectId", "properties", "password"),
    "restore": ("objectId",),
    "assign": ("roleDefinitionId", "roleName"),  # no objectId: the user is created by the same plan
    "revoke": ("objectId", "roleDefinitionId", "roleName", "assignmentId"),
    "reschedule": ("objectId", "roleDefinitionId", "roleName", "assignmentId", "updates"),
    "license": ("updates",),
    "delete": ("objectId",),
    "purge": ("objectId",),
}
PASSWORD_SOURCES = ("generate", "supplied")
# A saved reset never carries a password: it is generated when the plan is applied. A supplied one
# could not be supplied again at apply time; a random one shown to nobody is offboarding's alone (a
# file could otherwise lock anyone out, the only Global Administrator too), and offboarding saves no plan.
RESET_SOURCES = ("generate",)
_SHAPES = {
    "objectId": (GUID, "an object id (a GUID like 00000000-0000-0000-0000-000000000000)"),
    "managerId": (GUID, "the manager's object id (a GUID like 00000000-0000-0000-0000-000000000000)"),
    "roleDefinitionId": (GUID, "a role id (a GUID like 62e90394-69f5-4237-9190-012177145e10)"),
    "assignmentId": (ASSIGNMENT_ID, "a role assignment id (letters, digits, - and _)"),
}


class PlanFormatError(ValueError):
    """A plan file that is not a valid format-2 plan; the message names the key at fault."""


class OldPlanFormat(PlanFormatError):
    """A plan file written by an older version of the tool."""


class DigestMismatch(PlanFormatError):
    """A plan file whose content no longer matches the digest written with it."""


def digest(content: Mapping[str, Any]) -> str:
    """sha256 over the canonical JSON (sorted keys, no spaces, UTF-8) of a plan's content."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def check_plan(d: Any) -> list[Mapping[str, Any]]:
    """Check a plan file's top level; return its changes (each still to be checked)."""
    if not isinstance(d, Mapping):
        raise PlanFormatError("not a provisioner plan (a JSON object expected)")
    version = d.get("formatVersion")
    if version == 1 and not isinstance(version, bool):
        raise OldPlanFormat(OLD_FORMAT)
    if version != FORMAT or isinstance(version, bool):
        raise PlanFormatError(f"not a provisioner plan (formatVersion {FORMAT} expected)")
    _no_unknown(d, PLAN_KEYS, "the plan")
    _string(d, "tenant", "the plan")
    for key in ("fingerprint", "digest"):
        if not isinstance(d.get(key), str) or not SHA256.fullmatch(d[key]):
            raise PlanFormatError(f"the plan's {key} must be 64 lower-case hex digits (a sha256)")
    changes = d.get("changes")
    if not isinstance(changes, list):
        raise PlanFormatError("the plan's changes must be a list")
    for n, c in enumerate(changes, 1):
        if not isinstance(c, Mapping):
            raise PlanFormatError(f"change {n} must be a JSON object")
    return changes


def change_fields(
    d: Mapping[str, Any], n: int, *, create_properties: Collection[str], update_properties: Collection[str]
) -> dict[str, Any]:
    """Check change number ``n`` of a plan file; return its fields by the model's names (plain
    strings for the action and the password source)."""
    action = d.get("action")
    if action not in KEYS:
        raise PlanFormatError(f"change {n}: action must be one of {', '.join(KEYS)}, not {action!r}")
    if action == POLICY_RULE:
        return policy_rule_fields(d, n)
    where = f"change {n} ({action} {d.get('userPrincipalName')})"
    _no_unknown(d, COMMON + KEYS[action], where)
    for key in REQUIRED[action]:
        if key not in d:
            raise PlanFormatError(f"{where}: {key} is missing")
    upn = _string(d, "userPrincipalName", where)
    if "@" not in upn:
        raise PlanFormatError(f"{where}: userPrincipalName must be a user principal name, like alice@contoso.com")
    fields: dict[str, Any] = {"action": action, "upn": upn, "reason": _string(d, "reason", where, default="")}
    for key, name in (("objectId", "object_id"), ("roleDefinitionId", "role_id"), ("assignmentId", "assignment_id"),
                      ("managerId", "manager_id")):
        if key in d:
            value = _string(d, key, where)
            shape, what = _SHAPES[key]
            if not shape.fullmatch(value):
                raise PlanFormatError(f"{where}: {key} must be {what}, not {value!r}")
            fields[name] = value
    if "roleName" in d:
        fields["role_name"] = _string(d, "roleName", where)
    if "newUserPrincipalName" in d:
        fields["new_upn"] = _string(d, "newUserPrincipalName", where)
    if "autoReconcileProxyConflict" in d:
        if not isinstance(d["autoReconcileProxyConflict"], bool):
            raise PlanFormatError(f"{where}: autoReconcileProxyConflict must be true or false")
        fields["auto_reconcile"] = d["autoReconcileProxyConflict"]
    for key, name in (("eligible", "eligible"), ("throughPim", "through_pim")):
        if key in d:
            if not isinstance(d[key], bool):
                raise PlanFormatError(f"{where}: {key} must be true or false")
            fields[name] = d[key]
    # An eligible assignment is granted and removed only through PIM's schedule requests: without
    # throughPim the write would be the direct API's, which only knows active assignments (a revoke
    # would DELETE the active assignment its id names, whatever "eligible" says).
    if action in ("assign", "revoke") and fields.get("eligible") and not fields.get("through_pim"):
        raise PlanFormatError(f"{where}: eligible is true but throughPim is not; an eligible assignment is made and "
                              "removed only through PIM (throughPim: true)")
    for key, name in (("endDateTime", "end"), ("duration", "duration"), ("justification", "justification")):
        if key in d:
            fields[name] = _string(d, key, where)
    if "end" in fields and not UTC_TIME.fullmatch(fields["end"]):
        raise PlanFormatError(f"{where}: endDateTime must be a UTC time like 2027-01-31T00:00:00Z")
    if "duration" in fields and iso_span(fields["duration"]) is None:
        raise PlanFormatError(f"{where}: duration must be an ISO 8601 duration like P30D or PT8H")
    if action == "create":
        fields["properties"] = _properties(d, where, upn, create_properties)
        password = d["password"]
        if password not in PASSWORD_SOURCES:
            raise PlanFormatError(f"{where}: password must be \"generate\" or \"supplied\" (never a password itself)")
        fields["password"] = password
    if action == "update":
        fields["updates"] = _updates(d, where, update_properties)
    if action == "manager":
        fields["updates"] = _updates(d, where, ("manager",))
    if action == "reset-password":
        fields["properties"], fields["password"] = _reset(d, where)
    if action == "license":
        fields["updates"] = _license_updates(d, where)
        if "properties" in d:
            fields["properties"] = _license_names(d["properties"], fields["updates"], where)
    if action == "reschedule":
        fields["updates"] = _end_updates(d, where)
    return fields


def _end_updates(d: Mapping[str, Any], where: str) -> dict[str, tuple[Any, Any]]:
    """A reschedule's {"endDateTime": [old, new]}: UTC times, null for no end; the new one is what is sent."""
    updates = d["updates"]
    if not isinstance(updates, Mapping) or set(updates) != {"endDateTime"}:
        raise PlanFormatError(f"{where}: updates must be {{\"endDateTime\": [old end, new end]}}")
    pair = updates["endDateTime"]
    if not isinstance(pair, list) or len(pair) != 2 or pair[0] == pair[1] or not all(
            v is None or (isinstance(v, str) and UTC_TIME.fullmatch(v)) for v in pair):
        raise PlanFormatError(f"{where}: updates.endDateTime must be a pair [old, new] of different UTC times like "
                              "2027-01-31T00:00:00Z, null for no end")
    return {"endDateTime": (pair[0], pair[1])}


def _reset(d: Mapping[str, Any], where: str) -> tuple[dict[str, Any], str]:
    props = d["properties"]
    if not isinstance(props, Mapping) or set(props) != {"forceChangePasswordNextSignIn"} or not isinstance(
            props["forceChangePasswordNextSignIn"], bool):
        raise PlanFormatError(f"{where}: properties must be {{\"forceChangePasswordNextSignIn\": true or false}}")
    if d["password"] == "random":
        raise PlanFormatError(f"{where}: password must be \"generate\", not \"random\": a reset to a password nobody "
                              "sees is only made by users offboard, never from a file")
    if d["password"] not in RESET_SOURCES:
        raise PlanFormatError(f"{where}: password must be \"generate\" (never a password itself)")
    return dict(props), d["password"]


def _license_updates(d: Mapping[str, Any], where: str) -> dict[str, tuple[Any, Any]]:
    """skuId -> [disabled plan ids held before or null (not held), after or null (removed)]."""
    updates = d["updates"]
    if not isinstance(updates, Mapping) or not updates:
        raise PlanFormatError(f"{where}: updates must be a JSON object of skuId: [disabled plans before, after]")
    out: dict[str, tuple[Any, Any]] = {}
    for key, pair in updates.items():
        if not GUID.fullmatch(key):
            raise PlanFormatError(f"{where}: updates key {key!r} must be a license's skuId (a GUID like "
                                  "06ebc4ee-1bb5-47dd-8120-11324bc54e06)")
        # GUIDs are one id in any case: two spellings of one SKU would be two contradicting changes of it.
        sku = key.lower()
        if sku in out:
            raise PlanFormatError(f"{where}: updates names license {sku} twice (skuIds are the same in any case); "
                                  "keep one [before, after] pair for it")
        if not isinstance(pair, list) or len(pair) != 2 or pair == [None, None]:
            raise PlanFormatError(f"{where}: updates.{sku} must be a pair [before, after] of disabled plan "
                                  "lists, null for not held (before) or removed (after)")
        for value in pair:
            if value is not None and not (isinstance(value, list) and all(
                    isinstance(p, str) and GUID.fullmatch(p) for p in value)):
                raise PlanFormatError(f"{where}: updates.{sku} must hold lists of service plan ids (GUIDs) or "
                                      f"null, not {json.dumps(value)}")
        out[sku] = tuple(None if v is None else list(dict.fromkeys(p.lower() for p in v)) for v in pair)  # type: ignore[assignment]
    return out


def _license_names(props: Any, updates: Mapping[str, tuple[Any, Any]], where: str) -> dict[str, str]:
    """skuId or service plan id -> the name shown (SPE_E5, MFA_PREMIUM): only ids the change shows,
    each a name (``apply`` compares them with the tenant's own names)."""
    shown = set(updates) | {p for _, new in updates.values() for p in new or ()}
    if not isinstance(props, Mapping):
        raise PlanFormatError(f"{where}: properties must be a JSON object of skuId or service plan id: name")
    named: dict[str, str] = {}
    for key, name in props.items():
        if not isinstance(key, str) or key.lower() in named:
            raise PlanFormatError(f"{where}: properties names {key!r} twice (ids are the same in any case)")
        key = key.lower()
        if key not in shown:
            raise PlanFormatError(f"{where}: properties key {key!r} is not a skuId in updates nor a plan they disable")
        if not isinstance(name, str) or not name.strip():
            raise PlanFormatError(f"{where}: properties.{key} must be the name of that license or plan, like SPE_E5")
        named[key] = name
    return named


def _properties(d: Mapping[str, Any], where: str, upn: str, allowed: Collection[str]) -> dict[str, Any]:
    props = d["properties"]
    if not isinstance(props, Mapping):
        raise PlanFormatError(f"{where}: properties must be a JSON object")
    _no_unknown(props, tuple(allowed), f"{where} properties")
    for key, value in props.items():
        _scalar(value, f"{where}: properties.{key}")
    # The label and the name the user is created under are one and the same.
    if props.get("userPrincipalName") != upn:
        raise PlanFormatError(f"{where}: properties.userPrincipalName must equal the change's userPrincipalName")
    return dict(props)


def _updates(d: Mapping[str, Any], where: str, allowed: Collection[str]) -> dict[str, tuple[Any, Any]]:
    updates = d["updates"]
    if not isinstance(updates, Mapping) or not updates:
        raise PlanFormatError(f"{where}: updates must be a JSON object of property: [old, new]")
    _no_unknown(updates, tuple(allowed), f"{where} updates")
    out: dict[str, tuple[Any, Any]] = {}
    for key, pair in updates.items():
        if not isinstance(pair, list) or len(pair) != 2:
            raise PlanFormatError(f"{where}: updates.{key} must be a pair [old, new]")
        for value in pair:
            _scalar(value, f"{where}: updates.{key}")
        out[key] = (pair[0], pair[1])
    return out


def _scalar(value: Any, what: str) -> None:
    # A list of strings is businessPhones' shape.
    if not (value is None or isinstance(value, str | bool) or (isinstance(value, list) and all(
            isinstance(v, str) for v in value))):
        raise PlanFormatError(f"{what} must be a string, true, false or null, not {json.dumps(value)}")


def _string(d: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = d.get(key, default)
    if not isinstance(value, str):
        raise PlanFormatError(f"{where}: {key} must be a string")
    return value


def _no_unknown(d: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = [k for k in d if k not in allowed]
    if unknown:
        raise PlanFormatError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(allowed)}")


# --- policy-rule: one rule of a directory role's PIM policy (graph-pim-baseline P§A4.3-A4.5) -------
# PATCH /policies/roleManagementPolicies/{policyId}/rules/{ruleId}: both ids go into the URL.
POLICY_RULE = "policy-rule"
POLICY_ID = re.compile(rf"(DirectoryRole|Directory)_{GUID_PATTERN}_{GUID_PATTERN}")  # P§A4.1
NOTIFICATION_RULE = "#microsoft.graph.unifiedRoleManagementPolicyNotificationRule"
APPROVAL_RULE = "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule"
# The rules a plan may change (the ones SCuBA MS.AAD.7.6-7.9 check), with the @odata.type a PATCH
# must name (P§A4.4).
RULE_TYPES = {
    "Approval_EndUser_Assignment": APPROVAL_RULE,
    "Notification_Admin_Admin_Assignment": NOTIFICATION_RULE,
    "Notification_Admin_Admin_Eligibility": NOTIFICATION_RULE,
    "Notification_Admin_EndUser_Assignment": NOTIFICATION_RULE,
}
# What each kind of rule change holds: ``updates`` (old -> new, what people read and approve) and
# ``properties`` (what the PATCH sends besides @odata.type and id).
RULE_UPDATES = {NOTIFICATION_RULE: ("notificationRecipients",), APPROVAL_RULE: ("isApprovalRequired", "approvers")}
RULE_PROPERTIES = {NOTIFICATION_RULE: ("notificationRecipients",), APPROVAL_RULE: ("setting",)}
# The approval setting's shape on v1.0 (P§A4.5); a plan carries nothing else.
SETTING_KEYS = ("@odata.type", "isApprovalRequired", "isApprovalRequiredForExtension",
                "isRequestorJustificationRequired", "approvalMode", "approvalStages")
STAGE_KEYS = ("@odata.type", "approvalStageTimeOutInDays", "isApproverJustificationRequired",
              "escalationTimeInMinutes", "isEscalationEnabled", "primaryApprovers", "escalationApprovers")
APPROVER_KEYS = ("@odata.type", "userId", "groupId", "description", "isBackup")
_ODATA_TYPE = re.compile(r"#?microsoft\.graph\.[A-Za-z]{1,64}")
RULE_KEYS = ("roleDefinitionId", "roleName", "policyId", "ruleId", "updates", "properties")
KEYS[POLICY_RULE] = RULE_KEYS
REQUIRED[POLICY_RULE] = RULE_KEYS


def policy_rule_fields(d: Mapping[str, Any], n: int) -> dict[str, Any]:
    """A policy-rule change's fields: it is about a role's PIM policy, not a user (no userPrincipalName)."""
    where = f"change {n} (policy-rule {d.get('roleName')} {d.get('ruleId')})"
    _no_unknown(d, ("action", "reason", *RULE_KEYS), where)
    for key in RULE_KEYS:
        if key not in d:
            raise PlanFormatError(f"{where}: {key} is missing")
    role_id, policy_id, rule_id = (_string(d, k, where) for k in ("roleDefinitionId", "policyId", "ruleId"))
    if not GUID.fullmatch(role_id):
        raise PlanFormatError(f"{where}: roleDefinitionId must be {_SHAPES['roleDefinitionId'][1]}, not {role_id!r}")
    if not POLICY_ID.fullmatch(policy_id):
        raise PlanFormatError(f"{where}: policyId must be a PIM policy id like DirectoryRole_<GUID>_<GUID>, "
                              f"not {policy_id!r}")
    if rule_id not in RULE_TYPES:
        raise PlanFormatError(f"{where}: ruleId must be one of {', '.join(RULE_TYPES)}, not {rule_id!r}")
    kind = RULE_TYPES[rule_id]
    updates = _updates(d, where, RULE_UPDATES[kind])
    props = d["properties"]
    if not isinstance(props, Mapping) or set(props) != set(RULE_PROPERTIES[kind]):
        raise PlanFormatError(f"{where}: properties must be a JSON object with exactly "
                              f"{', '.join(RULE_PROPERTIES[kind])}")
    if kind == NOTIFICATION_RULE:
        recipients = props["notificationRecipients"]
        if not isinstance(recipients, list):
            raise PlanFormatError(f"{where}: properties.notificationRecipients must be a list of e-mail addresses")
        for i, r in enumerate(recipients):
            if not is_email(r):  # what the PATCH sends: an alert to an address, nothing else
                raise PlanFormatError(f"{where}: properties.notificationRecipients[{i}] must be an e-mail address "
                                      f"like {EMAIL_EXAMPLE}, not {json.dumps(r)}")
    else:
        _setting(props["setting"], f"{where}: properties.setting")
    return {"action": POLICY_RULE, "upn": "", "reason": _string(d, "reason", where, default=""), "role_id": role_id,
            "role_name": _string(d, "roleName", where), "policy_id": policy_id, "rule_id": rule_id,
            "updates": updates, "properties": dict(props)}


def _setting(setting: Any, where: str) -> None:
    """An approval setting of the v1.0 shape: known keys, scalars, approvers with GUID ids."""
    if not isinstance(setting, Mapping):
        raise PlanFormatError(f"{where} must be a JSON object")
    _no_unknown(setting, SETTING_KEYS, where)
    stages = setting.get("approvalStages", [])
    if not isinstance(stages, list):
        raise PlanFormatError(f"{where}.approvalStages must be a list")
    for key in SETTING_KEYS[:-1]:
        _scalar(setting.get(key), f"{where}.{key}")
    for s, stage in enumerate(stages):
        at = f"{where}.approvalStages[{s}]"
        if not isinstance(stage, Mapping):
            raise PlanFormatError(f"{at} must be a JSON object")
        _no_unknown(stage, STAGE_KEYS, at)
        for key in STAGE_KEYS[:-2]:
            value = stage.get(key)
            if not (value is None or isinstance(value, str | bool | int)):
                raise PlanFormatError(f"{at}.{key} must be a string, a number, true, false or null")
        for key in STAGE_KEYS[-2:]:
            approvers = stage.get(key, [])
            if not isinstance(approvers, list):
                raise PlanFormatError(f"{at}.{key} must be a list")
            for a, approver in enumerate(approvers):
                _approver(approver, f"{at}.{key}[{a}]")


def _approver(approver: Any, where: str) -> None:
    if not isinstance(approver, Mapping):
        raise PlanFormatError(f"{where} must be a JSON object")
    _no_unknown(approver, APPROVER_KEYS, where)
    if not isinstance(approver.get("@odata.type"), str) or not _ODATA_TYPE.fullmatch(approver["@odata.type"]):
        raise PlanFormatError(f"{where}: @odata.type must be a Graph type like #microsoft.graph.singleUser")
    for key in ("userId", "groupId"):
        if key in approver and not (isinstance(approver[key], str) and GUID.fullmatch(approver[key])):
            raise PlanFormatError(f"{where}: {key} must be an object id (a GUID)")
    for key in ("description", "isBackup"):
        _scalar(approver.get(key), f"{where}.{key}")
