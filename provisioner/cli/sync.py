"""``provisioner sync MANIFEST`` and ``provisioner apply PLAN.json``: desired state, planned and applied."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from provisioner.cli.app import App, ChangeOptions, change_options, err, run_plan, show_plan
from provisioner.cli.files import PasswordKeeper, check_password_out, password_out_option
from provisioner.errors import ExitCode

if TYPE_CHECKING:
    from provisioner.directory import Directory
    from provisioner.model import Plan, TenantState
    from provisioner.plan import Planned

def _creates(plan: Plan) -> int:
    from provisioner.model import Action

    return plan.count(Action.CREATE)


async def _apply(app: App, d: Directory, state: TenantState, planned: Planned, opts: ChangeOptions,
                 password_out: Path | None) -> None:
    check_password_out(_creates(planned.plan), password_out, opts)
    keeper = PasswordKeeper({}, password_out, opts)
    try:
        await run_plan(app, d, state, planned, opts, passwords=keeper.password, on_created=keeper.created)
    finally:
        keeper.close()


@click.command("sync")
@click.argument("manifest", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--prune", is_flag=True, help="Delete in-scope users the manifest does not list.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), metavar="PLAN.json",
              help="Save the plan for 'provisioner apply' and write nothing.")
@click.option("--detailed-exitcode", is_flag=True,
              help="With --dry-run or --out: exit 2 when there are changes, 0 when there are none.")
@password_out_option
@change_options
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

    opts = ChangeOptions(**change)
    if out is not None:
        opts.dry_run = True
    desired = read_manifest(manifest)
    profile = app.profile()

    async def work(d: Directory) -> bool:
        from provisioner import plan as planning
        from provisioner.sync import plan_sync, save_plan

        state, planned = await plan_sync(d, desired, prune=prune, tenant=profile.name)
        if out is None:
            await _apply(app, d, state, planned, opts, password_out)
            return bool(planned.plan.changes)
        for note in planned.notes:
            err(note)
        planning.guardrails(planned.plan, state, app.policy(force=opts.force))
        show_plan(planned, opts.output)
        save_plan(planned.plan, out)
        err(f"Plan saved to {out}; nothing was written. Apply it with: provisioner apply {out}")
        return bool(planned.plan.changes)

    changes = app.run(work)
    if detailed_exitcode and opts.dry_run and changes:
        click.get_current_context().exit(ExitCode.CHANGES_PRESENT)


@click.command("apply")
@click.argument("plan_file", metavar="PLAN.json", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed without a terminal).")
@click.option("--plan-output", "output", type=click.Choice(["text", "json", "markdown"]), default="text",
              show_default=True, help="How the plan is shown on stdout.")
@click.option("--results", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
              help="Write one result per change (.csv, else JSON lines).")
@click.option("--force", is_flag=True, help="Allow more deletes than safety.max_deletes.")
@password_out_option
@click.pass_obj
def apply_command(app: App, plan_file: Path, yes: bool, output: str, results: Path | None, force: bool,
                  password_out: Path | None) -> None:
    """Apply exactly the plan saved by 'sync --out', if the tenant has not changed since.

    A stale plan is refused (exit 4) before any write: run sync again.
    """
    from provisioner.plan import Planned
    from provisioner.sync import check_fresh, load_plan

    saved = load_plan(plan_file)
    opts = ChangeOptions(yes=yes, output=output, results=results, force=force)
    profile = app.profile()

    async def work(d: Directory) -> None:
        state = await check_fresh(d, saved, tenant=profile.name)
        await _apply(app, d, state, Planned(saved), opts, password_out)

    app.run(work)
