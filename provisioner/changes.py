"""The changes a plan is made of, and the plan: typed, one field per meaning, and the saved form
(format 2, see ``provisioner.planfile``). Plain data, no I/O; a password never lives here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from provisioner.model import USER_WRITABLE
from provisioner.planfile import FORMAT, POLICY_RULE, DigestMismatch, change_fields, check_plan, digest


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    SESSIONS = "revoke-sessions"  # sign the user out everywhere (after a disable in the same plan)
    PASSWORD = "reset-password"  # PATCH passwordProfile; the secret itself never enters a plan
    RESTORE = "restore"
    # A rule of a role's PIM policy (PATCH; graph-pim-baseline P§A4.3): before assignments, so the
    # alerts a plan sets up already go out for the eligible assignments it makes.
    POLICY_RULE = "policy-rule"
    ASSIGN = "assign"
    # A held PIM assignment's end moved (adminUpdate, P§A1.1): ``updates`` {"endDateTime": (old, new)},
    # None meaning permanent. After the assignments, before the revocations: it neither adds nor removes.
    RESCHEDULE = "reschedule"
    REVOKE = "revoke"
    MANAGER = "manager"  # set, change or remove a user's manager (its own request: PUT/DELETE manager/$ref)
    LICENSE = "license"  # assignLicense: SKUs added (``updates`` sku -> (None, disabled plans)) or removed
    DELETE = "delete"
    PURGE = "purge"


class PasswordSource(StrEnum):
    """Where a new user's password comes from; the secret itself never enters a plan."""

    GENERATE = "generate"
    SUPPLIED = "supplied"
    HIDDEN = "random"  # a reset to a random value nobody is shown (offboarding)


# Execution and display order: a user exists before its roles are assigned; a disable comes
# before the sessions are revoked and the password reset; then roles are revoked, the manager
# cleared and licenses removed before a user is deleted (L§7.3); a purge comes last.
ACTION_ORDER = {a: i for i, a in enumerate(Action)}

# The properties a CREATE may carry: identity plus what the tool writes.
CREATE_PROPERTIES = ("userPrincipalName", "mailNickname", *USER_WRITABLE)


@dataclass(frozen=True, slots=True)
class Change:
    """One write the tool intends to make, with the reason it exists.

    Ids are the truth (``object_id``, ``role_id``, ``assignment_id``: what the write uses);
    ``upn`` and ``role_name`` are labels for people, re-derived from the ids before a saved plan
    is applied. The other fields belong to one action each: ``properties`` (Graph names, never a
    password) and ``password`` to CREATE, ``updates`` (property -> (old, new)) to UPDATE (and to
    MANAGER: ``manager`` -> (old UPN, new UPN), labels), ``manager_id`` (the new manager's object
    id, None to remove) to MANAGER, ``new_upn`` and ``auto_reconcile`` to RESTORE. A PASSWORD reset
    carries its ``password`` source and ``properties`` {forceChangePasswordNextSignIn: bool}; a
    LICENSE change's ``updates`` map each skuId to (disabled plan ids held before or None, after or
    None: removed), its ``properties`` the SKU and plan ids to their names (labels). A POLICY_RULE
    change is about a role (``role_id``, ``role_name``), not a user (``upn`` is ""): ``policy_id``
    and ``rule_id`` name the rule, ``updates`` what changes in words people approve (old, new), and
    ``properties`` what the PATCH sends (``provisioner.planfile.RULE_PROPERTIES``). A RESCHEDULE
    changes the end of the assignment ``assignment_id`` (eligible or active, through PIM):
    ``updates`` {"endDateTime": (old, new)} in Graph's UTC form, None for no end; ``justification``.
    """

    action: Action
    upn: str  # the user the change is about; the original UPN for a deleted user
    object_id: str | None = None  # None for a user not created yet
    role_id: str | None = None  # role template id, for ASSIGN / REVOKE / RESCHEDULE
    role_name: str | None = None  # the role's Entra display name
    assignment_id: str | None = None  # for REVOKE and RESCHEDULE
    reason: str = ""
    properties: Mapping[str, Any] = field(default_factory=dict)
    updates: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    password: PasswordSource | None = None  # CREATE: set to GENERATE when not given
    new_upn: str | None = None
    auto_reconcile: bool = False
    manager_id: str | None = None
    # ASSIGN / REVOKE: eligible (PIM) rather than active; through PIM's schedule requests rather
    # than the direct API; ASSIGN: the end (UTC, Graph's form) or ISO 8601 duration, and why.
    eligible: bool = False
    through_pim: bool = False
    end: str | None = None
    duration: str | None = None
    justification: str | None = None
    policy_id: str | None = None  # POLICY_RULE: the role's PIM policy
    rule_id: str | None = None  # POLICY_RULE: one of planfile.RULE_TYPES

    def __post_init__(self) -> None:
        # A field of another action is a bug in the caller, not something to carry silently.
        misplaced = [
            name
            for name, value, owners in (
                ("properties", self.properties, (Action.CREATE, Action.PASSWORD, Action.LICENSE,
                                                 Action.POLICY_RULE)),
                ("password", self.password, (Action.CREATE, Action.PASSWORD)),
                ("updates", self.updates, (Action.UPDATE, Action.MANAGER, Action.LICENSE, Action.POLICY_RULE,
                                           Action.RESCHEDULE)),
                ("new_upn", self.new_upn, (Action.RESTORE,)),
                ("auto_reconcile", self.auto_reconcile, (Action.RESTORE,)),
                ("manager_id", self.manager_id, (Action.MANAGER,)),
                ("eligible", self.eligible, (Action.ASSIGN, Action.REVOKE, Action.RESCHEDULE)),
                ("through_pim", self.through_pim, (Action.ASSIGN, Action.REVOKE)),
                ("end", self.end, (Action.ASSIGN,)),
                ("duration", self.duration, (Action.ASSIGN,)),
                ("justification", self.justification, (Action.ASSIGN, Action.RESCHEDULE)),
                ("policy_id", self.policy_id, (Action.POLICY_RULE,)),
                ("rule_id", self.rule_id, (Action.POLICY_RULE,)),
            )
            if value and self.action not in owners
        ]
        if misplaced:
            raise ValueError(f"a {self.action.value} change has no {', '.join(misplaced)}")
        if any(k.lower().startswith("password") for k in self.properties):
            raise ValueError("a password never enters a plan: properties hold no password")
        object.__setattr__(self, "properties", dict(self.properties))
        object.__setattr__(self, "updates", {k: (v[0], v[1]) for k, v in self.updates.items()})
        if self.action in (Action.CREATE, Action.PASSWORD):
            object.__setattr__(self, "password", PasswordSource(self.password or PasswordSource.GENERATE))

    @property
    def sort_key(self) -> tuple[int, str, str]:
        if self.action is Action.POLICY_RULE:
            return (ACTION_ORDER[self.action], self.role_name or "", self.rule_id or "")
        return (ACTION_ORDER[self.action], self.upn.lower(), self.role_name or "")

    def to_json(self) -> dict[str, Any]:
        """The change as a plan file holds it (plan format 2); only the keys its action uses."""
        if self.action is Action.POLICY_RULE:
            return {"action": POLICY_RULE, "roleDefinitionId": self.role_id, "roleName": self.role_name,
                    "policyId": self.policy_id, "ruleId": self.rule_id,
                    "updates": {k: [old, new] for k, (old, new) in self.updates.items()},
                    "properties": dict(self.properties), "reason": self.reason}
        d: dict[str, Any] = {"action": self.action.value, "userPrincipalName": self.upn}
        for key, value in (
            ("objectId", self.object_id),
            ("roleDefinitionId", self.role_id),
            ("roleName", self.role_name),
            ("assignmentId", self.assignment_id),
            ("newUserPrincipalName", self.new_upn),
            ("managerId", self.manager_id),
            ("endDateTime", self.end),
            ("duration", self.duration),
            ("justification", self.justification),
        ):
            if value is not None:
                d[key] = value
        if self.auto_reconcile:
            d["autoReconcileProxyConflict"] = True
        if self.eligible:
            d["eligible"] = True
        if self.through_pim:
            d["throughPim"] = True
        if self.action in (Action.CREATE, Action.PASSWORD):
            d["properties"] = dict(self.properties)
            d["password"] = str(self.password)
        if self.action is Action.LICENSE and self.properties:  # the names shown: apply checks them
            d["properties"] = dict(self.properties)
        if self.updates:
            d["updates"] = {k: [old, new] for k, (old, new) in self.updates.items()}
        d["reason"] = self.reason
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Change:
        """A change from a plan file, checked strictly (``PlanFormatError`` naming the key)."""
        return cls._from_json(d, 1)

    @classmethod
    def _from_json(cls, d: Mapping[str, Any], n: int) -> Change:
        f = change_fields(d, n, create_properties=CREATE_PROPERTIES, update_properties=USER_WRITABLE)
        f["action"] = Action(f["action"])
        if "password" in f:
            f["password"] = PasswordSource(f["password"])
        return cls(**f)


@dataclass(frozen=True)
class Plan:
    """An ordered list of changes. ``fingerprint`` digests the tenant state the plan was made
    from, so ``apply`` can refuse a plan the tenant has moved away from; ``digest`` (written with
    the plan) covers the plan's own content, so an edited plan file is refused."""

    changes: tuple[Change, ...] = ()
    tenant: str = ""
    fingerprint: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", tuple(sorted(self.changes, key=lambda c: c.sort_key)))

    def __len__(self) -> int:
        return len(self.changes)

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action is action)

    def content(self) -> dict[str, Any]:
        """What the digest covers: everything in the file but the digest itself."""
        return {
            "formatVersion": FORMAT,
            "tenant": self.tenant,
            "fingerprint": self.fingerprint,
            "changes": [c.to_json() for c in self.changes],
        }

    @property
    def digest(self) -> str:
        return digest(self.content())

    def to_json(self) -> dict[str, Any]:
        content = self.content()
        return {**content, "digest": digest(content)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Plan:
        """A plan from its file, checked strictly (``provisioner.planfile``): ``PlanFormatError``
        for a malformed file, ``OldPlanFormat`` for an older one, ``DigestMismatch`` when the
        content was edited after the plan was made."""
        changes = check_plan(d)
        plan = cls(tuple(Change._from_json(c, n) for n, c in enumerate(changes, 1)), d["tenant"], d["fingerprint"])
        if plan.digest != d["digest"]:
            raise DigestMismatch("this plan was edited after it was made (its content does not match its digest)")
        return plan
