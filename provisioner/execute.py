"""Runs a plan against the gateway: batching, pacing, retries, progress and the journal.

Changes run in phases, in ``changes.Action`` order (creates, updates, sign-outs, password resets,
restores, PIM role settings, role assignments, new ends of roles held, revocations, managers,
licenses, deletes, purges), so a role is assigned only after its user exists. The request each
change is written with is ``writes.write_request``; the pacing is ``pacing.Budget``.
Inside a phase every change is independent: they go out in ``$batch`` requests of 20, several in
flight, paced by a token bucket that mirrors Graph's write budget. Each item's own status is
checked: throttled items wait out ``Retry-After``; items whose outcome is unknown (503/504, a
dropped connection) are checked or resent so that nothing is done twice; "not found" right after a
create is Graph's replication lag and is retried with bounded backoff.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from provisioner import graph, queries
from provisioner.changes import Action, Change, PasswordSource
from provisioner.directory import Directory
from provisioner.errors import ProvisionerError
from provisioner.forbidden import Refusals
from provisioner.graph import Kind, Request, Response, backoff
from provisioner.journal import Outcome, OutcomeSink
from provisioner.pacing import Budget
from provisioner.roles.rules import Replacements
from provisioner.writes import write_request

# With a 10 % fault rate, twelve unknown outcomes in a row happen about once in 10^12 items.
MAX_UNCERTAIN_ATTEMPTS = 12
# What assignLicense answers (400) while a usageLocation just set has not replicated (L§6.5).
USAGE_LOCATION_LAG = "invalid usage location"
# Warnings reach stderr without any logging set up (Python's last-resort handler): the admin sees
# why a run pauses, never a failure.
log = logging.getLogger("provisioner.execute")


class JournalFailed(ProvisionerError):
    """The journal could not be appended: the run stops before its next write and says which writes
    were made without a record."""

    def __init__(self, error: OSError, unjournaled: Sequence[Outcome], unsent: Sequence[_Item]):
        self.unjournaled = list(unjournaled)
        made = [f"{o.change.action.value} {o.change.upn}" + (f" {o.change.role_name}" if o.change.role_name else "")
                + (f" ({o.object_id})" if o.object_id else "") for o in self.unjournaled]
        shown = ", ".join(made[:10]) + (f" and {len(made) - 10} more" if len(made) > 10 else "")
        stopped = f"stopped before the next write, {len(unsent)} or more change(s) not sent. " if unsent else ""
        super().__init__(
            f"the journal could not be written ({error.strerror or error}); {stopped}"
            + (f"{len(made)} write(s) were made but are not in the journal: {shown}. " if made else "")
            + "Make the journal writable ([execution] journal in the config), then re-run the same command: "
            "it converges")


@dataclass
class Report:
    total: int = 0
    ok: int = 0
    failed: int = 0
    unknown: int = 0
    refused: int = 0  # held back before their write: they would have removed the last Global Administrator
    forbidden: int = 0  # of the failed: Graph answered 403 (a permission or admin role is missing)
    elapsed: float = 0.0
    failures: list[Outcome] = field(default_factory=list)  # the first ones, for the summary
    created: dict[str, str] = field(default_factory=dict)  # lower UPN -> object id, this run
    deleted: set[str] = field(default_factory=set)  # lower object ids deleted this run
    assigned: set[str] = field(default_factory=set)  # role assignment ids made this run
    located: set[str] = field(default_factory=set)  # lower object ids whose usageLocation was set this run


@dataclass
class _Item:
    change: Change
    attempts: int = 0
    uncertain: bool = False  # the last send may or may not have been applied
    verify: bool = False  # a create or an assignment to look up before resending
    exists: bool = False  # Graph answered a resent create with a conflict: the first send created it
    lag_deadline: float | None = None
    not_before: float = 0.0


class PasswordBook(Protocol):
    """Where each create's initial password comes from, and where it is kept."""

    def password(self, change: Change) -> str: ...

    def checkpoint(self) -> None:
        """Every password handed out is on record: called before the creates that set them are sent."""

    def created(self, change: Change, object_id: str, password: str | None) -> None:
        """After a create; ``password`` is None when it is not known to be ours (see ``_done``)."""


Progress = Callable[[int, int], None]
Recheck = Callable[[Change], Awaitable[str | None]]  # why a held-back change must not run, or None


class Executor:
    """Runs plans through one gateway. ``passwords`` supplies the password for each create (and
    records it where the admin asked); asked once per user, just before the first send."""

    def __init__(
        self,
        directory: Directory,
        *,
        budget: Budget,
        concurrency: int = 4,
        sinks: Sequence[OutcomeSink] = (),
        passwords: PasswordBook | None = None,
        progress: Progress | None = None,
        lag_timeout: float = 60.0,
        max_failures_kept: int = 50,
        last: Callable[[Change], bool] | None = None,
        recheck: Recheck | None = None,
    ):
        self.directory = directory
        self.budget = budget
        self.concurrency = max(1, concurrency)
        self.sinks = list(sinks)
        self.passwords = passwords
        self.progress = progress
        self.lag_timeout = lag_timeout
        self.max_failures_kept = max_failures_kept
        self.last = last
        self.recheck = recheck
        self._secrets: dict[str, str] = {}
        self._unflushed: list[Outcome] = []
        self._broken: OSError | None = None  # the journal (or results file) stopped taking records
        self.unjournaled: list[Outcome] = []
        self._ids = itertools.count(1)
        self._refusals = Refusals()  # what a 403 lacked: Graph's answer does not say
        self._told_lag = False
        self._replacing = Replacements(())

    async def run(self, changes: Sequence[Change]) -> Report:
        report = Report(total=len(changes))
        started = time.monotonic()
        held_back = [c for c in changes if self.last is not None and self.last(c)]
        held = set(map(id, held_back))
        self._replacing = Replacements(changes)
        try:
            for action in Action:
                phase = [c for c in changes if c.action is action and id(c) not in held]
                if phase:
                    await self._run_phase(phase, report)
            # Writes that can remove a Global Administrator: after every other write, one at a time,
            # each right after ``recheck`` has read the holders again.
            for change in held_back:
                if self._kept(change, report):
                    self._flush()
                    continue
                refusal = await self.recheck(change) if self.recheck is not None else None
                if refusal is not None:
                    self._settle(report, Outcome(change, "refused", code="LastGlobalAdministrator", message=refusal))
                    self._flush()
                    continue
                await self._run_phase([change], report)
        finally:
            report.elapsed = time.monotonic() - started
            self._secrets.clear()
        if self._broken is not None:
            raise JournalFailed(self._broken, self.unjournaled, [])
        return report

    # -- a phase: rounds of batches until every item is settled --

    async def _run_phase(self, changes: list[Change], report: Report) -> None:
        pending = [_Item(c) for c in changes]
        while pending:
            now = time.monotonic()
            ready = [i for i in pending if i.not_before <= now]
            if not ready:
                await asyncio.sleep(min(i.not_before for i in pending) - now)
                continue
            waiting = [i for i in pending if i.not_before > now]
            batches = [ready[n : n + graph.BATCH_LIMIT] for n in range(0, len(ready), graph.BATCH_LIMIT)]
            queue: asyncio.Queue[list[_Item]] = asyncio.Queue()
            for b in batches:
                queue.put_nowait(b)
            retry: list[_Item] = []

            async def worker(queue: asyncio.Queue[list[_Item]] = queue, retry: list[_Item] = retry) -> None:
                while not queue.empty():
                    batch = queue.get_nowait()
                    retry.extend(await self._send(batch, report))

            await asyncio.gather(*(worker() for _ in range(min(self.concurrency, len(batches)))))
            pending = waiting + retry

    async def _send(self, items: list[_Item], report: Report) -> list[_Item]:
        """Send one batch; settle what can be settled and return the items to try again."""
        if self._broken is not None:
            raise JournalFailed(self._broken, self.unjournaled, items)
        requests: dict[str, tuple[_Item, Request]] = {}
        retry: list[_Item] = []
        for item in items:
            request = self._request(item, report)
            if request is None:
                continue
            requests[request.id] = (item, request)
        if not requests:
            return retry
        if self.passwords is not None and any(i.change.action in (Action.CREATE, Action.PASSWORD)
                                              for i, _ in requests.values()):
            self.passwords.checkpoint()
        writes = sum(1 for _, r in requests.values() if r.method != "GET")
        await self.budget.take(writes)
        try:
            responses = await self.directory.batch([r for _, r in requests.values()])
        except asyncio.CancelledError:
            for item, _ in requests.values():
                self._settle(report, Outcome(item.change, "unknown", message="interrupted while in flight"))
            self._flush()
            raise
        refused = [requests[r.id][0].change for r in responses if r.status == 403]
        if refused:
            await self._refusals.learn(self.directory, refused)
        for resp in responses:
            retry.extend(self._handle(requests[resp.id][0], resp, report))
        self._flush()
        return retry

    def _flush(self) -> None:
        try:
            for sink in self.sinks:
                sink.flush()
        except OSError as e:
            self._lost(e, self._unflushed)
        self._unflushed = []

    def _lost(self, error: OSError, outcomes: Sequence[Outcome]) -> None:
        """Records that did not reach the journal: no further write is sent (see ``_send``)."""
        self._broken = self._broken or error
        self.unjournaled += [o for o in outcomes if o not in self.unjournaled and o.code != "FailedDependency"]

    # -- building requests --

    def _request(self, item: _Item, report: Report) -> Request | None:
        c = item.change
        rid = str(next(self._ids))
        if item.verify and c.action is Action.ASSIGN:
            return queries.assignments_request(rid, principal_id=self._principal(c, report) or "", role_id=c.role_id)
        if item.verify:
            return queries.get_user_request(rid, c.upn)
        if c.action is Action.ASSIGN and self._principal(c, report) is None:
            self._settle(report, Outcome(c, "failed", code="FailedDependency",
                                         message=f"{c.upn} was not created, so no role was assigned"))
            return None
        if self._kept(c, report):
            return None
        target = self._principal(c, report) if c.action is Action.ASSIGN else self._object_id(c, report)
        return write_request(c, rid, target or "", lambda: self._password(c))

    def _kept(self, c: Change, report: Report) -> bool:
        """Settle, unsent, a revoke whose eligible replacement was not granted (``Replacements``)."""
        why = self._replacing.kept(c)
        if why is not None:
            self._settle(report, Outcome(c, "failed", code="FailedDependency", message=why))
        return why is not None

    @staticmethod
    def _principal(c: Change, report: Report) -> str | None:
        return c.object_id or report.created.get(c.upn.lower())

    def _object_id(self, c: Change, report: Report) -> str:
        return c.object_id or report.created.get(c.upn.lower(), c.upn)

    def _password(self, c: Change) -> str:
        key = c.upn.lower()
        if key not in self._secrets and c.password is PasswordSource.HIDDEN:
            from provisioner.passwords import generate

            self._secrets[key] = generate()  # nobody is shown it: only kept for a resend of the same write
        if key not in self._secrets:
            if self.passwords is None:
                raise RuntimeError("a create needs a password source")
            self._secrets[key] = self.passwords.password(c)
        return self._secrets[key]

    # -- reading answers --

    def _handle(self, item: _Item, resp: Response, report: Report) -> list[_Item]:
        c = item.change
        kind = resp.kind
        if item.verify:
            return self._verified(item, resp, report)
        if kind is Kind.OK:
            # The user's id: a create or restore answers with the user; an assignment answers with
            # itself, whose id is not the user's.
            made = resp.body.get("id") if isinstance(resp.body, Mapping) else None
            object_id = made if c.action in (Action.CREATE, Action.RESTORE) else self._principal(c, report)
            return self._done(item, report, resp, object_id=object_id, made=made)
        if kind in (Kind.THROTTLED, Kind.TRANSIENT):
            return self._transient(item, resp, report)
        if c.through_pim and not resp.ok and resp.error().code in (graph.PIM_EXISTS, graph.PIM_MISSING):
            # PIM names it: the assignment is already in place (or already gone after an unknown outcome).
            if (c.action is Action.ASSIGN) == (resp.error().code == graph.PIM_EXISTS):
                return self._done(item, report, resp, object_id=None)
        if item.uncertain:
            # After an unknown outcome, the answer to a resend can show the first send worked.
            if c.action is Action.CREATE and kind is Kind.CONFLICT:
                item.verify = item.exists = True  # read its id for the role phase
                item.not_before = 0.0
                return [item]
            if c.action is Action.ASSIGN and kind in (Kind.CONFLICT, Kind.INVALID):
                # Graph answers a duplicate assignment with a bare 400: look, rather than read its message.
                item.verify = True
                item.not_before = 0.0
                return [item]
            if c.action is not Action.ASSIGN and kind is Kind.NOT_FOUND:
                return self._done(item, report, resp, object_id=None)
        if kind is Kind.NOT_FOUND and self._just_written(c, report):
            return self._lagging(item, resp, report)
        if c.action is Action.LICENSE and kind is Kind.INVALID and self._just_located(c, resp, report):
            return self._lagging(item, resp, report)
        return self._fail(item, report, resp)

    def _just_located(self, c: Change, resp: Response, report: Report) -> bool:
        """Whether an assignLicense refused for an invalid usage location can be replication lag
        (L§6.5, L§6.8): the location was set (or the user created) moments ago in this run."""
        oid = self._object_id(c, report).lower()
        return USAGE_LOCATION_LAG in resp.error().message.lower() and (
            oid in report.located or c.upn.lower() in report.created)

    def _just_written(self, c: Change, report: Report) -> bool:
        """Whether a "not found" can be replication lag (graph-quirks §5): the object was written in
        this run, and a replica that has not seen that write answers for it."""
        if c.action is Action.ASSIGN:  # a user created or restored moments ago
            return c.upn.lower() in report.created
        if c.action in (Action.UPDATE, Action.DELETE):  # the same, read by id
            return c.upn.lower() in report.created
        if c.action in (Action.RESTORE, Action.PURGE):  # a user deleted moments ago
            return self._object_id(c, report).lower() in report.deleted
        if c.action is Action.REVOKE:  # an assignment made moments ago
            return (c.assignment_id or "") in report.assigned
        return False

    def _verified(self, item: _Item, resp: Response, report: Report) -> list[_Item]:
        """The answer to a look-up made before resending a create or an assignment."""
        c = item.change
        if resp.kind in (Kind.THROTTLED, Kind.TRANSIENT):
            return self._transient(item, resp, report)
        if c.action is Action.ASSIGN:
            if resp.ok and resp.values():
                return self._done(item, report, resp, object_id=None)
            # Not there (a role never instantiated lists as 404): send it again, and judge the next answer.
            if resp.ok or resp.kind is Kind.NOT_FOUND:
                item.verify = item.uncertain = False
                return [item]
            return self._fail(item, report, resp)
        if resp.ok:
            return self._done(item, report, resp, object_id=resp.body.get("id"))
        if resp.kind is Kind.NOT_FOUND:
            if item.exists:
                return self._lagging(item, resp, report)  # created, but not yet readable
            # Not created: send it again. The failed send was counted when its answer was unknown.
            item.verify = False
            return [item]
        return self._fail(item, report, resp)

    def _uncertain(self, item: _Item, report: Report, resp: Response | None, why: str | None) -> list[_Item]:
        item.attempts += 1
        if item.attempts >= MAX_UNCERTAIN_ATTEMPTS:
            if resp is not None:
                return self._fail(item, report, resp)
            self._settle(report, Outcome(item.change, "failed", code="TransportError", message=why))
            return []
        item.uncertain = True
        item.verify = item.change.action is Action.CREATE
        delay = backoff(item.attempts, resp.retry_after if resp is not None else None)
        item.not_before = time.monotonic() + delay
        return [item]

    def _transient(self, item: _Item, resp: Response, report: Report) -> list[_Item]:
        if resp.status == 429:
            delay = resp.retry_after or 1.0
            self.budget.throttled(delay)
            item.not_before = time.monotonic() + delay
            return [item]
        return self._uncertain(item, report, resp, None)

    def _lagging(self, item: _Item, resp: Response, report: Report) -> list[_Item]:
        now = time.monotonic()
        if item.lag_deadline is None:
            item.lag_deadline = now + self.lag_timeout
            if not self._told_lag:
                self._told_lag = True
                log.warning("waiting for replication: Graph does not show a write of this run yet "
                            "(it is eventually consistent); retrying for up to %.0fs", self.lag_timeout)
        if now >= item.lag_deadline:
            return self._fail(item, report, resp)
        item.attempts += 1
        item.not_before = now + min(5.0, 0.2 * 2**item.attempts)
        return [item]

    def _done(self, item: _Item, report: Report, resp: Response, *, object_id: str | None,
              made: str | None = None) -> list[_Item]:
        """Settle a change that applied; ``made`` is the id of what the write made (an assignment's)."""
        c = item.change
        if c.action in (Action.CREATE, Action.RESTORE) and object_id:
            report.created[c.upn.lower()] = object_id
        if c.action is Action.DELETE:
            report.deleted.add(self._object_id(c, report).lower())
        if c.action is Action.ASSIGN and made:
            report.assigned.add(made)
        self._replacing.done(c, self._principal(c, report))
        if c.action is Action.UPDATE and (c.updates.get("usageLocation") or (None, None))[1]:
            report.located.add(self._object_id(c, report).lower())
        if c.action is Action.PASSWORD and c.password is not PasswordSource.HIDDEN and self.passwords is not None:
            self.passwords.created(c, self._object_id(c, report), self._secrets.get(c.upn.lower()))
        if c.action is Action.CREATE and object_id and self.passwords is not None:
            # A resent create answered "already exists": the user is there, but an earlier send of
            # ours or someone else's create made it; its password is not known to be ours.
            self.passwords.created(c, object_id, None if item.exists else self._secrets.get(c.upn.lower()))
        self._settle(report, Outcome(c, "ok", resp.status, request_id=resp.request_id,
                                     object_id=object_id))
        return []

    def _fail(self, item: _Item, report: Report, resp: Response) -> list[_Item]:
        error = resp.error()
        message = self._refusals.explain(item.change, error.message) if resp.status == 403 else error.message
        report.forbidden += resp.status == 403
        self._settle(report, Outcome(item.change, "failed", resp.status, error.code, message, error.request_id))
        return []

    def _settle(self, report: Report, outcome: Outcome) -> None:
        setattr(report, outcome.status, getattr(report, outcome.status) + 1)
        if outcome.status != "ok" and len(report.failures) < self.max_failures_kept:
            report.failures.append(outcome)
        try:
            for sink in self.sinks:
                sink.write(outcome)
            self._unflushed.append(outcome)
        except OSError as e:
            self._lost(e, [outcome])
        if self.progress is not None:
            self.progress(report.ok + report.failed + report.unknown + report.refused, report.total)
