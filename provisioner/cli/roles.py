"""``provisioner roles ...``: the admin roles, their holders, assign and revoke."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from provisioner.cli.app import App, CliReview, change_options, err, finish, run_options
from provisioner.cli.completion import complete_role
from provisioner.cli.files import from_option, read_rows, skip_invalid_option
from provisioner.cli.holding import assign_holding, assign_options, revoke_holding, revoke_options
from provisioner.cli.users import output_option

if TYPE_CHECKING:
    from provisioner.model import UserSpec
    from provisioner.services import RoleMembers, RoleSummary, Target

ROLE_COLUMNS = [
    ("alias", "Alias"),
    ("classicName", "Classic name"),
    ("displayName", "Entra role"),
    ("templateId", "Template id"),
    ("isPrivileged", "Privileged"),
    ("holders", "Active"),
    ("eligibleHolders", "Eligible"),
]
MEMBER_COLUMNS = [
    ("userPrincipalName", "UPN"),
    ("displayName", "Name"),
    ("assignment", "Assignment"),
    ("accountEnabled", "Enabled"),
    ("onPremisesSyncEnabled", "Synced"),
    ("id", "Object id"),
]


@click.group()
def roles() -> None:
    """Admin roles: the five classic Office 365 roles and every built-in Entra role."""


@roles.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also list every other built-in role.")
@output_option
@click.pass_obj
def list_roles(app: App, show_all: bool, output: str) -> None:
    """The five classic admin roles (and with --all every built-in role) with their holders: active
    (they can act now) and eligible (PIM: they act once they activate the role).

    \b
    Aliases: global, billing, password (Helpdesk Administrator, the classic Password
    administrator), service (Service Support Administrator), user (User Administrator).
    """
    from provisioner.output import render

    async def work(target: Target) -> list[RoleSummary]:
        from provisioner import services

        return await services.list_roles(target, all_roles=show_all)

    rows = [{
        "alias": r.classic.alias if r.classic else None,
        "classicName": r.classic.classic_name if r.classic else None,
        "displayName": r.definition.display_name,
        "templateId": r.definition.template_id,
        "isPrivileged": r.privileged,
        "holders": r.holders,
        "eligibleHolders": r.eligible,
        "description": r.definition.description,
    } for r in app.run(work)]
    click.echo(render(rows, ROLE_COLUMNS, output), nl=False)


@roles.command("members")
@click.argument("role", shell_complete=complete_role)
@output_option
@click.pass_obj
def members(app: App, role: str, output: str) -> None:
    """The holders of ROLE (alias, display name, legacy name or template id)."""
    from provisioner.output import render

    async def work(target: Target) -> RoleMembers:
        from provisioner import services

        return await services.role_members(target, role)

    found = app.run(work)
    err(f"Role: {found.role.display_name} ({found.role.template_id})")
    rows = [{**u.to_graph(), "assignment": "; ".join(a.describe() for a in found.holdings.get(u.id.lower(), ()))
             or None} for u in found.users]
    click.echo(render(rows, MEMBER_COLUMNS, output), nl=False)


def _role_specs(user: str | None, role_refs: tuple[str, ...], from_file: Path | None,
                skip_invalid: Path | None, action: str) -> Iterable[UserSpec]:
    """The (user, roles) pairs to plan."""
    from provisioner.model import UserSpec

    if from_file is not None:
        if user or role_refs:
            raise click.UsageError("give either USER ROLE... or --from FILE, not both")
        return read_rows(from_file, action, skip_invalid)
    if not user or not role_refs:
        raise click.UsageError("name a user and at least one role (or use --from FILE)")
    named_like_users = [r for r in role_refs if "@" in r]
    if "@" not in user and named_like_users:
        others = " ".join(r for r in role_refs if r not in named_like_users)
        raise click.UsageError(f"the user comes first, then the roles: provisioner roles {action} "
                               f"{named_like_users[0]} {' '.join(filter(None, [user, others]))}")
    return [UserSpec(upn=user, roles=role_refs)]


def _role_command(action: str):  # type: ignore[no-untyped-def]
    verb = {"assign": "Assign", "revoke": "Revoke"}[action]

    @click.argument("user", required=False)
    @click.argument("role_refs", nargs=-1, metavar="ROLE...", shell_complete=complete_role)
    @(assign_options if action == "assign" else revoke_options)
    @from_option
    @skip_invalid_option
    @change_options
    @click.pass_obj
    def command(app: App, user: str | None, role_refs: tuple[str, ...], from_file: Path | None,
                skip_invalid: Path | None, **change: Any) -> None:
        if action == "assign":
            holding = assign_holding(*(change.pop(k) for k in ("eligible", "until", "duration", "permanent",
                                                               "justification")))
        else:
            holding = revoke_holding(change.pop("only_eligible"), change.pop("only_active"))
        opts = app.options(**change)
        specs = _role_specs(user, role_refs, from_file, skip_invalid, action)

        async def work(target: Target) -> Any:
            from provisioner import services

            use_case = services.assign_roles if action == "assign" else services.revoke_roles
            return await use_case(target, specs, CliReview(opts), run_options(opts), holding)

        finish(app.run(work))

    command.__doc__ = (f"{verb} admin roles {'to' if action == 'assign' else 'from'} a user; "
                       f"{'a role already held' if action == 'assign' else 'a role not held'} is a no-op."
                       + (" Active and permanent unless --eligible, --until or --duration (PIM, Entra ID P2)."
                          if action == "assign" else
                          " Removes whichever kind is held (--eligible / --active to choose). Never removes the "
                          "last active Global Administrator."))
    return roles.command(action)(command)


assign = _role_command("assign")
revoke = _role_command("revoke")
