"""Operations: read what a plan needs from the tenant, and run a plan through the executor.

The CLI calls these; they call the gateway (``directory``), the pure planner (``plan``) and the
role rules. Nothing here parses arguments or prints.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from provisioner import directory as graph
from provisioner.config import Profile
from provisioner.directory import Directory
from provisioner.execute import (
    Budget,
    CreatedHook,
    CsvResults,
    Executor,
    JsonLines,
    OutcomeSink,
    Passwords,
    Progress,
    Report,
)
from provisioner.model import Change, RoleAssignment, TenantState
from provisioner.roles.catalog import GLOBAL_ADMIN_ID

_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Past this many users, one paged listing of the tenant is cheaper than looking each one up.
LIST_ALL_ABOVE = 2000
ASSIGNMENTS_LIST_ALL_ABOVE = 50


def is_object_id(ref: str) -> bool:
    return bool(_OBJECT_ID.match(ref))


@asynccontextmanager
async def connected(profile: Profile) -> AsyncIterator[Directory]:
    directory = await graph.connect(profile)
    try:
        yield directory
    finally:
        await directory.close()


async def read_state(
    d: Directory,
    *,
    refs: Sequence[str] = (),
    deleted: bool = False,
    roles: bool = False,
    assignments_of_refs: bool = False,
    all_users: bool = False,
) -> TenantState:
    """Read as much of the tenant as a plan about ``refs`` (UPNs or object ids) needs.

    Always read: the Global Administrator assignments and their holders, for the rule that the
    last one is never removed.
    """
    state = TenantState(now=await d.sync_clock())
    upns = [r for r in refs if not is_object_id(r)]
    ids = {r.lower() for r in refs if is_object_id(r)}
    if all_users or len(refs) > LIST_ALL_ABOVE:
        async for user in d.iter_users():
            state.users[user.user_principal_name.lower()] = user
    else:
        state.users.update(await d.users_by_upn(upns))
        for user in (await d.users_by_id(ids)).values():
            state.users[user.user_principal_name.lower()] = user
    if roles or assignments_of_refs:
        state.roles = await d.role_definitions()
    ga = await d.role_assignments(role_id=GLOBAL_ADMIN_ID)
    known = {u.id for u in state.users.values()}
    for user in (await d.users_by_id({a.principal_id for a in ga} - known)).values():
        state.users[user.user_principal_name.lower()] = user
    assignments: dict[str, RoleAssignment] = {a.id: a for a in ga}
    if assignments_of_refs:
        targets = [state.user(r) for r in upns]
        targets += [u for u in state.users.values() if u.id.lower() in ids]
        wanted = {u.id for u in targets if u is not None}
        if len(wanted) > ASSIGNMENTS_LIST_ALL_ABOVE:
            # One paged listing beats a request per user for bulk inputs.
            assignments.update({a.id: a for a in await d.role_assignments() if a.principal_id in wanted})
        else:
            for principal in sorted(wanted):
                for a in await d.role_assignments(principal_id=principal):
                    assignments[a.id] = a
    state.assignments = list(assignments.values())
    if deleted:
        state.deleted = [u async for u in d.iter_deleted_users()]
    return state


async def read_full_state(d: Directory) -> TenantState:
    """Every user, deleted user, role and assignment: what sync and audit compare against."""
    state = TenantState(now=await d.sync_clock())
    async for user in d.iter_users():
        state.users[user.user_principal_name.lower()] = user
    state.roles = await d.role_definitions()
    state.assignments = await d.role_assignments()
    state.deleted = [u async for u in d.iter_deleted_users()]
    return state


def budget_for(profile: Profile) -> Budget:
    """Pace writes to the target's budget: Graph's documented write quota for a real tenant; for
    the local tenant, the budget it simulates (none unless throttling is switched on)."""
    if profile.is_local:
        from provisioner.local import Realism

        budget = Realism.from_env().write_budget()
        if budget is None:
            return Budget(None, 1.0)
        return Budget(budget[0], budget[1])
    return Budget(profile.execution.write_budget, profile.execution.write_window_seconds)


@dataclass
class RunFiles:
    """Where a run writes: the journal (always) and, if asked, a per-change results file."""

    journal: Path
    results: Path | None = None
    tenant: str = ""
    _open: list[IO[str]] = field(default_factory=list)

    def sinks(self) -> list[OutcomeSink]:
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        journal = self.journal.open("a", encoding="utf-8")
        self._open.append(journal)
        sinks: list[OutcomeSink] = [JsonLines(journal, {"tenant": self.tenant})]
        if self.results is not None:
            stream = self.results.open("w", encoding="utf-8", newline="")
            self._open.append(stream)
            sinks.append(CsvResults(stream) if self.results.suffix.lower() == ".csv" else JsonLines(stream))
        return sinks

    def close(self) -> None:
        for stream in self._open:
            stream.close()
        self._open.clear()


async def execute(
    d: Directory,
    profile: Profile,
    changes: Sequence[Change],
    *,
    files: RunFiles,
    passwords: Passwords | None = None,
    on_created: CreatedHook | None = None,
    progress: Progress | None = None,
    lag_timeout: float = 60.0,
) -> Report:
    """Run the changes, journalling every outcome as it happens."""
    sinks = files.sinks()
    try:
        executor = Executor(
            d,
            budget=budget_for(profile),
            concurrency=profile.execution.concurrency,
            sinks=sinks,
            passwords=passwords,
            on_created=on_created,
            progress=progress,
            lag_timeout=lag_timeout,
        )
        return await executor.run(changes)
    finally:
        files.close()
