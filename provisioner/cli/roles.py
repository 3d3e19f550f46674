"""``provisioner roles ...``: the admin roles, their holders, assign and revoke."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from provisioner.cli.app import App, ChangeOptions, change_options, run_plan
from provisioner.cli.files import from_option, read_rows, skip_invalid_option
from provisioner.cli.users import output_option

if TYPE_CHECKING:
    from provisioner.directory import Directory
    from provisioner.model import UserSpec

ROLE_COLUMNS = [
    ("alias", "Alias"),
    ("classicName", "Classic name"),
    ("displayName", "Entra role"),
    ("templateId", "Template id"),
    ("isPrivileged", "Privileged"),
    ("holders", "Holders"),
]
MEMBER_COLUMNS = [
    ("userPrincipalName", "UPN"),
    ("displayName", "Name"),
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
    """The five classic admin roles (and with --all every built-in role) with their holders.

    \b
    Aliases: global, billing, password (Helpdesk Administrator, the classic Password
    administrator), service (Service Support Administrator), user (User Administrator).
    """
    from provisioner.output import render
    from provisioner.roles.catalog import CLASSIC_ROLES, classic_for, is_privileged

    async def work(d: Directory) -> list[dict[str, Any]]:
        definitions = await d.role_definitions()
        counts = Counter(a.role_definition_id for a in await d.role_assignments())
        by_template = {r.template_id: r for r in definitions}
        ordered = [by_template[c.template_id] for c in CLASSIC_ROLES if c.template_id in by_template]
        if show_all:
            rest = [r for r in definitions if classic_for(r.template_id) is None]
            ordered += sorted(rest, key=lambda r: r.display_name.lower())
        rows = []
        for r in ordered:
            classic = classic_for(r.template_id)
            rows.append({
                "alias": classic.alias if classic else None,
                "classicName": classic.classic_name if classic else None,
                "displayName": r.display_name,
                "templateId": r.template_id,
                "isPrivileged": is_privileged(r),
                "holders": counts.get(r.id, 0) + (counts.get(r.template_id, 0) if r.id != r.template_id else 0),
                "description": r.description,
            })
        return rows

    click.echo(render(app.run(work), ROLE_COLUMNS, output), nl=False)


@roles.command("members")
@click.argument("role")
@output_option
@click.pass_obj
def members(app: App, role: str, output: str) -> None:
    """The holders of ROLE (alias, display name, legacy name or template id)."""
    from provisioner.output import render
    from provisioner.roles.catalog import resolve_role

    async def work(d: Directory) -> list[dict[str, Any]]:
        definition = resolve_role(role, await d.role_definitions())
        click.echo(f"Role: {definition.display_name} ({definition.template_id})", err=True)
        ids = {a.principal_id for a in await d.role_assignments(role_id=definition.template_id)}
        found = await d.users_by_id(ids)
        rows = [u.to_graph() for u in sorted(found.values(), key=lambda u: u.user_principal_name.lower())]
        return rows

    click.echo(render(app.run(work), MEMBER_COLUMNS, output), nl=False)


def _role_specs(user: str | None, role_refs: tuple[str, ...], from_file: Path | None,
                skip_invalid: Path | None, action: str) -> tuple[Iterable[UserSpec], list[str]]:
    """The (user, roles) pairs to plan, and the users they name."""
    from provisioner.model import UserSpec

    if from_file is not None:
        if user or role_refs:
            raise click.UsageError("give either USER ROLE... or --from FILE, not both")
        rows = read_rows(from_file, action, skip_invalid)
        return rows, rows.refs
    if not user or not role_refs:
        raise click.UsageError("name a user and at least one role (or use --from FILE)")
    return [UserSpec(upn=user, roles=role_refs)], [user]


def _role_command(action: str):  # type: ignore[no-untyped-def]
    verb = {"assign": "Assign", "revoke": "Revoke"}[action]

    @click.argument("user", required=False)
    @click.argument("role_refs", nargs=-1, metavar="ROLE...")
    @from_option
    @skip_invalid_option
    @change_options
    @click.pass_obj
    def command(app: App, user: str | None, role_refs: tuple[str, ...], from_file: Path | None,
                skip_invalid: Path | None, **change: Any) -> None:
        opts = ChangeOptions(**change)
        specs, refs = _role_specs(user, role_refs, from_file, skip_invalid, action)

        async def work(d: Directory) -> None:
            from provisioner import operations, plan

            state = await operations.read_state(d, refs=refs, roles=True, assignments_of_refs=True)
            planner = plan.plan_assign_rows if action == "assign" else plan.plan_revoke_rows
            planned = planner(specs, state)
            await run_plan(app, d, state, planned, opts)

        app.run(work)

    command.__doc__ = (f"{verb} admin roles {'to' if action == 'assign' else 'from'} a user; "
                       f"{'a role already held' if action == 'assign' else 'a role not held'} is a no-op."
                       + (" Never removes the last Global Administrator." if action == "revoke" else ""))
    return roles.command(action)(command)


assign = _role_command("assign")
revoke = _role_command("revoke")
