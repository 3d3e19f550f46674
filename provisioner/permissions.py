"""What each command needs from Microsoft Graph: permissions and admin roles (graph-facts §15).

``doctor`` compares these needs with what a token grants: for app-only tokens the ``roles`` claim,
for delegated tokens the ``scp`` claim (:func:`granted_from_claims`). Each need is a group of
alternatives listed least-privileged first; a command is runnable when every group has one granted
permission. ``docs/real-tenant.md`` embeds :func:`markdown_table` verbatim, so the doc and this
module cannot drift apart (a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

# Alternatives, least privileged first. A broader permission that includes a narrower one is listed
# so that a tenant which already granted it is not told to add the narrow one.
READ_USERS = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
WRITE_USERS = ("User.ReadWrite.All", "Directory.ReadWrite.All")
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

# Delegated tokens: this scope acts with everything the signed-in user's admin role allows.
ACT_AS_USER = "Directory.AccessAsUser.All"

PRIVILEGED_TARGETS = (
    "Deleting, restoring or purging a user who holds a privileged admin role is not allowed by "
    "User.ReadWrite.All or User.DeleteRestore.All alone: the app's service principal must itself hold a "
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


class CommandCheck(NamedTuple):
    """doctor's verdict for one command: runnable or not, what to add, and what to do about it."""

    command: str
    ok: bool
    missing: list[str]
    hint: str


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
        ),
        Requirement(
            "users delete", (READ_USERS, DELETE_RESTORE, READ_ROLES), "User Administrator", PRIVILEGED_TARGETS
        ),
        Requirement(
            "users restore",
            (READ_DELETED, DELETE_RESTORE, READ_USERS, READ_ROLES),
            "User Administrator",
            PRIVILEGED_TARGETS,
        ),
        Requirement(
            "users purge",
            (READ_DELETED, PURGE, READ_ROLES),
            "User Administrator",
            PURGE_UNCERTAIN + " " + PRIVILEGED_TARGETS,
        ),
        Requirement("deleted list", (READ_DELETED,), "Directory Readers (or Global Reader)"),
        Requirement("roles list", (READ_ROLES,), "Directory Readers (or Global Reader)"),
        Requirement("roles members", (READ_ROLES, READ_USERS), "Directory Readers (or Global Reader)"),
        Requirement(
            "roles assign",
            (READ_USERS, WRITE_ROLES),
            "Privileged Role Administrator",
            "Assigning Global Administrator needs no more than Privileged Role Administrator.",
        ),
        Requirement("roles revoke", (READ_USERS, WRITE_ROLES), "Privileged Role Administrator"),
        Requirement(
            "sync",
            (WRITE_USERS, DELETE_RESTORE, WRITE_ROLES),
            "User Administrator and Privileged Role Administrator",
            "A manifest without roles does not need RoleManagement.ReadWrite.Directory. "
            + PRIVILEGED_TARGETS,
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


def check_all(granted: set[str], *, delegated: bool = False) -> list[CommandCheck]:
    """doctor's table: for every command, whether ``granted`` suffices, what is missing, and a hint."""
    checks = []
    for command, req in REQUIREMENTS.items():
        missing = missing_for(granted, command, delegated=delegated)
        if missing and delegated:
            hint = (
                f"Add the delegated permission(s) {', '.join(missing)} and sign in as {req.delegated_role}."
            )
        elif missing:
            hint = (
                f"Add the application permission(s) {', '.join(missing)} (App registrations > API permissions > "
                "Microsoft Graph) and grant admin consent."
            )
        elif delegated:
            hint = f"The signed-in person also needs {req.delegated_role}."
        else:
            hint = ""
        hint = " ".join(h for h in (hint, req.note) if h)
        checks.append(CommandCheck(command, not missing, missing, hint))
    return checks


def granted_from_claims(claims: dict[str, Any]) -> tuple[bool, set[str]]:
    """``(delegated, permissions)`` from an access token's claims: ``scp`` if present, else ``roles``."""
    scp = claims.get("scp")
    if isinstance(scp, str) and scp.strip():
        return True, set(scp.split())
    roles = claims.get("roles")
    return False, {r for r in roles if isinstance(r, str)} if isinstance(roles, list) else set()


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
