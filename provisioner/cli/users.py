"""``provisioner users ...``: list, show, create, delete, restore and purge users."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from provisioner.cli.app import App, CliReview, change_options, err, finish, force_option, run_options
from provisioner.cli.completion import complete_role
from provisioner.cli.files import (
    PasswordKeeper,
    check_password_out,
    from_option,
    password_out_option,
    read_rows,
    skip_invalid_option,
)

if TYPE_CHECKING:
    from provisioner.services import Target

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


@users.command("list")
@click.option("--upn-prefix", metavar="TEXT", help="Only users whose UPN starts with TEXT.")
@click.option("--enabled/--disabled", default=None, help="Only enabled (or disabled) accounts.")
@click.option("--synced/--cloud-only", default=None, help="Only directory-synced (or cloud-only) accounts.")
@click.option("--role", metavar="ROLE", shell_complete=complete_role,
              help="Only holders of ROLE (alias, name or template id).")
@output_option
@click.pass_obj
def list_users(app: App, upn_prefix: str | None, enabled: bool | None, synced: bool | None, role: str | None,
               output: str) -> None:
    """List users, paging through the whole tenant.

    \b
    Example:
      provisioner users list --upn-prefix svc- --enabled -o csv
    """
    from provisioner.output import write_rows

    async def work(target: Target) -> None:
        from provisioner import services

        found = services.list_users(target, upn_prefix=upn_prefix, enabled=enabled, synced=synced, role=role)
        await write_rows((user.to_graph() async for user in found), USER_COLUMNS, output)

    app.run(work)


@users.command("show")
@click.argument("user")
@output_option
@click.pass_obj
def show(app: App, user: str, output: str) -> None:
    """Show one user (by UPN or object id) and the admin roles it holds."""
    from provisioner.output import render_one

    async def work(target: Target) -> dict[str, Any]:
        from provisioner import services

        details = await services.show_user(target, user)
        return {**details.user.to_graph(), "roles": list(details.roles)}

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
@click.option("--role", "roles", multiple=True, metavar="ROLE", shell_complete=complete_role,
              help="Assign ROLE once the user exists (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the initial password from stdin instead of generating one.")
@click.option("--update-existing", is_flag=True,
              help="Update a user that already exists where the given values differ (default: refuse and show them).")
@password_out_option
@from_option
@skip_invalid_option
@change_options
@click.pass_obj
def create(app: App, upn: str | None, display_name: str | None, given_name: str | None, surname: str | None,
           job_title: str | None, department: str | None, usage_location: str | None, disabled: bool,
           roles: tuple[str, ...], password_stdin: bool, update_existing: bool, password_out: Path | None,
           from_file: Path | None,
           skip_invalid: Path | None, **change: Any) -> None:
    """Create users; the initial password is generated (or read with --password-stdin).

    \b
    Examples:
      provisioner users create adele@contoso.onmicrosoft.com --display-name "Adele Vance" --role billing
      provisioner users create --from new-hires.csv --password-out passwords.csv --yes
    """
    from provisioner.model import UserSpec

    opts = app.options(**change)
    if from_file is not None:
        if upn:
            raise click.UsageError("give either a UPN or --from FILE, not both")
        specs = rows = read_rows(from_file, "create", skip_invalid)
        refs, supplied = rows.refs, rows.passwords
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
        refs, supplied = [upn], {upn.lower(): password} if password else {}
    check_password_out(len(refs) - len(supplied), password_out, opts)

    keeper = PasswordKeeper(supplied, password_out, opts)

    async def work(target: Target) -> Any:
        from provisioner import services

        return await services.create_users(target, specs, CliReview(opts), run_options(opts), passwords=keeper,
                                           update_existing=update_existing)

    try:
        applied = app.run(work)
    finally:
        keeper.close()
    finish(applied)


def _refs(refs: Iterable[str], from_file: Path | None, action: str,
          skip_invalid: Path | None) -> tuple[list[str], dict[str, int]]:
    """The users named, and (from a file) the row each came from."""
    refs = list(refs)
    if from_file is not None:
        if refs:
            raise click.UsageError("give either users or --from FILE, not both")
        rows = read_rows(from_file, action, skip_invalid)
        return rows.refs, rows.rows
    if not refs:
        raise click.UsageError("name at least one user (UPN or object id), or use --from FILE")
    return refs, {}


# --- delete, restore, purge -------------------------------------------------------------------


@users.command("delete")
@click.argument("refs", nargs=-1, metavar="USER...")
@from_option
@skip_invalid_option
@change_options
@force_option
@click.pass_obj
def delete(app: App, refs: tuple[str, ...], from_file: Path | None, skip_invalid: Path | None,
           **change: Any) -> None:
    """Delete users (soft delete: restorable for 30 days with 'users restore').

    Directory-synced users are refused: delete them in on-premises Active Directory.
    """
    opts = app.options(**change)
    targets, rows = _refs(refs, from_file, "delete", skip_invalid)

    async def work(target: Target) -> Any:
        from provisioner import services

        return await services.delete_users(target, targets, CliReview(opts), run_options(opts), rows=rows)

    finish(app.run(work))


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
    opts = app.options(**change)
    targets, rows = _refs(refs, from_file, "restore", skip_invalid)
    if new_upn and len(targets) > 1:
        raise click.UsageError("--new-upn needs exactly one user")

    async def work(target: Target) -> Any:
        from provisioner import services

        return await services.restore_users(target, targets, CliReview(opts), run_options(opts), new_upn=new_upn,
                                            auto_reconcile=auto_reconcile_proxy, rows=rows)

    restored = app.run(work)
    finish(restored)
    for upn, held in restored.roles.items():
        name = f"{upn} as {new_upn}" if new_upn else upn
        err(f"Restored {name}" + (f"; its roles came back: {', '.join(held)}" if held else "; it held no admin roles"))


@users.command("purge")
@click.argument("refs", nargs=-1, metavar="USER...")
@from_option
@skip_invalid_option
@change_options
@force_option
@click.pass_obj
def purge(app: App, refs: tuple[str, ...], from_file: Path | None, skip_invalid: Path | None, **change: Any) -> None:
    """Permanently delete users that are already deleted. This cannot be undone."""
    opts = app.options(**change)
    targets, rows = _refs(refs, from_file, "purge", skip_invalid)

    async def work(target: Target) -> Any:
        from provisioner import services

        return await services.purge_users(target, targets, CliReview(opts, typed="purge"), run_options(opts),
                                          rows=rows)

    finish(app.run(work))
