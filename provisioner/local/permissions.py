"""Who may call what: Graph's permission decision, for every route the local tenant serves.

The bearer token may be a JWT (its signature is not checked): ``roles`` holds application
permissions, ``scp`` delegated scopes, ``wids`` the directory role template ids held by the
signed-in admin or by the app's service principal. A request is allowed when (graph-quirks.md,
"Permission model" D): its token grants one of the endpoint's accepted permissions (table A); a
delegated caller also holds one of the endpoint's admin roles; and a sensitive action on a user who
holds an admin role is made by a caller holding a role that may act on every role the user holds
(table C). Otherwise Graph answers 403 ``Authorization_RequestDenied`` with one body for every
cause. A token that is not a JWT, or no token, keeps full access: the local tenant stays easy to
try, and the product's in-process use is unaffected.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import sqlite3
from dataclasses import dataclass

from starlette.requests import Request

from .store import Store, fold_id
from .users import find_user
from .wire import GraphError, kept_body


def denied() -> GraphError:
    """Graph's one answer for every kind of missing permission or role (graph-quirks.md §11)."""
    return GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


# Directory role template ids (graph-quirks.md B).
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
PRIV_AUTH_ADMIN = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"
PRIV_ROLE_ADMIN = "e8611ab8-c189-46e8-94e1-60213ab1f814"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
AUTH_ADMIN = "c4e39bd9-1100-46d3-8c65-fb160da0071f"
HELPDESK_ADMIN = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
PASSWORD_ADMIN = "966707d0-3269-4727-9be2-8c3a10f19b9d"
GROUPS_ADMIN = "fdd7a751-b60b-444a-984c-02652fe8fa1c"
DIRECTORY_READERS = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"
GUEST_INVITER = "95e79109-95c0-4d8e-aee3-d01accf2d47b"
LICENSE_ADMIN = "4d6ac14f-3453-41d0-bef9-a3e0c569773a"
DIRECTORY_WRITERS = "9360feb5-f418-4baa-8175-e2a00bac4301"
MESSAGE_CENTER_READER = "790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b"
REPORTS_READER = "4a5d8f65-41da-4de4-8968-e035b65339cf"
USAGE_REPORTS_READER = "75934031-6c7e-415a-99d7-48dbd49e875e"
# Not roles: the marker on app-only tokens (OBSERVED) and the default user role (UNVERIFIED).
NOT_ROLES = frozenset({"0997a1d0-0d1d-4acb-b408-d5ca73121e90", "b79fbf4d-3ef9-4689-8143-76b194e85509"})

_TOP = frozenset({PRIV_AUTH_ADMIN, GLOBAL_ADMIN})  # may act on any target (table C's last columns)
_LOW_TARGETS = (DIRECTORY_READERS, GUEST_INVITER, MESSAGE_CENTER_READER, PASSWORD_ADMIN, REPORTS_READER,
                USAGE_REPORTS_READER)
# "Who can perform sensitive actions": target's role -> caller roles allowed; unlisted roles (other
# built-ins, custom roles) only Privileged Authentication Administrator or Global Administrator.
SENSITIVE = {
    **dict.fromkeys(_LOW_TARGETS, _TOP | {AUTH_ADMIN, USER_ADMIN}),
    AUTH_ADMIN: _TOP | {AUTH_ADMIN},
    **dict.fromkeys((GROUPS_ADMIN, HELPDESK_ADMIN, USER_ADMIN), _TOP | {USER_ADMIN}),
}
_RESETTERS = _TOP | {PASSWORD_ADMIN, HELPDESK_ADMIN, AUTH_ADMIN, USER_ADMIN}
# "Who can reset passwords" (passwordProfile), the same way.
RESET = {
    **dict.fromkeys((DIRECTORY_READERS, GUEST_INVITER, PASSWORD_ADMIN), _RESETTERS),
    **dict.fromkeys((MESSAGE_CENTER_READER, REPORTS_READER, USAGE_REPORTS_READER), _RESETTERS - {PASSWORD_ADMIN}),
    HELPDESK_ADMIN: _TOP | {HELPDESK_ADMIN, USER_ADMIN},
    AUTH_ADMIN: _TOP | {AUTH_ADMIN},
    **dict.fromkeys((GROUPS_ADMIN, USER_ADMIN), _TOP | {USER_ADMIN}),
}
# Properties whose update is a sensitive action (graph-quirks.md C).
SENSITIVE_PROPERTIES = frozenset({
    "accountEnabled", "businessPhones", "mobilePhone", "otherMails", "onPremisesImmutableId", "passwordProfile",
    "userPrincipalName",
})

# Accepted permissions, least privileged first (graph-quirks.md A, graph-facts.md §15.1).
READ_USERS = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
READ_DELETED = ("User.Read.All", "User.DeleteRestore.All", *READ_USERS[1:])
DELETE_RESTORE = ("User.DeleteRestore.All", "User.ReadWrite.All")  # Directory.ReadWrite.All cannot delete
READ_ROLES = ("RoleManagement.Read.Directory", "RoleManagement.Read.All", "RoleManagement.ReadWrite.Directory",
              "Directory.Read.All", "Directory.ReadWrite.All")
WRITE_ROLES = ("RoleManagement.ReadWrite.Directory",)
UPDATE_USERS = ("User.ReadUpdate.All", "User.ReadWrite.All", "Directory.ReadWrite.All")
# A delegated token with this scope acts with all the signed-in admin's rights; the role decides.
ACT_AS_USER = "Directory.AccessAsUser.All"


@dataclass(frozen=True)
class Rule:
    """One endpoint's needs: application permissions, extra delegated scopes, the delegated admin
    roles (None: any signed-in user), and whether its target is checked as table C says."""

    app: tuple[str, ...]
    delegated: tuple[str, ...] = ()
    roles: frozenset[str] | None = None
    # The user the path names is the target of a sensitive action: "active" or "deleted" always,
    # "sensitive" when the body sets a sensitive property.
    target: str = ""


_USER_ADMINS = frozenset({USER_ADMIN, GLOBAL_ADMIN})
_DELETERS = _USER_ADMINS | {PRIV_AUTH_ADMIN}
_READ_USERS = Rule(READ_USERS, ("User.ReadBasic.All",))
_READ_DELETED = Rule(READ_DELETED, roles=_DELETERS | {AUTH_ADMIN})
_READ_ROLES = Rule(READ_ROLES)
_WRITE_ROLES = Rule(WRITE_ROLES, roles=frozenset({PRIV_ROLE_ADMIN, GLOBAL_ADMIN}))
_PIM_WRITERS = frozenset({PRIV_ROLE_ADMIN, GLOBAL_ADMIN})
_PIM_READERS = frozenset({GLOBAL_ADMIN, PRIV_ROLE_ADMIN, "f2ef992c-3afb-46b9-b7cf-a126ee74c451",  # Global Reader
                          "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f", "5d6b6bb7-de71-4623-b4af-96380a352509",
                          "194ae4cb-b126-40b2-bd5b-6091b380977d"})  # Security Operator, Reader, Administrator
WRITE_ELIGIBILITY = ("RoleEligibilitySchedule.ReadWrite.Directory", "RoleManagement.ReadWrite.Directory")
WRITE_ASSIGNMENT = ("RoleAssignmentSchedule.ReadWrite.Directory", "RoleManagement.ReadWrite.Directory")
_READ_ELIGIBILITY = Rule(("RoleEligibilitySchedule.Read.Directory", *WRITE_ELIGIBILITY[:1],
                          "RoleManagement.Read.All", "RoleManagement.Read.Directory", WRITE_ELIGIBILITY[1]),
                         roles=_PIM_READERS)
_READ_ASSIGNMENT = Rule(("RoleAssignmentSchedule.Read.Directory", "RoleManagement.Read.Directory",
                         "RoleManagement.Read.All", *WRITE_ASSIGNMENT), roles=_PIM_READERS)
_READ_POLICIES = Rule(("RoleManagementPolicy.Read.Directory", "RoleManagement.Read.Directory",
                       "RoleManagement.Read.All", "RoleManagementPolicy.ReadWrite.Directory",
                       "RoleManagement.ReadWrite.Directory"), roles=_PIM_READERS)

# Keyed by the route handler's name in graph_app.py (a test checks every route has a rule).
RULES: dict[str, Rule] = {
    "list_users": _READ_USERS,
    "count_users": _READ_USERS,
    "get_user": _READ_USERS,
    "create_user": Rule(("User.ReadWrite.All", "Directory.ReadWrite.All"), roles=_USER_ADMINS),
    "update_user": Rule(UPDATE_USERS, roles=_DELETERS, target="sensitive"),
    "delete_user": Rule(DELETE_RESTORE, roles=_DELETERS, target="active"),
    "deleted_items_root": _READ_DELETED,
    "list_deleted_users": _READ_DELETED,
    "get_deleted_item": _READ_DELETED,
    "restore_deleted_item": Rule(DELETE_RESTORE, roles=_DELETERS, target="deleted"),
    # App-only: User.DeleteRestore.All only (an older page said "not supported"); delegated: the
    # older User.ReadWrite.All too. Permanent delete is not among the sensitive actions.
    "purge_deleted_item": Rule(("User.DeleteRestore.All",), ("User.ReadWrite.All",), roles=_USER_ADMINS),
    "list_role_definitions": _READ_ROLES,
    "get_role_definition": _READ_ROLES,
    "list_role_assignments": _READ_ROLES,
    "get_role_assignment": _READ_ROLES,
    "create_role_assignment": _WRITE_ROLES,
    "delete_role_assignment": _WRITE_ROLES,
    # Lifecycle (graph-lifecycle.md §0): revoking sessions is a sensitive action on an admin.
    "revoke_sessions": Rule(("User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All"),
                            roles=_DELETERS | {HELPDESK_ADMIN, AUTH_ADMIN}, target="active"),
    "get_manager": _READ_USERS,
    "get_manager_ref": _READ_USERS,
    "direct_reports": _READ_USERS,
    "set_manager": Rule(("User.ReadWrite.All", "Directory.ReadWrite.All"), roles=_USER_ADMINS),
    "remove_manager": Rule(("User.ReadWrite.All", "Directory.ReadWrite.All"), roles=_USER_ADMINS),
    # Licensing (graph-lifecycle.md §0, §6.4).
    "list_subscribed_skus": Rule(("Organization.Read.All", "Directory.Read.All", "Organization.ReadWrite.All",
                                  "Directory.ReadWrite.All")),
    "get_subscribed_sku": Rule(("Organization.Read.All", "Directory.Read.All", "Organization.ReadWrite.All",
                                "Directory.ReadWrite.All")),
    "assign_license": Rule(("LicenseAssignment.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"),
                           roles=_USER_ADMINS | {LICENSE_ADMIN, DIRECTORY_WRITERS}),
    "list_domains": Rule(("Domain.Read.All", "Domain.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")),
    # PIM (graph-pim-baseline P§A5): delegated writes need Privileged Role Administrator (or GA).
    **dict.fromkeys(("list_eligibility_schedules", "get_eligibility_schedules", "list_eligibility_instances",
                     "get_eligibility_instances"), _READ_ELIGIBILITY),
    **dict.fromkeys(("list_assignment_schedules", "get_assignment_schedules", "list_assignment_instances",
                     "get_assignment_instances"), _READ_ASSIGNMENT),
    # Listing requests takes a ReadWrite permission in practice (P§A5, observed 403).
    **dict.fromkeys(("list_eligibility_requests", "get_eligibility_requests"), Rule(WRITE_ELIGIBILITY)),
    **dict.fromkeys(("list_assignment_requests", "get_assignment_requests"), Rule(WRITE_ASSIGNMENT)),
    "create_eligibility_requests": Rule(WRITE_ELIGIBILITY, roles=_PIM_WRITERS),
    "create_assignment_requests": Rule(WRITE_ASSIGNMENT, ("RoleAssignmentSchedule.Remove.Directory",
                                                          "RoleEligibilitySchedule.Remove.Directory"),
                                       roles=_PIM_WRITERS),
    **dict.fromkeys(("list_policy_assignments", "list_policies", "get_policy", "list_policy_rules",
                     "get_policy_rule"), _READ_POLICIES),
    # Application permission is "Not supported" for a rule PATCH (P§A4.3): no app permission listed.
    "update_policy_rule": Rule((), ("RoleManagementPolicy.ReadWrite.Directory", "RoleManagement.ReadWrite.Directory"),
                               roles=_PIM_WRITERS),
}


@dataclass(frozen=True)
class Caller:
    """What a JWT grants: permissions (lower case), whether they are delegated, and admin roles."""

    delegated: bool
    permissions: frozenset[str]
    roles: frozenset[str]


@functools.lru_cache(maxsize=64)
def caller(authorization: str | None) -> Caller | None:
    """The caller a bearer token describes, or None (full access) when it is not a JWT."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    parts = token.strip().split(".")
    if scheme.lower() != "bearer" or len(parts) != 3:
        return None
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(claims, dict):
        return None
    scp, roles, wids = claims.get("scp"), claims.get("roles"), claims.get("wids")
    delegated = isinstance(scp, str) and bool(scp.strip())
    granted = scp.split() if delegated else (roles if isinstance(roles, list) else [])
    held = wids if isinstance(wids, list) else []
    return Caller(
        delegated,
        frozenset(p.lower() for p in granted if isinstance(p, str)),
        frozenset(w.lower() for w in held if isinstance(w, str)) - NOT_ROLES,
    )


def may_act_on(roles: frozenset[str], target_roles: set[str], table: dict[str, frozenset[str]]) -> bool:
    """Table C: some role of the caller may act on every role the target holds."""
    return any(all(r in table.get(t, _TOP) for t in target_roles) for r in roles)


def target_roles(db: sqlite3.Connection, user_id: str) -> set[str]:
    """Template ids of the roles a user holds (a soft-deleted user keeps its assignments)."""
    rows = db.execute(
        "SELECT d.template_id FROM role_assignments a JOIN role_definitions d ON d.id = a.role_definition_id"
        " WHERE a.principal_id = ?", (fold_id(user_id),)).fetchall()
    return {row[0].lower() for row in rows}


async def authorize(store: Store, request: Request, operation: str) -> None:
    """Raise Graph's 403 unless the request's token allows ``operation`` (a graph_app handler name)."""
    who = caller(request.headers.get("authorization"))
    if who is None:
        return
    rule = RULES[operation]
    changed: set[str] = set()
    if operation == "update_user":
        body = await _json(request)
        changed = set(body)
    if not _permitted(who, rule, changed):
        raise denied()
    if who.delegated and rule.roles is not None and not who.roles & rule.roles:
        raise denied()
    reset = "passwordProfile" in changed
    if reset and not who.delegated and not who.roles & (_TOP | {USER_ADMIN}):
        raise denied()  # app-only password reset: the service principal needs at least User Administrator
    if rule.target in ("active", "deleted") or changed & SENSITIVE_PROPERTIES:
        with store.read() as db:
            user = find_user(db, request.path_params["key"], deleted=rule.target == "deleted")
            held = target_roles(db, user["id"]) if user else set()
        if held and not may_act_on(who.roles, held, RESET if reset else SENSITIVE):
            raise denied()


def _permitted(who: Caller, rule: Rule, changed: set[str]) -> bool:
    accepted = list(rule.app)
    if changed and changed <= {"accountEnabled"}:
        accepted.append("User.EnableDisableAccount.All")
    if changed and changed <= {"passwordProfile"}:
        accepted.append("User-PasswordProfile.ReadWrite.All")
    if "passwordProfile" in changed and "Directory.ReadWrite.All" in accepted:
        accepted.remove("Directory.ReadWrite.All")  # it does not allow resetting passwords
    if who.delegated:
        accepted += [*rule.delegated, ACT_AS_USER]
    return any(p.lower() in who.permissions for p in accepted)


async def _json(request: Request) -> dict:
    # The handler reads the body again (Starlette keeps it) and answers a malformed one itself.
    raw = await request.body()
    body = kept_body(request.scope, raw)
    if body is None:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return {}
    return body if isinstance(body, dict) else {}


def unsigned_token(claims: dict) -> str:
    """A JWT carrying ``claims`` and no signature (``alg: none``), as the local tenant reads tokens."""

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."
