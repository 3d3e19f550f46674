"""What every command shares: the target, one event loop per command, and the way a plan is
shown, confirmed and run."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from provisioner.errors import ExitCode, ProvisionerError

if TYPE_CHECKING:
    from provisioner.changes import Change
    from provisioner.config import Config, Profile
    from provisioner.execute import Report
    from provisioner.plan import Planned
    from provisioner.services import Applied, RunOptions, Target

T = TypeVar("T")


class Stop(ProvisionerError):
    """Ends a command early with a given exit code (e.g. "no TTY and no --yes")."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def err(message: str) -> None:
    click.echo(message, err=True)


@dataclass
class App:
    tenant: str | None = None
    config_path: Path | None = None
    debug: bool = False
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            from provisioner.config import load_config

            self._config = load_config(self.config_path)
        return self._config

    def profile(self) -> Profile:
        return self.config.profile(self.tenant)

    def options(self, **given: Any) -> ChangeOptions:
        """A mutating command's options, with the profile's confirmation policy."""
        safety = self.profile().safety
        return ChangeOptions(**given, confirm=safety.confirm, confirm_above=safety.confirm_above)

    def run(self, work: Callable[[Target], Awaitable[T]]) -> T:
        """Connect to the target, say which it is on stderr, and run ``work`` in one event loop."""
        profile = self.profile()
        err(f"Target: {profile.describe()}")

        done: list[T] = []

        async def main() -> None:
            from provisioner.services import open_target

            async with open_target(profile) as target:
                done.append(await work(target))

        import asyncio

        # The result is kept out of the task: on its way out asyncio.run formats the task (and so its
        # result: every outcome of a bulk run, seconds of repr) when it restores the SIGINT handler.
        asyncio.run(main())
        return done[0]


@dataclass
class ChangeOptions:
    """The options every mutating command takes, uniformly."""

    dry_run: bool = False
    yes: bool = False
    output: str = "text"  # how the plan is shown (--plan-output)
    data: str = "table"  # -o: table (the plan on stdout) or json/csv (each change's result on stdout)
    quiet: bool = False  # only the summary line
    results: Path | None = None  # a file, or "-" for stdout
    force: bool = False
    no_wait: bool = False
    confirm: str = "destructive"  # safety.confirm: which runs ask first
    confirm_above: int = 100
    saved: bool = False  # applying a saved plan: it was reviewed when it was made


data_option = click.option(
    "--output", "-o", "data", type=click.Choice(["table", "json", "csv"], case_sensitive=False), default="table",
    show_default=True, help="table: the plan on stdout; json or csv: each change's result on stdout (status, "
    "object id), the plan on stderr.")


def change_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--dry-run``, ``--yes``, ``--plan-output``, ``--results`` and ``--no-wait`` for a mutating command."""
    options = [
        click.option("--dry-run", is_flag=True, help="Read the tenant, validate and show the plan; send no write."),
        click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed without a terminal)."),
        click.option("--plan-output", "output",
                     type=click.Choice(["text", "json", "markdown"], case_sensitive=False), default="text",
                     show_default=True, help="How the plan is shown (stdout; stderr with -o json|csv)."),
        data_option,
        click.option("--quiet", "-q", is_flag=True, help="Print only the summary line (no plan, no notes)."),
        click.option("--results", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True), metavar="FILE",
                     help="Write one result per change (.csv, else JSON lines; - for stdout)."),
        click.option("--no-wait", is_flag=True,
                     help="Fail at once if another command is changing this tenant (default: wait for it)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


force_option = click.option("--force", is_flag=True,
                            help="Allow more deletes (or purges) than safety.max_deletes.")


def show_plan(planned: Planned, fmt: str, out: Any = None) -> None:
    """Write the plan (to stdout unless told) piece by piece: a bulk plan is never held as one string."""
    import json

    from provisioner import render

    if fmt == "json":
        chunks = json.JSONEncoder(indent=2).iterencode(planned.plan.to_json())
    elif fmt == "markdown":
        chunks = (line + "\n" for line in render.markdown_lines(planned.plan))
    else:
        chunks = (line + "\n" for line in render.text_lines(planned.plan, color=(out or sys.stdout).isatty()))
    out = out or sys.stdout
    for chunk in chunks:
        out.write(chunk)
    if fmt == "json":
        out.write("\n")
    out.flush()


DESTRUCTIVE = ("delete", "purge", "revoke")


def asks(changes: Sequence[Change], opts: ChangeOptions) -> bool:
    """Whether this run asks first: as peers do, adding needs no prompt; removing, and a big run, do."""
    if opts.yes or opts.confirm == "never":
        return False
    if opts.confirm == "always":
        return True
    if opts.saved:
        return False
    from provisioner.roles.rules import disables

    return len(changes) > opts.confirm_above or any(
        c.action.value in DESTRUCTIVE or disables(c) or removes_license(c) for c in changes)


def removes_license(change: Change) -> bool:
    """A LICENSE change taking a SKU away: it starts the 30-day deletion of the user's mailbox data (L§6.9)."""
    return change.action.value == "license" and any(new is None for _, new in change.updates.values())


def confirm(changes: Sequence[Change], opts: ChangeOptions, *, typed: str | None = None) -> None:
    """Ask before writing, when :func:`asks` says so. ``typed`` asks the admin to type a word (permanent deletes)."""
    if not asks(changes, opts):
        return
    if not sys.stdin.isatty():
        raise Stop("not applied: no terminal to confirm on; re-run with --yes to apply this plan", ExitCode.USAGE)
    if typed:
        answer = click.prompt(f"Type {typed!r} to apply {len(changes)} change(s)", default="", show_default=False,
                              err=True)
        if answer.strip() != typed:
            raise Stop("not applied: confirmation not given", ExitCode.ERROR)
    elif not click.confirm(f"Apply {len(changes)} change(s)?", err=True):
        raise Stop("not applied: confirmation not given", ExitCode.ERROR)


class CliReview:
    """A plan's review on the command line: notes and plan shown, a dry run stops, a write asks first."""

    def __init__(self, opts: ChangeOptions, *, typed: str | None = None,
                 check: Callable[[Planned], None] | None = None):
        self.opts = opts
        self.typed = typed
        self.check = check  # refuses a plan this command cannot run as asked (before it is shown)

    @property
    def writes(self) -> bool:
        return not self.opts.dry_run

    def notes(self, notes: Sequence[str]) -> None:
        if not self.opts.quiet:
            for note in notes:
                err(note)

    def show(self, planned: Planned) -> None:
        if self.opts.quiet:
            return
        if self.opts.dry_run and self.opts.data == "json":  # a dry run's data is its plan
            show_plan(planned, "json")
        elif planned.plan.changes or self.opts.output != "text":
            show_plan(planned, self.opts.output, None if self.opts.data == "table" else sys.stderr)
        else:
            from provisioner.render import EMPTY

            err(EMPTY)

    def approve(self, planned: Planned) -> bool:
        if self.check is not None:
            self.check(planned)
        self.show(planned)
        if not planned.plan.changes:
            return False
        if self.opts.dry_run:
            err("Dry run: nothing was written.")
            return False
        confirm(planned.plan.changes, self.opts, typed=self.typed)
        return True


def run_options(opts: ChangeOptions) -> RunOptions:
    from provisioner.output import Progress
    from provisioner.services import RunOptions

    to_stdout = opts.results is not None and str(opts.results) == "-"
    return RunOptions(force=opts.force, results=None if to_stdout else opts.results, progress=Progress("Applying"),
                      wait=not opts.no_wait, on_wait=err,
                      report=sys.stdout if to_stdout or opts.data != "table" else None,
                      report_format=opts.data if opts.data != "table" else "jsonl")


def finish(applied: Applied) -> None:
    """The run's summary, when something ran."""
    if applied.report is not None:
        summarize(applied.report)


def summarize(report: Report) -> None:
    """The summary line, the first failures, and the exit code for a partial or failed run."""
    err(f"Applied {report.ok} of {report.total} change(s) in {report.elapsed:.1f}s"
        + (f", {report.failed} failed" if report.failed else "")
        + (f", {report.unknown} unknown (interrupted)" if report.unknown else "")
        + (f", {report.refused} refused" if report.refused else "") + ".")
    for outcome in report.failures:
        c = outcome.change
        if outcome.status == "refused":
            err(f"  {outcome.message}")
            continue
        role = f" {c.role_name}" if c.role_name else ""
        rid = f" (request-id {outcome.request_id})" if outcome.request_id else ""
        err(f"  failed: {c.action.value}{role} {c.upn}: {outcome.code}: {outcome.message}{rid}")
    if report.refused and not (report.failed or report.unknown):
        raise Stop(f"{report.refused} change(s) refused before their write: they would have left the tenant "
                   "without an active Global Administrator", ExitCode.REFUSED)
    if report.failed or report.unknown or report.refused:
        code = ExitCode.PARTIAL if report.ok else ExitCode.ERROR
        denied = report.forbidden
        grant = "grant what is named above and get a new token"
        if report.failures and not any(o.retryable for o in report.failures):
            retry = "Graph refused them: fix what each line says, then re-run the same command (it converges)"
            if denied == report.failed:
                retry = f"they were refused for lack of a permission or admin role: {grant}, then re-run the same " \
                        "command (it converges)"
            elif denied:
                retry += f"; {denied} were refused for lack of a permission or admin role: {grant} first"
        else:
            retry = "re-run the same command to retry them (it converges)"
            if denied:
                retry += f"; {denied} were refused for lack of a permission or admin role: {grant} first"
        raise Stop(f"{report.failed + report.unknown + report.refused} change(s) did not apply; {retry}", code)
