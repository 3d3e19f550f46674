"""What every use case shares: the target it acts on, how a plan is reviewed, and how it is run.

A mutating use case reads what it needs, plans, then calls :func:`carry_out`: guardrails refuse
before the first write, the caller's :class:`Review` sees the notes and the plan and says whether to
write it (the CLI shows and confirms; the Python API writes by default), then the executor runs it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from provisioner.changes import Change
from provisioner.config import Profile
from provisioner.directory import Directory
from provisioner.errors import ProvisionerError, Refused
from provisioner.execute import Executor, Recheck, Report
from provisioner.journal import CsvResults, JsonArray, JsonLines, OutcomeSink, recent_writes
from provisioner.model import Policy, TenantState
from provisioner.pacing import Budget
from provisioner.plan import Planned, guardrails
from provisioner.plan.guardrails import warnings as guardrail_warnings
from provisioner.roles.rules import RemovesGlobalAdmin


@dataclass
class Target:
    """A connected tenant and the profile it was configured by (safety limits, journal, budget)."""

    directory: Directory
    profile: Profile

    def policy(self, *, force: bool = False) -> Policy:
        safety = self.profile.safety
        return Policy(protected=frozenset(u.lower() for u in safety.protected_accounts),
                      max_deletes=safety.max_deletes, force=force)


@asynccontextmanager
async def open_target(profile: Profile | None = None) -> AsyncIterator[Target]:
    """Connect to ``profile``'s tenant (default: the config's default, else the local tenant)."""
    from provisioner.bootstrap import connected

    if profile is None:
        from provisioner.config import load_config

        profile = load_config().profile(None)
    async with connected(profile) as directory:
        yield Target(directory, profile)


class Review(Protocol):
    """Sees a plan before it is written, and decides whether it is. ``writes`` is False for a review
    that never approves a write (a dry run): such a use case takes no lock."""

    writes: bool

    def notes(self, notes: Sequence[str]) -> None: ...

    def approve(self, planned: Planned) -> bool: ...

    def show(self, planned: Planned) -> None:
        """Show a plan without deciding on it (a dry run's plan that a guardrail refused)."""


class Approve:
    """Writes every plan that passes the guardrails (the Python API's default)."""

    writes = True

    def notes(self, notes: Sequence[str]) -> None:
        return None

    def approve(self, planned: Planned) -> bool:
        return True

    def show(self, planned: Planned) -> None:
        return None


class DryRun(Approve):
    """Plans and guards, writes nothing."""

    writes = False

    def approve(self, planned: Planned) -> bool:
        return False


class Passwords:
    """Each created user's initial password: the one the input supplied, else a generated one.

    Generated passwords are kept in :attr:`generated` for the caller to hand over; the CLI's keeper
    writes them to the admin's file or terminal instead. Never logged, never planned.
    """

    def __init__(self, supplied: dict[str, str] | None = None):
        self.supplied = {k.lower(): v for k, v in (supplied or {}).items()}
        self.generated: dict[str, str] = {}
        self.unknown: list[str] = []  # created, but the create's answer was lost: password not known to be ours

    def password(self, change: Change) -> str:
        from provisioner.passwords import generate

        return self.supplied.get(change.upn.lower()) or generate()

    def checkpoint(self) -> None:
        return None  # kept in memory: nothing to put on disk first

    def created(self, change: Change, object_id: str, password: str | None) -> None:
        if change.upn.lower() in self.supplied:
            return
        if password is None:
            self.unknown.append(change.upn)
        else:
            self.generated[change.upn] = password


@dataclass
class RunOptions:
    """How a mutating use case runs: past the delete limit or not, and where results go."""

    force: bool = False
    results: Path | None = None
    progress: Callable[[int, int], None] | None = None
    wait: bool = True  # for another command changing the same tenant (else Busy at once)
    on_wait: Callable[[str], None] | None = None
    report: IO[str] | None = None  # a stream (stdout) that gets each change's result as data
    report_format: str = "json"  # json (one array), jsonl or csv


@dataclass
class Applied:
    """A mutating use case's result: its plan, and the run's report (None when nothing was written:
    a dry run, an empty plan, or a review that declined)."""

    planned: Planned
    report: Report | None = None
    passwords: Passwords | None = field(default=None, repr=False)

    @property
    def created(self) -> dict[str, str]:
        """Lower-cased UPN -> object id of each user created or restored by this run."""
        return dict(self.report.created) if self.report else {}


@asynccontextmanager
async def changing(target: Target, review: Review, run: RunOptions) -> AsyncIterator[None]:
    """The span of a mutating use case, from its first read to its last write: one per tenant on
    this machine at a time (a dry run takes no lock)."""
    if not review.writes:
        yield
        return
    from provisioner.services.lock import tenant_lock

    if target.profile.is_local:
        from provisioner.bootstrap import check_local_writable

        check_local_writable(target.profile)

    async with tenant_lock(target.profile, wait=run.wait, on_wait=run.on_wait):
        yield


async def carry_out(target: Target, state: TenantState, planned: Planned, review: Review, run: RunOptions, *,
                    passwords: Passwords | None = None) -> Applied:
    """Guard the plan, let ``review`` see it, and run it if approved."""
    review.notes(planned.notes)
    try:
        guardrails(planned.plan, state, target.policy(force=run.force))
    except Refused:
        if not review.writes:  # a dry run still shows what was asked, then why it is refused
            review.show(planned)
        raise
    review.notes(guardrail_warnings(planned.plan, state))  # seen before the plan, never blocking it
    if not review.approve(planned) or not planned.plan.changes:
        return Applied(planned, None, passwords)
    removes = RemovesGlobalAdmin(state)
    report = await execute(target, planned.plan.changes, run, passwords=passwords, last=removes,
                           recheck=lambda change: keeps_a_global_admin(target.directory, change))
    return Applied(planned, report, passwords)


async def execute(target: Target, changes: Sequence[Change], run: RunOptions, *,
                  passwords: Passwords | None = None, lag_timeout: float = 60.0,
                  last: Callable[[Change], bool] | None = None, recheck: Recheck | None = None) -> Report:
    """Run the changes through the executor, journalling every outcome as it happens."""
    from provisioner.bootstrap import write_budget

    profile = target.profile
    writes, window = write_budget(profile)
    spent = recent_writes(profile.execution.journal, profile.name, window) if writes else 0
    streams = []
    try:
        streams.append(_open(profile.execution.journal, "a", "the journal ([execution] journal in the config)"))
        sinks: list[OutcomeSink] = [JsonLines(streams[0], {"tenant": profile.name})]
        if run.results is not None:
            streams.append(_open(run.results, "w", "the results file (--results)"))
            try:
                sinks.append(CsvResults(streams[1]) if run.results.suffix.lower() == ".csv" else JsonLines(streams[1]))
            except OSError as e:
                raise ProvisionerError(f"cannot write the results file (--results) {run.results}: {e.strerror or e}; "
                                       "nothing was written. Name a writable file and run the command again") from None
        if run.report is not None:
            sinks.append({"csv": CsvResults, "jsonl": JsonLines}.get(run.report_format, JsonArray)(run.report))
        executor = Executor(
            target.directory, budget=Budget(writes, window, spent=spent), concurrency=profile.execution.concurrency,
            sinks=sinks, passwords=passwords, progress=run.progress, lag_timeout=lag_timeout,
            last=last, recheck=recheck,
        )
        try:
            return await executor.run(changes)
        finally:
            for sink in sinks:
                getattr(sink, "close", lambda: None)()
    finally:
        for stream in streams:
            try:
                stream.close()
            except OSError:  # already reported by the executor: a full device fails the last flush too
                pass


def _open(path: Path, mode: str, what: str) -> IO[str]:
    """A file the run writes, opened before the first write; a one-line error when it cannot be."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open(mode, encoding="utf-8", newline="")
    except OSError as e:
        raise ProvisionerError(f"cannot write {what} {path}: {e.strerror or e}; nothing was written. "
                               "Name a writable file and run the command again") from None


async def keeps_a_global_admin(d: Directory, change: Change) -> str | None:
    """Read the Global Administrators again, right before a write that can remove one: the refusal
    when it would leave none (another command may have removed the others since the plan was made)."""
    from provisioner.changes import Plan
    from provisioner.queries import get_user_request
    from provisioner.roles.rules import removes_last_global_admin
    from provisioner.services.reads import GA_REQUEST, Reader

    r = Reader(d)
    subject = [get_user_request(f"id:{change.object_id.lower()}", change.object_id)] if change.object_id else []
    await r.global_admins(await r.send([GA_REQUEST, *subject]))
    await r.send(r.unknown_holders())
    if not removes_last_global_admin(Plan((change,)), r.state):
        return None
    what = {"delete": "deleting", "purge": "purging", "revoke": "revoking Global Administrator from",
            "update": "disabling"}.get(change.action.value, change.action.value)
    return (f"refused: {what} {change.upn} would leave the tenant without an active Global Administrator "
            "(the others were removed since this plan was made); assign Global Administrator to another "
            "active user first: provisioner roles assign USER global")
