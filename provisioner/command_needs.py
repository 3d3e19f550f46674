"""What each command needs, for ``doctor``: per command, the Graph permissions (groups of
alternatives, least privileged first), a person's admin roles, the role an app's service principal
must hold, and what each option adds; and the verdict for a token's grants (:func:`check_all`).

A command is runnable when every need has one granted permission. The rules themselves (role
tables, permission groups, why Graph refused a request) are in :mod:`provisioner.permissions`.
``docs/real-tenant.md`` embeds :func:`markdown_table` verbatim, so the doc and this module cannot
drift apart (a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from provisioner.permissions import (
    ACT_AS_USER,
    APP_RESETTERS,
    ASSIGN_LICENSES,
    AUTH_ADMIN,
    DELETE_RESTORE,
    DELETERS,
    ENABLE_DISABLE,
    GLOBAL_ADMIN,
    LICENSERS,
    NOT_ROLES,
    POLICY_RULES,
    PRIV_AUTH_ADMIN,
    PURGE,
    READ_DELETED,
    READ_DOMAINS,
    READ_ROLES,
    READ_SKUS,
    READ_USERS,
    RESET_ANY,
    RESET_PASSWORDS,
    REVOKE_SESSIONS,
    ROLE_ADMINS,
    TOP,
    UPDATE_USERS,
    USER_ADMIN,
    USER_ADMINS,
    WRITE_ROLES,
    WRITE_USERS,
    Grants,
    alternatives_text,
    held_text,
    roles_text,
)

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
    acting: str = "Deleting, restoring or updating users"  # what `admins` warns about, as a sentence starts
    app_roles: tuple[str, ...] = ()  # an app's service principal must hold one of these, whatever the target
    options: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = ()  # an option's own extra needs
    app_cannot: str = ""  # what Graph accepts from a signed-in person only (said to app-only tokens)


class CommandCheck(NamedTuple):
    """doctor's verdict for one command: runnable or not, what to add, and what to do about it.
    ``warn``: runnable, but Graph will refuse it for some users (those who hold admin roles)."""

    command: str
    ok: bool
    missing: list[str]
    hint: str
    warn: bool = False


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
            (USER_ADMINS,),
            # assignLicense is not covered by User.ReadUpdate.All-like grants: the license needs are their own.
            options=(("--license (or a licenses column)", (READ_SKUS, ASSIGN_LICENSES)),),
        ),
        Requirement(
            "users delete", (READ_USERS, DELETE_RESTORE, READ_ROLES), "User Administrator", person=(DELETERS,),
            admins=True,
        ),
        Requirement(
            "users restore",
            (READ_DELETED, DELETE_RESTORE, READ_USERS, READ_ROLES),
            "User Administrator",
            person=(DELETERS,),
            admins=True,
        ),
        Requirement(
            "users purge", (READ_DELETED, PURGE, READ_ROLES), "User Administrator", PURGE_UNCERTAIN, (USER_ADMINS,)
        ),
        Requirement("users update", (READ_USERS, UPDATE_USERS), "User Administrator", person=(DELETERS,),
                    admins=True, acting="Renaming or re-phoning users",
                    options=(("--manager", (WRITE_USERS,)), ("--upn", (READ_DOMAINS,)),
                             ("--from with a licenses column", (READ_SKUS, ASSIGN_LICENSES)))),
        Requirement("users disable", (READ_USERS, READ_ROLES, ENABLE_DISABLE, REVOKE_SESSIONS), "User Administrator",
                    "--keep-sessions does not need User.RevokeSessions.All.", person=(DELETERS,), admins=True,
                    acting="Disabling or signing out users"),
        Requirement("users enable", (READ_USERS, ENABLE_DISABLE), "User Administrator", person=(DELETERS,),
                    admins=True, acting="Enabling users"),
        Requirement("users reset-password", (READ_USERS, RESET_PASSWORDS, REVOKE_SESSIONS),
                    "Helpdesk Administrator (or Password, Authentication or User Administrator)",
                    "--keep-sessions does not need User.RevokeSessions.All.", person=(RESET_ANY,),
                    admins=True, acting="Resetting the passwords of users", app_roles=APP_RESETTERS),
        Requirement("users offboard",
                    (READ_USERS, READ_ROLES, ENABLE_DISABLE, REVOKE_SESSIONS, RESET_PASSWORDS, WRITE_ROLES,
                     WRITE_USERS),
                    "User Administrator and Privileged Role Administrator", person=(DELETERS, ROLE_ADMINS), admins=True,
                    acting="Offboarding users", app_roles=APP_RESETTERS,
                    options=(("--remove-licenses", (ASSIGN_LICENSES,)), ("--delete", (DELETE_RESTORE,)))),
        Requirement("deleted list", (READ_DELETED,), "User Administrator (or Authentication Administrator)",
                    person=((USER_ADMIN, AUTH_ADMIN, PRIV_AUTH_ADMIN, GLOBAL_ADMIN),)),
        Requirement("roles list", (READ_ROLES,), "Directory Readers (or Global Reader)"),
        Requirement("roles members", (READ_ROLES, READ_USERS), "Directory Readers (or Global Reader)"),
        Requirement(
            "roles assign",
            (READ_USERS, WRITE_ROLES),
            "Privileged Role Administrator",
            "Assigning Global Administrator needs no more than Privileged Role Administrator.",
            (ROLE_ADMINS,),
        ),
        Requirement("roles revoke", (READ_USERS, WRITE_ROLES), "Privileged Role Administrator", person=(ROLE_ADMINS,)),
        Requirement(
            "sync",
            (WRITE_USERS, DELETE_RESTORE, WRITE_ROLES),
            "User Administrator and Privileged Role Administrator",
            "A manifest without roles does not need RoleManagement.ReadWrite.Directory.",
            (USER_ADMINS, ROLE_ADMINS),
            admins=True,
            options=(("a manifest with licenses", (READ_SKUS, ASSIGN_LICENSES)),),
        ),
        Requirement(
            "apply",
            (WRITE_USERS, DELETE_RESTORE, WRITE_ROLES),
            "User Administrator and Privileged Role Administrator",
            "A plan needs only the permissions of the changes it holds (as sync).",
            (USER_ADMINS, ROLE_ADMINS),
            admins=True,
            options=(("a plan from audit --fix-plan", (POLICY_RULES,)),
                     ("a plan with license changes", (READ_SKUS, ASSIGN_LICENSES))),
            app_cannot=("A plan from audit --fix-plan changes PIM role settings, which Graph accepts only from a "
                        "signed-in person (Privileged Role Administrator), never app-only: apply it with a "
                        "device-code or browser sign-in."),
        ),
        Requirement("audit", (READ_USERS, READ_DELETED, READ_ROLES), "Global Reader",
                    "The SCuBA baseline reads PIM with the same permission; without Entra ID P2 it is not checked."),
        Requirement("licenses list", (READ_SKUS,), "Global Reader (or Directory Readers)"),
        Requirement("licenses assign", (READ_USERS, READ_SKUS, ASSIGN_LICENSES),
                    "License Administrator (or User Administrator)", person=(LICENSERS,),
                    options=(("--usage-location", (UPDATE_USERS,)),)),
        Requirement("licenses revoke", (READ_USERS, READ_SKUS, ASSIGN_LICENSES),
                    "License Administrator (or User Administrator)", person=(LICENSERS,)),
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
    the signed-in person), None when the token does not say; then the roles are only named. A
    warning (runnable, but not for everyone or every option): Graph will refuse it for users who
    hold privileged admin roles, or an option needs a permission the token lacks.
    """
    roles = None if wids is None else {w.lower() for w in wids} - NOT_ROLES
    who = "the signed-in admin" if delegated else "the app's service principal"
    kind = "delegated" if delegated else "application"
    have = Grants(delegated, frozenset(p.lower() for p in granted), None)
    checks = []
    for command, req in REQUIREMENTS.items():
        missing = missing_for(granted, command, delegated=delegated)
        lacking = [g for g in req.person if roles is not None and not roles & set(g)] if delegated else []
        app_lacking = bool(req.app_roles) and not delegated and roles is not None and not roles & set(req.app_roles)
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
            hint = f"Sign in as {' and '.join(roles_text(g[:1]) for g in lacking)}: {who} holds {held_text(roles)}."
        elif app_lacking:
            hint = (f"Graph resets no password for an app whose service principal holds no admin role, whoever "
                    f"the user: assign it {roles_text(req.app_roles[:1])} ({roles_text(TOP)} for users who "
                    f"hold privileged admin roles); it holds {held_text(roles)}.")
        elif delegated and roles is None:
            hint = f"The signed-in person also needs {req.delegated_role}."
        else:
            hint = ""
        ok = not missing and not lacking and not app_lacking
        warn = False
        if req.admins and roles is None:
            hint = " ".join(h for h in (hint, PRIVILEGED_TARGETS) if h)
        elif req.admins and not roles & set(TOP) and not app_lacking:
            warn = ok
            hint = " ".join(h for h in (hint, (
                f"{req.acting} who hold privileged admin roles needs {who} to hold "
                f"{roles_text(TOP)}; it holds {held_text(roles)}.")) if h)
        gaps = [f"{option} needs the {kind} permission {alternatives_text(group)}."
                for option, needs in req.options for group in needs if not have.has(group)]
        if gaps:
            warn = warn or ok
            hint = " ".join([*filter(None, [hint]), *gaps])
        if req.app_cannot and not delegated:  # said, not warned: most plans hold no such change
            hint = " ".join(h for h in (hint, req.app_cannot) if h)
        hint = " ".join(h for h in (hint, req.note) if h)
        checks.append(CommandCheck(command, ok, missing, hint, warn))
    return checks


def all_permissions() -> set[str]:
    """Every permission any command or option accepts (for docs and tests)."""
    return {p for r in REQUIREMENTS.values() for group in (*r.needs, *(g for _, gs in r.options for g in gs))
            for p in group}


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
        needs = "<br>".join([*(_alternatives(group) for group in r.needs),
                             *(f"with `{option}`: {_alternatives(group)}" for option, gs in r.options for group in gs)])
        lines.append(f"| `provisioner {r.command}` | {needs} | {r.delegated_role} |")
    return "\n".join(lines) + "\n"
