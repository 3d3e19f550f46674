"""``provisioner users reset-password`` and ``users offboard``: the leaver commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from provisioner.cli.app import App, CliReview, change_options, finish, force_option, run_options
from provisioner.cli.files import (
    PasswordKeeper,
    check_password_out,
    from_option,
    password_out_option,
    skip_invalid_option,
)

if TYPE_CHECKING:
    from provisioner.services import Target


def _targets(refs: tuple[str, ...], from_file: Path | None, skip_invalid: Path | None) -> list[str]:
    from provisioner.cli.users import _refs

    return _refs(refs, from_file, "delete", skip_invalid)[0]


@click.command("reset-password")
@click.argument("refs", nargs=-1, metavar="USER...")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin (one user only).")
@click.option("--no-force-change", is_flag=True, help="Do not make the user change the password at next sign-in.")
@click.option("--keep-sessions", is_flag=True, help="Do not revoke the user's sign-in sessions.")
@password_out_option
@from_option
@skip_invalid_option
@change_options
@click.pass_obj
def reset_password(app: App, refs: tuple[str, ...], password_stdin: bool, no_force_change: bool, keep_sessions: bool,
                   password_out: Path | None, from_file: Path | None, skip_invalid: Path | None,
                   **change: Any) -> None:
    """Reset users' passwords and revoke their sign-in sessions.

    The new password is generated (or read with --password-stdin) and shown once on stderr, or
    written to --password-out FILE. The user must change it at next sign-in unless
    --no-force-change. An app needs User Administrator (or higher) to reset passwords; an admin's
    password needs a role that may act on it. Synced users and protected accounts are refused.

    \b
    Examples:
      provisioner users reset-password adele@contoso.onmicrosoft.com
      provisioner users reset-password --from leavers.csv --password-out new-passwords.csv --yes
    """
    opts = app.options(**change)
    targets = _targets(refs, from_file, skip_invalid)
    supplied: dict[str, str] = {}
    if password_stdin:
        if len(targets) != 1:
            raise click.UsageError("--password-stdin sets one user's password; name exactly one user")
        from provisioner.passwords import check_policy

        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.UsageError("--password-stdin: no password on standard input")
        if problem := check_policy(password):
            raise click.UsageError(f"--password-stdin: {problem}")
        supplied = {targets[0].lower(): password}
    check_password_out(len(targets) - len(supplied), password_out, opts)
    keeper = PasswordKeeper(supplied, password_out, opts, reset=True, force_change=not no_force_change)

    async def work(target: Target) -> Any:
        from provisioner import services

        return await services.reset_passwords(target, targets, CliReview(opts), run_options(opts), passwords=keeper,
                                              force_change=not no_force_change, revoke_sessions=not keep_sessions)

    try:
        applied = app.run(work)
    finally:
        keeper.close()
    finish(applied)


@click.command("offboard")
@click.argument("refs", nargs=-1, metavar="USER...")
@click.option("--remove-licenses", is_flag=True, help="Also remove the licenses assigned to the user directly.")
@click.option("--delete", is_flag=True, help="Also delete the user (soft delete: restorable for 30 days).")
@click.option("--reassign-reports", is_flag=True,
              help="Re-point the user's direct reports to the user's own manager (none: their manager is removed).")
@from_option
@skip_invalid_option
@change_options
@force_option
@click.pass_obj
def offboard(app: App, refs: tuple[str, ...], remove_licenses: bool, delete: bool, reassign_reports: bool,
             from_file: Path | None, skip_invalid: Path | None, **change: Any) -> None:
    """Offboard leavers in one plan: disable, revoke sessions, reset the password to a random
    value nobody sees, revoke every admin role, remove the manager, then (if asked) remove direct
    licenses and delete the user.

    With --reassign-reports the leaver's direct reports get the leaver's manager as theirs (each a
    manager change in the plan; past a manager who leaves in the same run, up the chain). A leaver
    without a manager leaves its reports without one: their manager is removed, so nobody keeps a
    departed manager, and the plan says so. Synced reports are left to on-premises AD (a note).

    Every step is shown first and guarded: the last Global Administrator, protected accounts and
    synced users (offboard those on-premises) are refused before the first write. Re-running the
    same command finishes what a failed run left and changes nothing more.

    \b
    Examples:
      provisioner users offboard adele@contoso.onmicrosoft.com --remove-licenses --dry-run
      provisioner users offboard --from leavers.csv --remove-licenses --delete --yes
      provisioner users offboard adele@contoso.onmicrosoft.com --reassign-reports --yes
    """
    opts = app.options(**change)
    targets = _targets(refs, from_file, skip_invalid)

    async def work(target: Target) -> Any:
        from provisioner import services

        return await services.offboard_users(target, targets, CliReview(opts), run_options(opts),
                                             remove_licenses=remove_licenses, delete=delete,
                                             reassign_reports=reassign_reports)

    finish(app.run(work))
