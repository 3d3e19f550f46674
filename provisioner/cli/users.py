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
output_option = click.option("--output", "-o", type=click.Choice(["table", "json", "csv"], case_sensitive=False),
                             default="table",
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
    """Show one user (by UPN or object id), the admin roles and the licenses it holds."""
    from provisioner.output import render_one

    async def work(target: Target) -> dict[str, Any]:
        from provisioner import services

        details = await services.show_user(target, user)
        row = {**details.user.to_graph(), "roles": list(details.roles), "licenses": list(details.licenses)}
        if details.assignments:  # with PIM: every role, active or eligible, and how it is held
            row["assignments"] = list(details.assignments)
        return row

    row = app.run(work)
    columns = [*USER_COLUMNS, ("id", "Object id"), ("roles", "Roles"), ("licenses", "Licenses")]
    if "assignments" in row:
        columns.append(("assignments", "Assignments"))
    click.echo(render_one(row, columns, output), nl=False)


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
@click.option("--license", "licenses", multiple=True, metavar="SKU",
              help="Assign the license SKU (part number like SPE_E5, product name or skuId) once the user exists; "
                   "needs --usage-location (repeatable).")
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
           roles: tuple[str, ...], licenses: tuple[str, ...], password_stdin: bool, update_existing: bool,
           password_out: Path | None,
           from_file: Path | None,
           skip_invalid: Path | None, **change: Any) -> None:
    """Create users; the initial password is generated (or read with --password-stdin).

    \b
    Examples:
      provisioner users create adele@contoso.onmicrosoft.com --display-name "Adele Vance" --role billing
      provisioner users create adele@contoso.onmicrosoft.com --display-name Adele --usage-location US --license SPE_E5
      provisioner users create --from new-hires.csv --password-out passwords.csv --yes
    """
    from provisioner.model import UserSpec

    opts = app.options(**change)
    if from_file is not None:
        if upn or licenses:
            raise click.UsageError("give either a UPN (and --license) or --from FILE (with a licenses column), "
                                   "not both")
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
        if any(not name.strip() for name in licenses):
            raise click.UsageError("--license: give a license (part number like SPE_E5, product name or skuId), "
                                   "not an empty value (see: provisioner licenses list)")
        specs = [UserSpec(upn=upn, attributes={k: v for k, v in attributes.items() if v is not None},
                          roles=roles, password=password, licenses=tuple(dict.fromkeys(licenses)) or None)]
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


# --- update, disable, enable (movers and leavers) -----------------------------------------------

# Option -> Graph property, for `users update`.
UPDATE_OPTIONS = (
    ("display_name", "--display-name", "displayName"),
    ("given_name", "--given-name", "givenName"),
    ("surname", "--surname", "surname"),
    ("job_title", "--job-title", "jobTitle"),
    ("department", "--department", "department"),
    ("company", "--company", "companyName"),
    ("office", "--office", "officeLocation"),
    ("street_address", "--street-address", "streetAddress"),
    ("city", "--city", "city"),
    ("state", "--state", "state"),
    ("postal_code", "--postal-code", "postalCode"),
    ("country", "--country", "country"),
    ("usage_location", "--usage-location", "usageLocation"),
    ("mobile_phone", "--mobile-phone", "mobilePhone"),
    ("business_phone", "--business-phone", "businessPhones"),
    ("employee_id", "--employee-id", "employeeId"),
    ("employee_type", "--employee-type", "employeeType"),
    ("employee_hire_date", "--employee-hire-date", "employeeHireDate"),
    ("preferred_language", "--preferred-language", "preferredLanguage"),
)


def _update_options(command: Any) -> Any:
    for dest, flag, prop in reversed(UPDATE_OPTIONS):
        command = click.option(flag, dest, metavar="VALUE", help=f"New {prop} ('-' clears it).")(command)
    return command


def _edits_from_options(refs: tuple[str, ...], given: dict[str, Any], manager: str | None,
                        new_upn: str | None) -> list[Any]:
    from provisioner.inputs.updates import edit_value, reference_problem
    from provisioner.plan import UserEdit

    values: dict[str, Any] = {}
    for dest, flag, prop in UPDATE_OPTIONS:
        if given.get(dest) is not None:
            value, problem = edit_value(prop, given[dest])
            if problem:
                raise click.UsageError(f"{flag}: {problem}")
            values[prop] = value
    clear = manager is not None and manager.lower() in ("none", "-")
    if manager is not None and not clear and (problem := reference_problem(manager)):
        raise click.UsageError(f"--manager: {problem}; or 'none' to remove the manager")
    if new_upn is not None:
        if len(refs) != 1:
            raise click.UsageError("--upn renames one user; name exactly one")
        if problem := upn_problem_text(new_upn):
            raise click.UsageError(f"--upn: {problem}")
    if not values and manager is None and new_upn is None:
        raise click.UsageError("nothing to change: give at least one property option, --manager or --upn "
                               "(or --from FILE)")
    for ref in refs:
        if problem := reference_problem(ref):
            raise click.UsageError(problem)
    return [UserEdit(ref, values, manager=None if clear else manager, clear_manager=clear, new_upn=new_upn)
            for ref in refs]


def upn_problem_text(upn: str) -> str | None:
    from provisioner.inputs import upn_problem

    return upn_problem(upn)


@users.command("update")
@click.argument("refs", nargs=-1, metavar="USER...")
@_update_options
@click.option("--manager", metavar="USER|none", help="Set the manager (UPN or object id); 'none' removes it.")
@click.option("--upn", "new_upn", metavar="NEW", help="Rename the user (the domain must be verified).")
@from_option
@skip_invalid_option
@change_options
@click.pass_obj
def update(app: App, refs: tuple[str, ...], manager: str | None, new_upn: str | None, from_file: Path | None,
           skip_invalid: Path | None, **given: Any) -> None:
    """Change existing users: properties, manager, user principal name.

    Only what differs is written; the plan shows each change as old -> new. A value of '-'
    clears a property. With --from FILE, one row per user: a blank cell leaves the property
    alone, '-' clears it; columns are the Graph names (jobTitle, department, manager,
    newUserPrincipalName ...) or the Entra template's.

    \b
    Examples:
      provisioner users update adele@contoso.onmicrosoft.com --department Sales --manager lee@contoso.onmicrosoft.com
      provisioner users update adele@contoso.onmicrosoft.com --job-title - --upn adele.vance@contoso.com
      provisioner users update --from movers.csv --dry-run
    """
    change = {k: given.pop(k) for k in list(given) if k not in {d for d, _, _ in UPDATE_OPTIONS}}
    opts = app.options(**change)
    if from_file is not None:
        if refs or manager or new_upn or any(v is not None for v in given.values()):
            raise click.UsageError("give either users and options or --from FILE, not both")
        edits = _read_edits(from_file, skip_invalid)
    else:
        if not refs:
            raise click.UsageError("name at least one user (UPN or object id), or use --from FILE")
        edits = _edits_from_options(refs, given, manager, new_upn)

    async def work(target: Target) -> Any:
        from provisioner import services

        return await services.update_users(target, edits, CliReview(opts), run_options(opts))

    finish(app.run(work))


def _read_edits(path: Path, skip_invalid: Path | None) -> list[Any]:
    from provisioner.cli.files import read_options
    from provisioner.inputs.updates import read_edits

    edits, problems, notes = read_edits(path, read_options(), skip_invalid=skip_invalid is not None)
    for note in notes:
        err(f"Note: {path.name}: {note}.")
    if problems and skip_invalid is not None:
        skip_invalid.write_text("".join(f"{p}\n" for p in problems), encoding="utf-8")
        err(f"{len(problems)} invalid row problem(s) skipped; listed in {skip_invalid}.")
    return edits


def _set_enabled(app: App, refs: tuple[str, ...], from_file: Path | None, skip_invalid: Path | None,
                 enabled: bool, keep_sessions: bool, change: dict[str, Any]) -> None:
    opts = app.options(**change)
    targets, _ = _refs(refs, from_file, "delete", skip_invalid)

    async def work(target: Target) -> Any:
        from provisioner import services

        return await services.set_enabled(target, targets, enabled, CliReview(opts), run_options(opts),
                                          revoke_sessions=not keep_sessions)

    finish(app.run(work))


@users.command("disable")
@click.argument("refs", nargs=-1, metavar="USER...")
@click.option("--keep-sessions", is_flag=True, help="Do not revoke the user's sign-in sessions.")
@from_option
@skip_invalid_option
@change_options
@click.pass_obj
def disable(app: App, refs: tuple[str, ...], keep_sessions: bool, from_file: Path | None,
            skip_invalid: Path | None, **change: Any) -> None:
    """Block sign-in (accountEnabled false) and revoke every sign-in session.

    Blocking alone leaves sessions alive for up to an hour or more; the revocation ends them.
    The last active Global Administrator, protected accounts and synced users are refused.
    """
    _set_enabled(app, refs, from_file, skip_invalid, False, keep_sessions, change)


@users.command("enable")
@click.argument("refs", nargs=-1, metavar="USER...")
@from_option
@skip_invalid_option
@change_options
@click.pass_obj
def enable(app: App, refs: tuple[str, ...], from_file: Path | None, skip_invalid: Path | None,
           **change: Any) -> None:
    """Allow sign-in again (accountEnabled true)."""
    _set_enabled(app, refs, from_file, skip_invalid, True, False, change)
