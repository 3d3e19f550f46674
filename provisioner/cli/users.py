"""``provisioner users ...``: list, show, create, delete, restore and purge users."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from provisioner.cli.app import App, ChangeOptions, change_options, err, run_plan
from provisioner.cli.files import (
    PasswordKeeper,
    check_password_out,
    from_option,
    password_out_option,
    read_rows,
    skip_invalid_option,
)
from provisioner.errors import NotFound

if TYPE_CHECKING:
    from provisioner.directory import Directory
    from provisioner.model import Change, User

USER_COLUMNS = [
    ("userPrincipalName", "UPN"),
    ("displayName", "Name"),
    ("accountEnabled", "Enabled"),
    ("onPremisesSyncEnabled", "Synced"),
    ("jobTitle", "Job title"),
    ("department", "Department"),
    ("createdDateTime", "Created"),
]
output_option = click.option("--output", "-o", type=click.Choice(["table", "json", "csv"]), default="table",
                             show_default=True, help="Output format (data goes to stdout).")


@click.group()
def users() -> None:
    """Create, delete, restore and purge users."""


def _row(user: User) -> dict[str, Any]:
    return user.to_graph()


@users.command("list")
@click.option("--upn-prefix", metavar="TEXT", help="Only users whose UPN starts with TEXT.")
@click.option("--enabled/--disabled", default=None, help="Only enabled (or disabled) accounts.")
@click.option("--synced/--cloud-only", default=None, help="Only directory-synced (or cloud-only) accounts.")
@click.option("--role", metavar="ROLE", help="Only holders of ROLE (alias, name or template id).")
@output_option
@click.pass_obj
def list_users(app: App, upn_prefix: str | None, enabled: bool | None, synced: bool | None, role: str | None,
               output: str) -> None:
    """List users, paging through the whole tenant.

    \b
    Example:
      provisioner users list --upn-prefix svc- --enabled -o csv
    """
    from provisioner.output import render

    clauses = []
    if upn_prefix:
        clauses.append("startswith(userPrincipalName,'{}')".format(upn_prefix.replace("'", "''")))
    if enabled is not None:
        clauses.append(f"accountEnabled eq {str(enabled).lower()}")
    if synced is True:
        clauses.append("onPremisesSyncEnabled eq true")

    async def work(d: Directory) -> list[dict[str, Any]]:
        holders: set[str] | None = None
        if role:
            from provisioner.roles.catalog import resolve_role

            definition = resolve_role(role, await d.role_definitions())
            holders = {a.principal_id for a in await d.role_assignments(role_id=definition.template_id)}
        rows = []
        async for user in d.iter_users(filter=" and ".join(clauses) or None):
            if synced is False and user.synced:
                continue
            if holders is not None and user.id not in holders:
                continue
            rows.append(_row(user))
        return rows

    rows = app.run(work)
    click.echo(render(rows, USER_COLUMNS, output), nl=False)


@users.command("show")
@click.argument("user")
@output_option
@click.pass_obj
def show(app: App, user: str, output: str) -> None:
    """Show one user (by UPN or object id) and the admin roles it holds."""
    from provisioner.output import render_one

    async def work(d: Directory) -> dict[str, Any]:
        found = await d.find_user(user)
        if found is None:
            raise NotFound(f"no active user {user!r}; deleted users are listed by 'provisioner deleted list'")
        names = {r.id: r.display_name for r in await d.role_definitions()}
        row = _row(found)
        row["roles"] = sorted(names.get(a.role_definition_id, a.role_definition_id)
                              for a in await d.role_assignments(principal_id=found.id))
        return row

    row = app.run(work)
    click.echo(render_one(row, [*USER_COLUMNS, ("id", "Object id"), ("roles", "Roles")], output), nl=False)


# --- create -----------------------------------------------------------------------------------


def _read_password_stdin() -> str:
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise click.UsageError("--password-stdin: no password on standard input")
    return line


@users.command("create")
@click.argument("upn", required=False)
@click.option("--display-name", metavar="NAME", help="Display name (required for a single user).")
@click.option("--given-name", metavar="NAME")
@click.option("--surname", metavar="NAME")
@click.option("--job-title", metavar="TEXT")
@click.option("--department", metavar="TEXT")
@click.option("--usage-location", metavar="CC", help="Two-letter country code (needed before licensing).")
@click.option("--disabled", is_flag=True, help="Create the account disabled (sign-in blocked).")
@click.option("--role", "roles", multiple=True, metavar="ROLE", help="Assign ROLE once the user exists (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the initial password from stdin instead of generating one.")
@password_out_option
@from_option
@skip_invalid_option
@change_options
@click.pass_obj
def create(app: App, upn: str | None, display_name: str | None, given_name: str | None, surname: str | None,
           job_title: str | None, department: str | None, usage_location: str | None, disabled: bool,
           roles: tuple[str, ...], password_stdin: bool, password_out: Path | None, from_file: Path | None,
           skip_invalid: Path | None, **change: Any) -> None:
    """Create users; the initial password is generated (or read with --password-stdin).

    \b
    Examples:
      provisioner users create adele@contoso.onmicrosoft.com --display-name "Adele Vance" --role billing
      provisioner users create --from new-hires.csv --password-out passwords.csv --yes
    """
    from provisioner.model import UserSpec

    opts = ChangeOptions(**change)
    if from_file is not None:
        if upn:
            raise click.UsageError("give either a UPN or --from FILE, not both")
        # The rows are read again while planning rather than held: a 100,000-row file costs
        # little more memory than its plan.
        specs = rows = read_rows(from_file, "create", skip_invalid)
        refs, supplied, any_roles = rows.refs, rows.passwords, rows.any_roles
    else:
        if not upn or not display_name:
            raise click.UsageError("a UPN and --display-name are needed (or --from FILE)")
        from provisioner.inputs import country_problem, upn_problem

        problem = upn_problem(upn)
        if problem:
            raise click.UsageError(problem)
        if usage_location is not None:
            if problem := country_problem(usage_location):
                raise click.UsageError(f"--usage-location: {problem}")
            usage_location = usage_location.upper()
        attributes = {"userPrincipalName": upn, "displayName": display_name, "accountEnabled": not disabled,
                      "givenName": given_name, "surname": surname, "jobTitle": job_title,
                      "department": department, "usageLocation": usage_location}
        password = _read_password_stdin() if password_stdin else None
        if password is not None:
            from provisioner.passwords import check_policy

            problem = check_policy(password)
            if problem:
                raise click.UsageError(f"--password-stdin: {problem}")
        specs = [UserSpec(upn=upn, attributes={k: v for k, v in attributes.items() if v is not None},
                          roles=roles, password=password)]
        refs, supplied, any_roles = [upn], {upn.lower(): password} if password else {}, bool(roles)
    check_password_out(len(refs) - len(supplied), password_out, opts)

    async def work(d: Directory) -> None:
        from provisioner import operations, plan

        state = await operations.read_state(d, refs=refs, deleted=True, roles=any_roles, assignments_of_refs=True)
        planned = plan.plan_create(specs, state)
        keeper = PasswordKeeper(supplied, password_out, opts)
        try:
            await run_plan(app, d, state, planned, opts, passwords=keeper.password, on_created=keeper.created)
        finally:
            keeper.close()

    app.run(work)


def _refs(refs: Iterable[str], from_file: Path | None, action: str, skip_invalid: Path | None) -> list[str]:
    refs = list(refs)
    if from_file is not None:
        if refs:
            raise click.UsageError("give either users or --from FILE, not both")
        return read_rows(from_file, action, skip_invalid).refs
    if not refs:
        raise click.UsageError("name at least one user (UPN or object id), or use --from FILE")
    return refs


# --- delete, restore, purge -------------------------------------------------------------------


@users.command("delete")
@click.argument("refs", nargs=-1, metavar="USER...")
@from_option
@skip_invalid_option
@change_options
@click.pass_obj
def delete(app: App, refs: tuple[str, ...], from_file: Path | None, skip_invalid: Path | None,
           **change: Any) -> None:
    """Delete users (soft delete: restorable for 30 days with 'users restore').

    Directory-synced users are refused: delete them in on-premises Active Directory.
    """
    opts = ChangeOptions(**change)
    targets = _refs(refs, from_file, "delete", skip_invalid)

    async def work(d: Directory) -> None:
        from provisioner import operations, plan

        state = await operations.read_state(d, refs=targets, assignments_of_refs=True)
        await run_plan(app, d, state, plan.plan_delete(targets, state), opts)

    app.run(work)


@users.command("restore")
@click.argument("refs", nargs=-1, metavar="USER...")
@click.option("--new-upn", metavar="UPN", help="Restore under this UPN (when the original is taken).")
@click.option("--auto-reconcile-proxy", is_flag=True,
              help="Let Entra drop proxy addresses now used by another user.")
@from_option
@skip_invalid_option
@change_options
@click.pass_obj
def restore(app: App, refs: tuple[str, ...], new_upn: str | None, auto_reconcile_proxy: bool,
            from_file: Path | None, skip_invalid: Path | None, **change: Any) -> None:
    """Restore deleted users (by object id or original UPN) within Entra's 30-day window.

    The roles the user held come back with it.
    """
    opts = ChangeOptions(**change)
    targets = _refs(refs, from_file, "restore", skip_invalid)
    if new_upn and len(targets) > 1:
        raise click.UsageError("--new-upn needs exactly one user")

    async def work(d: Directory) -> None:
        from provisioner import operations, plan

        state = await operations.read_state(d, refs=[new_upn] if new_upn else [], deleted=True, roles=True)
        planned = plan.plan_restore(targets, state, new_upn=new_upn, auto_reconcile=auto_reconcile_proxy)
        # A conflict check for the original UPNs: they may have been taken since the delete.
        originals = [c.new_upn or c.upn for c in planned.plan.changes]
        state.users.update(await d.users_by_upn(originals))
        planned = plan.plan_restore(targets, state, new_upn=new_upn, auto_reconcile=auto_reconcile_proxy)
        report = await run_plan(app, d, state, planned, opts)
        if report is not None:
            await _tell_restored_roles(d, planned.plan.changes, report.created)

    app.run(work)


async def _tell_restored_roles(d: Directory, changes: Iterable[Change], created: dict[str, str]) -> None:
    names = {r.id: r.display_name for r in await d.role_definitions()}
    for c in changes:
        object_id = created.get(c.upn.lower())
        if object_id is None:
            continue
        held = sorted(names.get(a.role_definition_id, a.role_definition_id)
                      for a in await d.role_assignments(principal_id=object_id))
        err(f"Restored {c.upn}" + (f"; its roles came back: {', '.join(held)}" if held else "; it held no admin roles"))


@users.command("purge")
@click.argument("refs", nargs=-1, metavar="USER...")
@from_option
@skip_invalid_option
@change_options
@click.pass_obj
def purge(app: App, refs: tuple[str, ...], from_file: Path | None, skip_invalid: Path | None, **change: Any) -> None:
    """Permanently delete users that are already deleted. This cannot be undone."""
    opts = ChangeOptions(**change)
    targets = _refs(refs, from_file, "purge", skip_invalid)

    async def work(d: Directory) -> None:
        from provisioner import operations, plan

        state = await operations.read_state(d, refs=targets, deleted=True)
        await run_plan(app, d, state, plan.plan_purge(targets, state), opts, typed="purge")

    app.run(work)

