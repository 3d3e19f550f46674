"""``provisioner sync MANIFEST`` and ``provisioner apply PLAN.json``: desired state, planned and applied."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from provisioner.cli.app import (
    App,
    ChangeOptions,
    CliReview,
    change_options,
    data_option,
    err,
    finish,
    force_option,
    run_options,
    show_plan,
)
from provisioner.cli.files import PasswordKeeper, check_password_out, password_out_option
from provisioner.errors import ExitCode

if TYPE_CHECKING:
    from provisioner.plan import Planned
    from provisioner.services import Target


def _password_file(out: Path | None, opts: ChangeOptions) -> Callable[[Planned], None]:
    def check(planned: Planned) -> None:
        from provisioner.changes import Action

        check_password_out(planned.plan.count(Action.CREATE), out, opts)

    return check


class SavePlan(CliReview):
    """``sync --out``: the plan is shown and saved for ``apply``, never written to the tenant."""

    writes = False

    def __init__(self, opts: ChangeOptions, out: Path):
        super().__init__(opts)
        self.out = out

    def approve(self, planned: Planned) -> bool:
        from provisioner.sync import save_plan

        show_plan(planned, self.opts.output)
        save_plan(planned.plan, self.out)
        err(f"Plan saved to {self.out}; nothing was written. Apply it with: provisioner apply {self.out}")
        return False


@click.command("sync")
@click.argument("manifest", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--prune", is_flag=True, help="Delete in-scope users the manifest does not list.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), metavar="PLAN.json",
              help="Save the plan for 'provisioner apply' and write nothing.")
@click.option("--detailed-exitcode", is_flag=True,
              help="With --dry-run or --out: exit 2 when there are changes, 0 when there are none.")
@password_out_option
@change_options
@force_option
@click.pass_obj
def sync_command(app: App, manifest: Path, prune: bool, out: Path | None, detailed_exitcode: bool,
                 password_out: Path | None, **change: Any) -> None:
    """Make the tenant match a desired-state MANIFEST (TOML): plan, show, confirm, apply.

    Only users in the manifest's [scope] domains are touched; deletes happen only with --prune.

    \b
    Examples:
      provisioner sync users.toml --dry-run --detailed-exitcode
      provisioner sync users.toml --out plan.json && provisioner apply plan.json
      provisioner sync users.toml --prune --yes --password-out passwords.csv
    """
    from provisioner.inputs import read_manifest

    opts = app.options(**change)
    if out is not None:
        opts.dry_run = True
    desired = read_manifest(manifest)

    keeper = PasswordKeeper({}, password_out, opts)
    review = SavePlan(opts, out) if out is not None else CliReview(opts, check=_password_file(password_out, opts))

    async def work(target: Target) -> Any:
        from provisioner import services

        return await services.sync(target, desired, review, run_options(opts), prune=prune, passwords=keeper)

    try:
        applied = app.run(work)
    finally:
        keeper.close()
    finish(applied)
    changes = bool(applied.planned.plan.changes)
    if detailed_exitcode and opts.dry_run and changes:
        click.get_current_context().exit(ExitCode.CHANGES_PRESENT)


@click.command("apply")
@click.argument("plan_file", metavar="PLAN.json", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed without a terminal).")
@click.option("--plan-output", "output", type=click.Choice(["text", "json", "markdown"], case_sensitive=False),
              default="text", show_default=True, help="How the plan is shown (stdout; stderr with -o json|csv).")
@data_option
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary line (no plan, no notes).")
@click.option("--results", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True), metavar="FILE",
              help="Write one result per change (.csv, else JSON lines; - for stdout).")
@click.option("--force", is_flag=True, help="Allow more deletes than safety.max_deletes.")
@click.option("--no-wait", is_flag=True, help="Fail at once if another command is changing this tenant.")
@password_out_option
@click.pass_obj
def apply_command(app: App, plan_file: Path, yes: bool, output: str, data: str, quiet: bool, results: Path | None,
                  force: bool, no_wait: bool, password_out: Path | None) -> None:
    """Apply exactly the plan saved by 'sync --out' or 'audit --fix-plan', if the tenant has not changed since.

    A stale plan is refused (exit 4) before any write: make the plan again.
    """
    from provisioner.sync import load_plan

    saved = load_plan(plan_file)
    opts = app.options(yes=yes, output=output, data=data, quiet=quiet, results=results, force=force, no_wait=no_wait,
                       saved=True)
    keeper = PasswordKeeper({}, password_out, opts)

    async def work(target: Target) -> Any:
        from provisioner import services

        review = CliReview(opts, check=_password_file(password_out, opts))
        return await services.apply_plan(target, saved, review, run_options(opts), passwords=keeper)

    try:
        applied = app.run(work)
    finally:
        keeper.close()
    finish(applied)
