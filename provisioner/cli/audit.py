"""``provisioner audit``: a read-only report of admin-role holders, findings and drift."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from provisioner.cli.app import App, err
from provisioner.durations import duration_option
from provisioner.errors import ExitCode

if TYPE_CHECKING:
    from provisioner.audit import AuditReport
    from provisioner.plan.fixes import FixPlan
    from provisioner.services import Target

@click.command()
@click.option("--all-roles", is_flag=True, help="List holders of every privileged built-in role, not only the five "
              "classic admin roles.")
@click.option("--expiring-within", metavar="DURATION", default="7d", show_default=True,
              help="Report deleted users purged within DURATION (e.g. 7d, 36h); with --fix-plan, a Global "
              "Administrator whose active assignment ends within it does not count as staying active.")
@click.option("--manifest", type=click.Path(path_type=Path, dir_okay=False, exists=True), metavar="FILE",
              help="Also show the drift: the changes `sync FILE` would make (never applied).")
@click.option("--output", "-o", type=click.Choice(["table", "json", "markdown", "html"], case_sensitive=False),
              default="table",
              show_default=True, help="Report format (on stdout).")
@click.option("--fail-on", type=click.Choice(["warning", "error"]), metavar="warning|error",
              help=f"Exit with {ExitCode.FINDINGS} when a finding is at this severity or above, or a Shall "
              "policy of the SCuBA baseline is not met.")
@click.option("--baseline/--no-baseline", default=True, show_default=True,
              help="Judge the tenant against the CISA SCuBA baseline (MS.AAD.7); --no-baseline: findings only.")
@click.option("--fix-plan", "fix_plan", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
              help="Save a plan that fixes the baseline where no choice of people is needed (for 'provisioner "
              "apply FILE'); writes nothing to the tenant.")
@click.option("--notify", multiple=True, metavar="EMAIL",
              help="With --fix-plan: who gets the PIM assignment and activation alerts (MS.AAD.7.7-7.9). Repeatable.")
@click.option("--approver", metavar="USER", help="With --fix-plan: who approves Global Administrator activations "
              "(MS.AAD.7.6), by user principal name or object id.")
@click.pass_obj
def audit(app: App, all_roles: bool, expiring_within: str, manifest: Path | None, output: str,
          fail_on: str | None, baseline: bool, fix_plan: Path | None, notify: tuple[str, ...],
          approver: str | None) -> None:
    """Audit the tenant read-only: who holds admin roles, what is wrong, what expires soon.

    Sends no write request. Findings each carry a severity (error, warning, info), the evidence
    and the fix. The baseline section judges the tenant against CISA SCuBA MS.AAD.7.1-7.9 as
    ScubaGear does (not checked where Graph does not give the data: PIM needs Entra ID P2).
    With --manifest, the report also shows what a sync of that manifest would change.

    With --fix-plan FILE, it saves a plan instead of the report: highly privileged roles held
    eligible through PIM (break-glass accounts in safety.protected_accounts stay active), approval
    for Global Administrator activation (--approver), alert recipients (--notify). Review it, then
    run it with `provisioner apply FILE`.

    \b
    Exit codes: 0 report written; 5 findings at the --fail-on level; 1 the audit failed.

    \b
    Examples:
        provisioner audit
        provisioner audit --all-roles --output html > audit.html
        provisioner audit --manifest users.toml --output markdown --fail-on warning
        provisioner audit --fix-plan fix.json --notify secops@contoso.com --approver alice@contoso.com
    """
    from provisioner import audit as auditing
    from provisioner.inputs import read_manifest

    within = duration_option(expiring_within, "--expiring-within")
    if fix_plan is not None:
        _fix(app, fix_plan, notify, approver, within, manifest=manifest, output=output, fail_on=fail_on,
             baseline=baseline)
        return
    if notify or approver:
        raise click.UsageError("--notify and --approver go with --fix-plan FILE")
    desired = read_manifest(manifest) if manifest is not None else None

    async def work(target: Target) -> AuditReport:
        from provisioner import services

        return await services.audit(target, expiring_within=within, all_roles=all_roles, manifest=desired,
                                    manifest_name=str(manifest or ""), with_baseline=baseline)

    report = app.run(work)
    click.echo(auditing.render(report, output), nl=False)
    if fail_on is not None:
        level = auditing.Severity(fail_on)
        reached, failed = report.reaches(level), report.baseline_failures(level)
        if reached:
            err(f"{len(reached)} finding(s) at or above {fail_on}.")
        if failed:
            err(f"{len(failed)} baseline failure(s) (failed Shall policies and findings beside them at or above "
                f"{fail_on}): {', '.join(failed)}.")
        if reached or failed:
            click.get_current_context().exit(ExitCode.FINDINGS)


def _fix(app: App, path: Path, notify: tuple[str, ...], approver: str | None, within: timedelta, *,
         manifest: Path | None, output: str, fail_on: str | None, baseline: bool) -> None:
    """``audit --fix-plan FILE``: the plan shown and saved (as ``sync --out`` saves one), then what it does
    per policy; nothing is written to the tenant."""
    from provisioner.audit.fixes import fix_lines
    from provisioner.cli.app import show_plan
    from provisioner.ids import EMAIL_EXAMPLE, is_email
    from provisioner.plan import Planned
    from provisioner.sync import save_plan

    for given, name in ((manifest, "--manifest"), (fail_on, "--fail-on"), (output != "table", "--output"),
                        (not baseline, "--no-baseline")):
        if given:
            raise click.UsageError(f"--fix-plan saves a plan, not a report: leave out {name}")
    for address in notify:
        if not is_email(address):
            raise click.UsageError(f"--notify {address!r}: not an e-mail address; give one like {EMAIL_EXAMPLE}")

    async def work(target: Target) -> FixPlan:
        from provisioner import services

        return await services.fix_plan(target, recipients=notify, approver=approver, expiring_within=within)

    fixed = app.run(work)
    show_plan(Planned(fixed.plan), "text")
    click.echo("")
    for line in fix_lines(fixed):
        click.echo(line)
    save_plan(fixed.plan, path)
    err(f"Plan saved to {path}; nothing was written. Review it, then apply it with: provisioner apply {path}")
