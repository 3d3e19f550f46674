"""The domain's vocabulary: users, deleted users, roles, inputs and what was read of a tenant.
Plain data, no I/O. The changes and the plan live in ``provisioner.changes``.

Attribute dictionaries use Microsoft Graph's property names (``userPrincipalName``,
``displayName`` ...), so plans, JSON output and Graph requests all speak one language.
A password never lives in any of these types.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

RESTORE_WINDOW = timedelta(days=30)

# The user properties the tool writes and compares in plans (UPN and mailNickname are identity):
# the Entra bulk-create template's columns and the HR ones admins fill most. All are strings but
# businessPhones, a list Graph lets hold one number.
USER_WRITABLE = (
    "displayName",
    "accountEnabled",
    "givenName",
    "surname",
    "jobTitle",
    "department",
    "usageLocation",
    "companyName",
    "employeeId",
    "employeeType",
    "officeLocation",
    "streetAddress",
    "city",
    "state",
    "postalCode",
    "country",
    "businessPhones",
    "mobilePhone",
    "preferredLanguage",
    "employeeHireDate",
)
# The user properties the tool reads (Graph returns most of them only when asked by $select).
USER_SELECT = ("id", "userPrincipalName", *USER_WRITABLE, "mailNickname", "onPremisesSyncEnabled", "createdDateTime")


def parse_datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def format_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class User:
    id: str
    user_principal_name: str
    display_name: str = ""
    account_enabled: bool = True
    given_name: str | None = None
    surname: str | None = None
    job_title: str | None = None
    department: str | None = None
    usage_location: str | None = None
    company_name: str | None = None
    employee_id: str | None = None
    employee_type: str | None = None
    office_location: str | None = None
    street_address: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    business_phones: tuple[str, ...] = ()
    mobile_phone: str | None = None
    preferred_language: str | None = None
    employee_hire_date: str | None = None  # as Graph writes it: 2025-03-01T00:00:00Z
    mail_nickname: str | None = None
    on_premises_sync_enabled: bool | None = None
    created: datetime | None = None

    @property
    def synced(self) -> bool:
        return self.on_premises_sync_enabled is True

    @classmethod
    def from_graph(cls, d: Mapping[str, Any]) -> User:
        return cls(
            id=d["id"],
            user_principal_name=d.get("userPrincipalName") or "",
            display_name=d.get("displayName") or "",
            account_enabled=d.get("accountEnabled", True) is not False,
            given_name=d.get("givenName"),
            surname=d.get("surname"),
            job_title=d.get("jobTitle"),
            department=d.get("department"),
            usage_location=d.get("usageLocation"),
            company_name=d.get("companyName"),
            employee_id=d.get("employeeId"),
            employee_type=d.get("employeeType"),
            office_location=d.get("officeLocation"),
            street_address=d.get("streetAddress"),
            city=d.get("city"),
            state=d.get("state"),
            postal_code=d.get("postalCode"),
            country=d.get("country"),
            business_phones=tuple(d.get("businessPhones") or ()),
            mobile_phone=d.get("mobilePhone"),
            preferred_language=d.get("preferredLanguage"),
            employee_hire_date=d.get("employeeHireDate"),
            mail_nickname=d.get("mailNickname"),
            on_premises_sync_enabled=d.get("onPremisesSyncEnabled"),
            created=parse_datetime(d.get("createdDateTime")),
        )

    def to_graph(self) -> dict[str, Any]:
        """Graph's JSON for this user, as the tool shows it (``--output json``)."""
        return {
            "id": self.id,
            "userPrincipalName": self.user_principal_name,
            "displayName": self.display_name,
            "accountEnabled": self.account_enabled,
            "givenName": self.given_name,
            "surname": self.surname,
            "jobTitle": self.job_title,
            "department": self.department,
            "usageLocation": self.usage_location,
            "companyName": self.company_name,
            "employeeId": self.employee_id,
            "employeeType": self.employee_type,
            "officeLocation": self.office_location,
            "streetAddress": self.street_address,
            "city": self.city,
            "state": self.state,
            "postalCode": self.postal_code,
            "country": self.country,
            "businessPhones": list(self.business_phones),
            "mobilePhone": self.mobile_phone,
            "preferredLanguage": self.preferred_language,
            "employeeHireDate": self.employee_hire_date,
            "mailNickname": self.mail_nickname,
            "onPremisesSyncEnabled": self.on_premises_sync_enabled,
            "createdDateTime": format_datetime(self.created),
        }

    def writable(self) -> dict[str, Any]:
        """The properties a plan compares, by Graph name."""
        g = self.to_graph()
        return {k: g[k] for k in USER_WRITABLE}


_DELETED_PREFIX = re.compile(r"^[0-9a-f]{32}")


@dataclass(frozen=True)
class DeletedUser:
    """A soft-deleted user in the tenant's deleted items, restorable until ``expires``."""

    id: str
    user_principal_name: str  # as Graph shows it while deleted: <objectIdWithoutHyphens><upn>
    deleted: datetime
    display_name: str = ""
    on_premises_sync_enabled: bool | None = None
    sku_ids: tuple[str, ...] = ()  # the licenses it held (lower-case skuIds): a restore takes them back

    @property
    def original_upn(self) -> str:
        # Entra prefixes a deleted user's UPN with its object id (observed, not documented);
        # strip the prefix only when it is exactly this object's id, so a real UPN is never cut.
        prefix = self.id.replace("-", "").lower()
        upn = self.user_principal_name
        if upn.lower().startswith(prefix) and _DELETED_PREFIX.match(upn.lower()):
            return upn[len(prefix) :]
        return upn

    @property
    def expires(self) -> datetime:
        return self.deleted + RESTORE_WINDOW

    def days_left(self, now: datetime) -> int:
        """Whole days left before Entra purges it (0 on its last day, negative once expired)."""
        return math.floor((self.expires - now).total_seconds() / 86400)

    def expired(self, now: datetime) -> bool:
        return now >= self.expires

    @classmethod
    def from_graph(cls, d: Mapping[str, Any]) -> DeletedUser:
        deleted = parse_datetime(d.get("deletedDateTime"))
        if deleted is None:
            raise ValueError(f"deleted item {d.get('id')} has no deletedDateTime")
        return cls(
            id=d["id"],
            user_principal_name=d.get("userPrincipalName") or "",
            deleted=deleted,
            display_name=d.get("displayName") or "",
            on_premises_sync_enabled=d.get("onPremisesSyncEnabled"),
            sku_ids=tuple(sorted(str(x.get("skuId", "")).lower() for x in d.get("assignedLicenses") or ()
                                 if isinstance(x, dict) and x.get("skuId"))),
        )

    def to_graph(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "userPrincipalName": self.original_upn,
            "deletedUserPrincipalName": self.user_principal_name,
            "displayName": self.display_name,
            "onPremisesSyncEnabled": self.on_premises_sync_enabled,
            "deletedDateTime": format_datetime(self.deleted),
            "expiresDateTime": format_datetime(self.expires),
            "daysLeft": self.days_left(now),
        }


@dataclass(frozen=True)
class RoleDefinition:
    id: str
    display_name: str
    template_id: str
    description: str = ""
    is_builtin: bool = True
    is_privileged: bool | None = None  # Graph returns isPrivileged on beta; None when not told

    @classmethod
    def from_graph(cls, d: Mapping[str, Any]) -> RoleDefinition:
        return cls(
            id=d["id"],
            display_name=d.get("displayName") or "",
            template_id=d.get("templateId") or d["id"],
            description=d.get("description") or "",
            is_builtin=d.get("isBuiltIn", True) is not False,
            is_privileged=d.get("isPrivileged"),
        )


@dataclass(frozen=True)
class RoleAssignment:
    """A role held: active (a role assignment) or eligible (PIM; activated when needed).

    ``start``/``end`` are the instance's times (None: unknown, or no end); ``outside_pim`` is True
    for an active assignment made with the direct API (its instance has no start, P§A2.4), None
    when the tenant's PIM was not read.
    """

    id: str
    principal_id: str
    role_definition_id: str
    directory_scope_id: str = "/"
    eligible: bool = False
    start: str | None = None
    end: str | None = None
    outside_pim: bool | None = None

    @classmethod
    def from_instance(cls, d: Mapping[str, Any], *, eligible: bool) -> RoleAssignment:
        """From a PIM schedule instance (`roleEligibilityScheduleInstances` / `roleAssignmentScheduleInstances`)."""
        return cls(id=d["id"], principal_id=d["principalId"], role_definition_id=d["roleDefinitionId"],
                   directory_scope_id=d.get("directoryScopeId") or "/", eligible=eligible,
                   start=d.get("startDateTime"), end=d.get("endDateTime"),
                   outside_pim=None if eligible else d.get("startDateTime") is None)

    def describe(self) -> str:
        """How it is held, for people: "active permanent", "eligible until 2027-01-31", ..."""
        until = f"until {self.end[:10]}" if self.end else "permanent"
        text = f"{'eligible' if self.eligible else 'active'} {until}"
        if self.eligible and not self.end:
            text = "permanently eligible"
        return text + (", outside PIM" if self.outside_pim else "")

    @classmethod
    def from_graph(cls, d: Mapping[str, Any]) -> RoleAssignment:
        return cls(
            id=d["id"],
            principal_id=d["principalId"],
            role_definition_id=d["roleDefinitionId"],
            directory_scope_id=d.get("directoryScopeId", "/"),
        )


# The justification sent when none is given: PIM requires one on active assignments by default
# (Enablement_Admin_Assignment, graph-pim-baseline P§A4.4).
DEFAULT_JUSTIFICATION = "Assigned with provisioner"


@dataclass(frozen=True)
class Holding:
    """How `roles assign` grants a role (PIM, P§A1-A2) and which kind `roles revoke` removes.

    ``end`` is a UTC time in Graph's form, ``duration`` an ISO 8601 duration (``P30D``, ``PT8H``);
    neither means permanent. ``which`` picks what a revoke removes: "eligible", "active" or None
    (whichever the user holds).
    """

    eligible: bool = False
    end: str | None = None
    duration: str | None = None
    justification: str | None = None
    which: str | None = None

    @property
    def time_bound(self) -> bool:
        return bool(self.end or self.duration)


@dataclass(frozen=True)
class UserSpec:
    """A user as an input asks for it (a CLI call, a CSV/JSON row or a manifest entry).

    ``attributes`` uses Graph names (``displayName``, ``accountEnabled`` ...); ``roles`` are the
    role references as written (alias, name or template id), resolved later against the tenant.
    ``password`` is a secret supplied by the admin: it never enters a plan.
    """

    upn: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    roles: tuple[str, ...] = ()
    password: str | None = field(default=None, repr=False)
    row: int | None = None  # the input row it came from, for error messages
    roles_given: bool = True  # False: the input said nothing of roles, so held roles are kept
    # How a role (by its reference as written) is to be held, when the input says (manifest
    # `{ role = "global", eligible = true, duration = "P180D" }`); unlisted: active, permanent.
    holdings: Mapping[str, Holding] = field(default_factory=dict)
    # The direct licenses wanted (SKU references as written: part number, product name or skuId);
    # None: the input says nothing of licenses, so the ones held are kept.
    licenses: tuple[str, ...] | None = None


# The roles a manifest decides when it does not say (the five classic admin roles).
DEFAULT_MANAGED_ROLES = ("global", "billing", "password", "service", "user")


@dataclass(frozen=True)
class Manifest:
    """The desired state ``sync`` converges to.

    ``scope_domains``: the UPN domains the manifest owns; users of other domains are never touched.
    ``managed_roles``: the roles the manifest decides (references as written: aliases, names or
    template ids); other roles held by in-scope users are left alone.
    """

    users: tuple[UserSpec, ...]
    scope_domains: tuple[str, ...]
    managed_roles: tuple[str, ...] = DEFAULT_MANAGED_ROLES


@dataclass(frozen=True)
class RolePolicy:
    """A directory role's PIM policy (graph-pim-baseline P§A4): its id and its rules by rule id, as
    Graph lists them."""

    id: str
    rules: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_assignment(cls, a: Mapping[str, Any]) -> RolePolicy:
        """From a roleManagementPolicyAssignment listed with ``$expand=policy($expand=rules)``."""
        policy = a.get("policy") or {}
        rules = {r.get("id"): r for r in policy.get("rules") or ()}
        return cls(str(a.get("policyId") or policy.get("id") or ""), rules)

    def expiry(self, eligible: bool) -> ExpiryRule | None:
        """The admin expiry rule for eligible or active grants, if the policy has it."""
        rule_id = "Expiration_Admin_Eligibility" if eligible else "Expiration_Admin_Assignment"
        rule = self.rules.get(rule_id)
        if rule is None:
            return None
        return ExpiryRule(rule_id, rule.get("isExpirationRequired") is True, rule.get("maximumDuration"))


@dataclass(frozen=True)
class ExpiryRule:
    """How long an admin may grant a role through PIM: its policy's ``Expiration_Admin_Eligibility`` or
    ``Expiration_Admin_Assignment`` rule (graph-pim-baseline P§A4.4). ``maximum`` is ISO 8601 (``P90D``)."""

    rule_id: str
    required: bool
    maximum: str | None = None


@dataclass
class TenantState:
    """What was read from the tenant to make a plan: only as much as the plan needs.

    ``users`` is keyed by lower-cased UPN. ``assignments`` holds at least every Global
    Administrator assignment (for the last-Global-Administrator rule) and those of the users
    involved.
    """

    now: datetime
    users: dict[str, User] = field(default_factory=dict)
    deleted: list[DeletedUser] = field(default_factory=list)
    roles: list[RoleDefinition] = field(default_factory=list)
    assignments: list[RoleAssignment] = field(default_factory=list)
    managers: dict[str, User | None] = field(default_factory=dict)  # lower object id -> manager, where read
    # PIM: eligible assignments of the users read; whether the tenant has PIM (Entra ID P2 or
    # Governance), None when not asked.
    eligible: list[RoleAssignment] = field(default_factory=list)
    pim: bool | None = None
    # Lower role template id -> its PIM policy, where read: the roles a plan grants (their expiry
    # rules), or every role (audit, fix plans). A role whose policy was not read has no rule here
    # (Graph still checks at write time).
    policies: dict[str, RolePolicy] = field(default_factory=dict)

    def user(self, upn: str) -> User | None:
        return self.users.get(upn.lower())


@dataclass(frozen=True)
class Policy:
    """The guardrails' settings, from config and flags."""

    protected: frozenset[str] = frozenset()  # lower-cased UPNs never deleted, purged or demoted
    max_deletes: int = 50
    force: bool = False
