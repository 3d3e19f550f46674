"""What each command needs from Microsoft Graph: permissions and admin roles (graph-facts §15,
graph-quirks "Permission model"), and why Graph refused a request with 403.

``doctor`` compares these needs with what a token grants: for app-only tokens the ``roles`` claim,
for delegated tokens the ``scp`` claim (:func:`granted_from_claims`), and the directory roles in
``wids``. The executor and the gateway explain a 403 with the same tables (:func:`refusal`,
:func:`read_refusal`): Graph's answer is the same for every cause, so the cause is derived. Each need is a group of
alternatives listed least-privileged first; a command is runnable when every group has one granted
permission. ``docs/real-tenant.md`` embeds :func:`markdown_table` verbatim, so the doc and this
module cannot drift apart (a test checks it).
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
    "4d6ac14f-3453-41d0-bef9-a3e0c569773a": "License Administrator",
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
_TOP = (PRIV_AUTH_ADMIN, GLOBAL_ADMIN)
ACTS_ON: dict[str, tuple[str, ...]] = {
    **dict.fromkeys((*_READER_ROLES, PASSWORD_ADMIN), (AUTH_ADMIN, USER_ADMIN, *_TOP)),
    AUTH_ADMIN: (AUTH_ADMIN, *_TOP),
    **dict.fromkeys((GROUPS_ADMIN, HELPDESK_ADMIN, USER_ADMIN), (USER_ADMIN, *_TOP)),
}
# "Who can reset passwords" (L§4.2): the target's role -> the roles that may reset its password.
# Roles not listed: only Privileged Authentication Administrator or Global Administrator.
_RESET_ANY = (PASSWORD_ADMIN, HELPDESK_ADMIN, AUTH_ADMIN, USER_ADMIN, *_TOP)
RESETS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("88d8e3e3-8f55-4a1e-953a-9b9898b8876b", "95e79109-95c0-4d8e-aee3-d01accf2d47b",
                     PASSWORD_ADMIN), _RESET_ANY),
    **dict.fromkeys(("790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b", "4a5d8f65-41da-4de4-8968-e035b65339cf",
                     "75934031-6c7e-415a-99d7-48dbd49e875e"), (HELPDESK_ADMIN, AUTH_ADMIN, USER_ADMIN, *_TOP)),
    AUTH_ADMIN: (AUTH_ADMIN, *_TOP),
    HELPDESK_ADMIN: (HELPDESK_ADMIN, USER_ADMIN, *_TOP),
    **dict.fromkeys((GROUPS_ADMIN, USER_ADMIN), (USER_ADMIN, *_TOP)),
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
RESET_PASSWORDS = ("User-PasswordProfile.ReadWrite.All", "User.ReadWrite.All")
REVOKE_SESSIONS = ("User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All")
ASSIGN_LICENSES = ("LicenseAssignment.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All")

# Delegated tokens: this scope acts with everything the signed-in user's admin role allows.
ACT_AS_USER = "Directory.AccessAsUser.All"

PRIVILEGED_TARGETS = (
    "Deleting, restoring or disabling, renaming or re-phoning a user who holds an admin role is not allowed "
    "by User.ReadWrite.All or User.DeleteRestore.All alone: the app's service principal must itself hold a "
    "higher privileged admin role (Privileged Authentication Administrator, or Global Administrator), "
    "and a person needs that role too."
)
PURGE_UNCERTAIN = (
    "Permanent delete with an application permission is documented as User.DeleteRestore.All, but an "
    "older version of the page said app-only was not supported; if Graph answers 403, purge as a "
    "person (device-code or browser) holding User Administrator."
)


@dataclass(frozen=True)
class Requirement:
    """What one command needs: all of ``needs`` (each a group of alternatives), and a person's role."""

    command: str
    needs: tuple[tuple[str, ...], ...]
    delegated_role: str
    note: str = ""
    person: tuple[tuple[str, ...], ...] = ()  # a person's roles: one of each group (template ids)
    admins: bool = False  # deletes, restores or updates users, who may hold admin roles


class CommandCheck(NamedTuple):
    """doctor's verdict for one command: runnable or not, what to add, and what to do about it.
    ``warn``: runnable, but Graph will refuse it for some users (those who hold admin roles)."""

    command: str
    ok: bool
    missing: list[str]
    hint: str
    warn: bool = False


_USER_ADMINS = (USER_ADMIN, GLOBAL_ADMIN)
_DELETERS = (USER_ADMIN, PRIV_AUTH_ADMIN, GLOBAL_ADMIN)
_ROLE_ADMINS = (PRIV_ROLE_ADMIN, GLOBAL_ADMIN)


REQUIREMENTS: dict[str, Requirement] = {
    r.command: r
    for r in (
        Requirement(
            "users list",
            (READ_USERS,),
            "Directory Readers (or Global Reader)",
            "--role filters also read role assignments (RoleManagement.Read.Directory).",
        ),
        Requirement("users show", (READ_USERS, READ_ROLES), "Directory Readers (or Global Reader)"),
        Requirement(
            "users create",
            (WRITE_USERS,),
            "User Administrator",
            "--role also needs RoleManagement.ReadWrite.Directory (and Privileged Role Administrator for a person).",
            (_USER_ADMINS,),
        ),
        Requirement(
            "users delete", (READ_USERS, DELETE_RESTORE, READ_ROLES), "User Administrator", person=(_DELETERS,),
            admins=True,
        ),
        Requirement(
            "users restore",
            (READ_DELETED, DELETE_RESTORE, READ_USERS, READ_ROLES),
            "User Administrator",
            person=(_DELETERS,),
            admins=True,
        ),
        Requirement(
            "users purge", (READ_DELETED, PURGE, READ_ROLES), "User Administrator", PURGE_UNCERTAIN, (_USER_ADMINS,)
        ),
        Requirement("deleted list", (READ_DELETED,), "User Administrator (or Authentication Administrator)",
                    person=((USER_ADMIN, AUTH_ADMIN, PRIV_AUTH_ADMIN, GLOBAL_ADMIN),)),
        Requirement("roles list", (READ_ROLES,), "Directory Readers (or Global Reader)"),
        Requirement("roles members", (READ_ROLES, READ_USERS), "Directory Readers (or Global Reader)"),
        Requirement(
            "roles assign",
            (READ_USERS, WRITE_ROLES),
            "Privileged Role Administrator",
            "Assigning Global Administrator needs no more than Privileged Role Administrator.",
            (_ROLE_ADMINS,),
        ),
        Requirement("roles revoke", (READ_USERS, WRITE_ROLES), "Privileged Role Administrator", person=(_ROLE_ADMINS,)),
        Requirement(
            "sync",
            (WRITE_USERS, DELETE_RESTORE, WRITE_ROLES),
            "User Administrator and Privileged Role Administrator",
            "A manifest without roles does not need RoleManagement.ReadWrite.Directory.",
            (_USER_ADMINS, _ROLE_ADMINS),
            admins=True,
        ),
        Requirement("audit", (READ_USERS, READ_DELETED, READ_ROLES), "Global Reader"),
    )
}
COMMANDS = tuple(REQUIREMENTS)


def _requirement(command: str) -> Requirement:
    try:
        return REQUIREMENTS[command]
    except KeyError:
        raise ValueError(f"unknown command {command!r}; known: {', '.join(COMMANDS)}") from None


def missing_for(granted: set[str], command: str, *, delegated: bool = False) -> list[str]:
    """The least-privileged permission to add for each need of ``command`` that ``granted`` lacks.

    With ``delegated=True`` (scopes from ``scp``), ``Directory.AccessAsUser.All`` satisfies every
    need; the signed-in person's admin role then decides.
    """
    have = {p.lower() for p in granted}
    if delegated and ACT_AS_USER.lower() in have:
        return []
    missing: list[str] = []
    for group in _requirement(command).needs:
        if not any(p.lower() in have for p in group) and group[0] not in missing:
            missing.append(group[0])
    return missing


def check_all(granted: set[str], *, delegated: bool = False,
              wids: set[str] | None = None) -> list[CommandCheck]:
    """doctor's table: for every command, whether ``granted`` suffices, what is missing, and a hint.

    ``wids``: the directory roles the token says its subject holds (the app's service principal, or
    the signed-in person), None when the token does not say; then the roles are only named.
    """
    roles = None if wids is None else {w.lower() for w in wids} - NOT_ROLES
    who = "the signed-in admin" if delegated else "the app's service principal"
    checks = []
    for command, req in REQUIREMENTS.items():
        missing = missing_for(granted, command, delegated=delegated)
        lacking = [g for g in req.person if roles is not None and not roles & set(g)] if delegated else []
        if missing and delegated:
            hint = (
                f"Add the delegated permission(s) {', '.join(missing)} and sign in as {req.delegated_role}."
            )
        elif missing:
            hint = (
                f"Add the application permission(s) {', '.join(missing)} (App registrations > API permissions > "
                "Microsoft Graph) and grant admin consent."
            )
        elif lacking:
            hint = f"Sign in as {' and '.join(_names(g[:1]) for g in lacking)}: {who} holds {_held(roles)}."
        elif delegated and roles is None:
            hint = f"The signed-in person also needs {req.delegated_role}."
        else:
            hint = ""
        warn = False
        if req.admins and roles is None:
            hint = " ".join(h for h in (hint, PRIVILEGED_TARGETS) if h)
        elif req.admins and not roles & set(_TOP):
            warn = not missing and not lacking
            hint = " ".join(h for h in (hint, (
                f"Deleting, restoring or updating users who hold privileged admin roles needs {who} to hold "
                f"{_names(_TOP)}; it holds {_held(roles)}.")) if h)
        hint = " ".join(h for h in (hint, req.note) if h)
        checks.append(CommandCheck(command, not missing and not lacking, missing, hint, warn))
    return checks


def _names(role_ids: tuple[str, ...]) -> str:
    names = [ROLE_NAMES.get(r, f"the role {r}") for r in role_ids]
    return names[0] + (f" (or {', '.join(names[1:])})" if names[1:] else "")


def _held(roles: set[str] | frozenset[str] | None) -> str:
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
    Action.CREATE: WriteNeed(WRITE_USERS, _USER_ADMINS),
    Action.UPDATE: WriteNeed(UPDATE_USERS, _DELETERS, True),
    Action.RESTORE: WriteNeed(DELETE_RESTORE, _DELETERS, True),
    Action.ASSIGN: WriteNeed(WRITE_ROLES, _ROLE_ADMINS),
    Action.REVOKE: WriteNeed(WRITE_ROLES, _ROLE_ADMINS),
    Action.RESCHEDULE: WriteNeed(WRITE_ROLES, _ROLE_ADMINS),
    Action.DELETE: WriteNeed(DELETE_RESTORE, _DELETERS, True),
    Action.PURGE: WriteNeed(PURGE, _USER_ADMINS),
    Action.MANAGER: WriteNeed(WRITE_USERS, _USER_ADMINS),
    Action.SESSIONS: WriteNeed(REVOKE_SESSIONS, (HELPDESK_ADMIN, USER_ADMIN, *_TOP), True),
    Action.PASSWORD: WriteNeed(RESET_PASSWORDS, _RESET_ANY, True),
    # A PIM policy rule (P§A4.3, A5): delegated only; Privileged Role Administrator at least.
    Action.POLICY_RULE: WriteNeed(("RoleManagementPolicy.ReadWrite.Directory", "RoleManagement.ReadWrite.Directory"),
                                  _ROLE_ADMINS),
    Action.LICENSE: WriteNeed(ASSIGN_LICENSES, ("4d6ac14f-3453-41d0-bef9-a3e0c569773a", USER_ADMIN, GLOBAL_ADMIN)),
}


def resetters(target_roles: set[str] | frozenset[str], *, app_only: bool) -> tuple[str, ...]:
    """The roles that may reset the password of a user holding ``target_roles``, least first. An
    app's service principal needs at least User Administrator even for a user without a role (L§4.3)."""
    able = tuple(r for r in _RESET_ANY if all(r in RESETS.get(t, _TOP) for t in target_roles))
    return tuple(r for r in able if r in (USER_ADMIN, *_TOP)) if app_only else able


def acts_on(target_roles: set[str] | frozenset[str]) -> tuple[str, ...]:
    """The roles that may make a sensitive change to a user holding ``target_roles``, least first."""
    order = (AUTH_ADMIN, USER_ADMIN, *_TOP)
    return tuple(r for r in order if all(r in ACTS_ON.get(t, _TOP) for t in target_roles))


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
    permission = f"the {kind} {_alternatives_text(need.permissions)}"
    if grants is not None and not grants.has(need.permissions):
        return f"The token lacks {permission}."
    roles = grants.roles if grants is not None else None
    if grants is not None and grants.delegated and roles is not None and not roles & set(need.person):
        return f"The signed-in admin needs {_names(need.person)}; they hold {_held(roles)}."
    if action is Action.PASSWORD and target_roles is not None:
        able = resetters(target_roles, app_only=not (grants and grants.delegated))
        if roles is None or not roles & set(able):
            held = ", ".join(sorted(ROLE_NAMES.get(r, f"the role {r}") for r in target_roles)) or "no admin role"
            prefix = f"Needs {permission}; and " if grants is None else ""
            doing = "resetting" if prefix else "Resetting"
            return (f"{prefix}{doing} the password of {upn} (who holds {held}) needs {who} to hold "
                    f"{_names(able)}.")
    if is_sensitive(action, changed) and target_roles:
        able = tuple(r for r in acts_on(target_roles) if not (grants and grants.delegated) or r in need.person)
        if roles is None or not roles & set(able):
            held = ", ".join(sorted(ROLE_NAMES.get(r, f"the role {r}") for r in target_roles))
            prefix = f"Needs {permission}; and " if grants is None else ""
            return f"{prefix}{upn} holds {held}: {who} needs {_names(able)}."
    if is_sensitive(action, changed) and target_roles is None:
        prefix = f"Needs {permission}; if" if grants is None else "If"
        return (f"{prefix} {upn} holds an admin role, {who} needs a role that may act on it "
                f"({_names(_TOP)} may act on every role).")
    if grants is None:
        return f"Needs {permission}" + (f", and a person needs {_names(need.person)}." if need.person else ".")
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
    return f"{what} needs the permission {_alternatives_text(need)}."


def _alternatives_text(group: tuple[str, ...]) -> str:
    return group[0] + (f" (or {', '.join(group[1:])})" if group[1:] else "")


def all_permissions() -> set[str]:
    """Every permission any command accepts (for docs and tests)."""
    return {p for r in REQUIREMENTS.values() for group in r.needs for p in group}


def _alternatives(group: tuple[str, ...]) -> str:
    first, rest = f"`{group[0]}`", ", ".join(f"`{p}`" for p in group[1:])
    return f"{first} (or {rest})" if rest else first


def markdown_table() -> str:
    """The permissions-per-command table that docs/real-tenant.md embeds verbatim."""
    lines = [
        "| Command | Application permissions (every line is needed; the first is the least privileged, "
        "the broader ones in brackets also do) | Admin role for a person |",
        "|---|---|---|",
    ]
    for r in REQUIREMENTS.values():
        needs = "<br>".join(_alternatives(group) for group in r.needs)
        lines.append(f"| `provisioner {r.command}` | {needs} | {r.delegated_role} |")
    return "\n".join(lines) + "\n"
