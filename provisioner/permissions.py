"""Graph's permission rules (graph-facts §15, graph-quirks "Permission model", L§0, L§1.6, L§4):
the permissions each kind of request accepts, who may act on whose account, what a token grants,
and why Graph refused a request with 403.

A token grants, for app-only tokens, the ``roles`` claim, for delegated tokens the ``scp`` claim
(:func:`granted_from_claims`), and the directory roles in ``wids``. The executor and the gateway
explain a 403 with these tables (:func:`refusal`, :func:`read_refusal`): Graph's answer is the same
for every cause, so the cause is derived. Permission groups list alternatives least privileged
first. What each command needs, for ``doctor``, is :mod:`provisioner.command_needs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from provisioner.changes import Action

# Directory role template ids (graph-quirks B) and the names messages use.
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
PRIV_AUTH_ADMIN = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"
PRIV_ROLE_ADMIN = "e8611ab8-c189-46e8-94e1-60213ab1f814"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
AUTH_ADMIN = "c4e39bd9-1100-46d3-8c65-fb160da0071f"
HELPDESK_ADMIN = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
PASSWORD_ADMIN = "966707d0-3269-4727-9be2-8c3a10f19b9d"
GROUPS_ADMIN = "fdd7a751-b60b-444a-984c-02652fe8fa1c"
LICENSE_ADMIN = "4d6ac14f-3453-41d0-bef9-a3e0c569773a"
_READER_ROLES = {
    "88d8e3e3-8f55-4a1e-953a-9b9898b8876b": "Directory Readers",
    "95e79109-95c0-4d8e-aee3-d01accf2d47b": "Guest Inviter",
    "790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b": "Message Center Reader",
    "4a5d8f65-41da-4de4-8968-e035b65339cf": "Reports Reader",
    "75934031-6c7e-415a-99d7-48dbd49e875e": "Usage Summary Reports Reader",
}
ROLE_NAMES = {
    GLOBAL_ADMIN: "Global Administrator",
    PRIV_AUTH_ADMIN: "Privileged Authentication Administrator",
    PRIV_ROLE_ADMIN: "Privileged Role Administrator",
    USER_ADMIN: "User Administrator",
    AUTH_ADMIN: "Authentication Administrator",
    HELPDESK_ADMIN: "Helpdesk Administrator",
    PASSWORD_ADMIN: "Password Administrator",
    GROUPS_ADMIN: "Groups Administrator",
    LICENSE_ADMIN: "License Administrator",
    "f2ef992c-3afb-46b9-b7cf-a126ee74c451": "Global Reader",
    "b0f54661-2d74-4c50-afa3-1ec803f12efe": "Billing Administrator",
    "f023fd81-a637-4b56-95fd-791ac0226033": "Service Support Administrator",
    **_READER_ROLES,
}
# In `wids` but not roles: the app-only marker (OBSERVED) and the default user role (UNVERIFIED).
NOT_ROLES = frozenset({"0997a1d0-0d1d-4acb-b408-d5ca73121e90", "b79fbf4d-3ef9-4689-8143-76b194e85509"})
# "Who can perform sensitive actions" (graph-quirks C): the target's role -> the roles that may act
# on its holder, least privileged first. Roles the table does not list (other built-ins, custom
# roles): only Privileged Authentication Administrator or Global Administrator.
TOP = (PRIV_AUTH_ADMIN, GLOBAL_ADMIN)
ACTS_ON: dict[str, tuple[str, ...]] = {
    **dict.fromkeys((*_READER_ROLES, PASSWORD_ADMIN), (AUTH_ADMIN, USER_ADMIN, *TOP)),
    AUTH_ADMIN: (AUTH_ADMIN, *TOP),
    **dict.fromkeys((GROUPS_ADMIN, HELPDESK_ADMIN, USER_ADMIN), (USER_ADMIN, *TOP)),
}
# "Who can reset passwords" (L§4.2): the target's role -> the roles that may reset its password.
# Roles not listed: only Privileged Authentication Administrator or Global Administrator.
RESET_ANY = (PASSWORD_ADMIN, HELPDESK_ADMIN, AUTH_ADMIN, USER_ADMIN, *TOP)
RESETS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("88d8e3e3-8f55-4a1e-953a-9b9898b8876b", "95e79109-95c0-4d8e-aee3-d01accf2d47b",
                     PASSWORD_ADMIN), RESET_ANY),
    **dict.fromkeys(("790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b", "4a5d8f65-41da-4de4-8968-e035b65339cf",
                     "75934031-6c7e-415a-99d7-48dbd49e875e"), (HELPDESK_ADMIN, AUTH_ADMIN, USER_ADMIN, *TOP)),
    AUTH_ADMIN: (AUTH_ADMIN, *TOP),
    HELPDESK_ADMIN: (HELPDESK_ADMIN, USER_ADMIN, *TOP),
    **dict.fromkeys((GROUPS_ADMIN, USER_ADMIN), (USER_ADMIN, *TOP)),
}
# Updating these is a sensitive action, as deleting and restoring are.
SENSITIVE_PROPERTIES = frozenset({
    "accountEnabled", "businessPhones", "mobilePhone", "otherMails", "onPremisesImmutableId", "passwordProfile",
    "userPrincipalName",
})

# Alternatives, least privileged first. A broader permission that includes a narrower one is listed
# so that a tenant which already granted it is not told to add the narrow one.
READ_USERS = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
WRITE_USERS = ("User.ReadWrite.All", "Directory.ReadWrite.All")
UPDATE_USERS = ("User.ReadUpdate.All", "User.ReadWrite.All", "Directory.ReadWrite.All")
READ_DELETED = (
    "User.Read.All",
    "User.DeleteRestore.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
# User.DeleteRestore.All is the documented least privilege (Dec 2024); the delete-user API page and
# older restore pages list User.ReadWrite.All, which is still accepted as the broader alternative.
DELETE_RESTORE = ("User.DeleteRestore.All", "User.ReadWrite.All")
# Permanent delete: User.DeleteRestore.All per "What's new"; an older page said app-only was not
# supported at all. Unverified against a live tenant, so doctor says so.
PURGE = ("User.DeleteRestore.All",)
READ_ROLES = (
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    "RoleManagement.ReadWrite.Directory",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
WRITE_ROLES = ("RoleManagement.ReadWrite.Directory",)
# A PIM policy rule's PATCH (graph-pim-baseline P§A4.3, A5): delegated only.
POLICY_RULES = ("RoleManagementPolicy.ReadWrite.Directory", "RoleManagement.ReadWrite.Directory")
RESET_PASSWORDS = ("User-PasswordProfile.ReadWrite.All", "User.ReadWrite.All")
REVOKE_SESSIONS = ("User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All")
ASSIGN_LICENSES = ("LicenseAssignment.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All")
# A PATCH of accountEnabled alone also takes this narrower permission (L§1.5).
ENABLE_DISABLE = ("User.EnableDisableAccount.All", *UPDATE_USERS)
READ_SKUS = ("Organization.Read.All", "Directory.Read.All", "Organization.ReadWrite.All", "Directory.ReadWrite.All")
READ_DOMAINS = ("Domain.Read.All", "Domain.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")

USER_ADMINS = (USER_ADMIN, GLOBAL_ADMIN)
DELETERS = (USER_ADMIN, PRIV_AUTH_ADMIN, GLOBAL_ADMIN)
ROLE_ADMINS = (PRIV_ROLE_ADMIN, GLOBAL_ADMIN)
LICENSERS = (LICENSE_ADMIN, USER_ADMIN, GLOBAL_ADMIN)
# An app resets passwords only with a directory role on its service principal, even for users who
# hold none (L§4.3): User Administrator at least.
APP_RESETTERS = (USER_ADMIN, *TOP)

# Delegated tokens: this scope acts with everything the signed-in user's admin role allows.
ACT_AS_USER = "Directory.AccessAsUser.All"

def roles_text(role_ids: tuple[str, ...]) -> str:
    names = [ROLE_NAMES.get(r, f"the role {r}") for r in role_ids]
    return names[0] + (f" (or {', '.join(names[1:])})" if names[1:] else "")


def held_text(roles: set[str] | frozenset[str] | None) -> str:
    return ", ".join(sorted(ROLE_NAMES.get(r, r) for r in roles)) if roles else "no directory role"


def granted_from_claims(claims: dict[str, Any]) -> tuple[bool, set[str]]:
    """``(delegated, permissions)`` from an access token's claims: ``scp`` if present, else ``roles``."""
    scp = claims.get("scp")
    if isinstance(scp, str) and scp.strip():
        return True, set(scp.split())
    roles = claims.get("roles")
    return False, {r for r in roles if isinstance(r, str)} if isinstance(roles, list) else set()


def roles_from_claims(claims: dict[str, Any], *, delegated: bool) -> set[str] | None:
    """The directory roles in ``wids`` (markers left out). An app-only token without ``wids``: its
    service principal holds none; a delegated one: unknown (None)."""
    wids = claims.get("wids")
    if not isinstance(wids, list):
        return None if delegated else set()
    return {w.lower() for w in wids if isinstance(w, str)} - NOT_ROLES


# --- why Graph refused a write (403 Authorization_RequestDenied) -----------------------------------


@dataclass(frozen=True)
class Grants:
    """What the token a run used grants: permissions, whether delegated, directory roles (None: unknown)."""

    delegated: bool
    permissions: frozenset[str]
    roles: frozenset[str] | None

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Grants:
        delegated, granted = granted_from_claims(claims)
        roles = roles_from_claims(claims, delegated=delegated)
        return cls(delegated, frozenset(p.lower() for p in granted), None if roles is None else frozenset(roles))

    def has(self, alternatives: tuple[str, ...]) -> bool:
        if self.delegated and ACT_AS_USER.lower() in self.permissions:
            return True
        return any(p.lower() in self.permissions for p in alternatives)


class WriteNeed(NamedTuple):
    """What one kind of write needs: a permission (alternatives, least first), a person's role, and
    whether its target's admin roles matter (a sensitive action)."""

    permissions: tuple[str, ...]
    person: tuple[str, ...]
    sensitive: bool = False


WRITE_NEEDS: dict[Action, WriteNeed] = {
    Action.CREATE: WriteNeed(WRITE_USERS, USER_ADMINS),
    Action.UPDATE: WriteNeed(UPDATE_USERS, DELETERS, True),
    Action.RESTORE: WriteNeed(DELETE_RESTORE, DELETERS, True),
    Action.ASSIGN: WriteNeed(WRITE_ROLES, ROLE_ADMINS),
    Action.REVOKE: WriteNeed(WRITE_ROLES, ROLE_ADMINS),
    Action.RESCHEDULE: WriteNeed(WRITE_ROLES, ROLE_ADMINS),
    Action.DELETE: WriteNeed(DELETE_RESTORE, DELETERS, True),
    Action.PURGE: WriteNeed(PURGE, USER_ADMINS),
    Action.MANAGER: WriteNeed(WRITE_USERS, USER_ADMINS),
    Action.SESSIONS: WriteNeed(REVOKE_SESSIONS, (HELPDESK_ADMIN, USER_ADMIN, *TOP), True),
    Action.PASSWORD: WriteNeed(RESET_PASSWORDS, RESET_ANY, True),
    # A PIM policy rule (P§A4.3, A5): delegated only; Privileged Role Administrator at least.
    Action.POLICY_RULE: WriteNeed(POLICY_RULES, ROLE_ADMINS),
    Action.LICENSE: WriteNeed(ASSIGN_LICENSES, LICENSERS),
}


def resetters(target_roles: set[str] | frozenset[str], *, app_only: bool) -> tuple[str, ...]:
    """The roles that may reset the password of a user holding ``target_roles``, least first. An
    app's service principal needs at least User Administrator even for a user without a role (L§4.3)."""
    able = tuple(r for r in RESET_ANY if all(r in RESETS.get(t, TOP) for t in target_roles))
    return tuple(r for r in able if r in (USER_ADMIN, *TOP)) if app_only else able


def acts_on(target_roles: set[str] | frozenset[str]) -> tuple[str, ...]:
    """The roles that may make a sensitive change to a user holding ``target_roles``, least first."""
    order = (AUTH_ADMIN, USER_ADMIN, *TOP)
    return tuple(r for r in order if all(r in ACTS_ON.get(t, TOP) for t in target_roles))


def is_sensitive(action: Action, changed: set[str] | None = None) -> bool:
    """Whether a write of ``action`` (setting ``changed`` properties) is a sensitive action."""
    if action is Action.UPDATE:
        return bool(set(changed or ()) & SENSITIVE_PROPERTIES)
    return WRITE_NEEDS[action].sensitive


def refusal(action: Action, upn: str, *, grants: Grants | None, target_roles: set[str] | None,
            changed: set[str] | None = None) -> str:
    """What is missing for a write Graph refused with 403, in one sentence, derived from the tables.

    ``grants``: the run's token (None: not a token that says, such as an opaque one);
    ``target_roles``: the template ids of the roles the user holds (None: not known, e.g. deleted).
    """
    need = WRITE_NEEDS[action]
    kind = ("delegated permission" if grants.delegated else "application permission") if grants else "permission"
    who = ("the signed-in admin" if grants.delegated else "the app's service principal") if grants else \
        "the app's service principal (or the signed-in admin)"
    permission = f"the {kind} {alternatives_text(need.permissions)}"
    if grants is not None and not grants.has(need.permissions):
        return f"The token lacks {permission}."
    roles = grants.roles if grants is not None else None
    if grants is not None and grants.delegated and roles is not None and not roles & set(need.person):
        return f"The signed-in admin needs {roles_text(need.person)}; they hold {held_text(roles)}."
    if action is Action.PASSWORD and target_roles is not None:
        able = resetters(target_roles, app_only=not (grants and grants.delegated))
        if roles is None or not roles & set(able):
            held = ", ".join(sorted(ROLE_NAMES.get(r, f"the role {r}") for r in target_roles)) or "no admin role"
            prefix = f"Needs {permission}; and " if grants is None else ""
            doing = "resetting" if prefix else "Resetting"
            return (f"{prefix}{doing} the password of {upn} (who holds {held}) needs {who} to hold "
                    f"{roles_text(able)}.")
    if is_sensitive(action, changed) and target_roles:
        able = tuple(r for r in acts_on(target_roles) if not (grants and grants.delegated) or r in need.person)
        if roles is None or not roles & set(able):
            held = ", ".join(sorted(ROLE_NAMES.get(r, f"the role {r}") for r in target_roles))
            prefix = f"Needs {permission}; and " if grants is None else ""
            return f"{prefix}{upn} holds {held}: {who} needs {roles_text(able)}."
    if is_sensitive(action, changed) and target_roles is None:
        prefix = f"Needs {permission}; if" if grants is None else "If"
        return (f"{prefix} {upn} holds an admin role, {who} needs a role that may act on it "
                f"({roles_text(TOP)} may act on every role).")
    if grants is None:
        return f"Needs {permission}" + (f", and a person needs {roles_text(need.person)}." if need.person else ".")
    return ("The token grants what the published rules ask for; check the app's admin consent and its "
            "service principal's roles, then get a new token.")


def read_refusal(method: str, url: str) -> str | None:
    """What a read Graph refused with 403 needs, in one sentence; None for a URL it does not know."""
    path = url.split("?", 1)[0].split("/v1.0", 1)[-1].rstrip("/")
    if method != "GET":
        return None
    if path.startswith("/directory/deletedItems"):
        what, need = "Reading deleted users", READ_DELETED
    elif path.startswith("/users"):
        what, need = "Reading users", READ_USERS
    elif path.startswith("/roleManagement/directory/"):
        what, need = "Reading roles and their holders", READ_ROLES
    else:
        return None
    return f"{what} needs the permission {alternatives_text(need)}."


def alternatives_text(group: tuple[str, ...]) -> str:
    return group[0] + (f" (or {', '.join(group[1:])})" if group[1:] else "")
