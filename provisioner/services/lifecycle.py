"""Use cases for movers and leavers: update users (properties, rename, manager), disable and
enable them (a disable signs the user out too).

Two batched round trips at most: the users named (with the managers and new names they mention,
the tenant's domains when one is renamed, the Global Administrator assignments when one is
disabled), then the current managers of the users whose manager changes and the Global
Administrators' accounts not read yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from provisioner.graph import Kind
from provisioner.model import User
from provisioner.plan.lifecycle import UserEdit, plan_update
from provisioner.queries import domains_request, manager_request
from provisioner.services.licenses import with_licenses
from provisioner.services.reads import GA_READS, Reader
from provisioner.services.target import Applied, Approve, Review, RunOptions, Target, carry_out, changing


async def update_users(target: Target, edits: Iterable[UserEdit], review: Review | None = None,
                       run: RunOptions | None = None) -> Applied:
    """Change existing users as each edit says; what is already so is a note. Guarded like every
    plan: synced users, protected accounts (no rename, no disable) and the last Global
    Administrator (no disable) are refused before the first write."""
    edits = list(edits)
    review, run = review or Approve(), run or RunOptions()
    async with changing(target, review, run):
        r = Reader(target.directory)
        disabling = any(e.values.get("accountEnabled") is False for e in edits)
        renaming = any(e.new_upn for e in edits)
        also = ([*GA_READS] if disabling else []) + ([domains_request("domains")] if renaming else [])
        mentioned = [*(e.manager for e in edits if e.manager), *(e.new_upn for e in edits if e.new_upn)]
        answers = await r.users([*(e.ref for e in edits), *mentioned], also=also)
        await r.global_admins(answers)
        await r.take_ends(answers)
        domains = [d["id"] for d in await r.collect(answers["domains"]) if d.get("isVerified")] if renaming else []
        by_id = {u.id.lower(): u for u in r.state.users.values()}
        managed = {u.id for e in edits if e.manager or e.clear_manager
                   if (u := r.state.user(e.ref) or by_id.get(e.ref.lower())) is not None}
        then = [manager_request(f"mgr:{oid}", oid) for oid in sorted(managed)]
        answers = await r.send(then + (r.unknown_holders() if disabling else []))
        _take_managers(r, answers, managed)
        planned = plan_update(edits, r.state, verified_domains=domains)
        planned = await with_licenses(target.directory, planned, r.state,
                                      [(e.ref, e.licenses, e.reason) for e in edits])
        return await carry_out(target, r.state, planned, review, run)


def _take_managers(r: Reader, answers: dict, managed: Iterable[str]) -> None:
    for oid in managed:
        resp = answers[f"mgr:{oid}"]
        # No manager is a 404 naming 'manager' (L§5.3); the user itself was just read.
        r.state.managers[oid.lower()] = None if resp.kind is Kind.NOT_FOUND else User.from_graph(resp.checked().body)


async def set_enabled(target: Target, refs: Sequence[str], enabled: bool, review: Review | None = None,
                      run: RunOptions | None = None, *, revoke_sessions: bool = True) -> Applied:
    """Disable (``enabled=False``: sign-in blocked, and every session revoked unless
    ``revoke_sessions`` is False) or enable users."""
    edits = [UserEdit(ref, {"accountEnabled": enabled}, revoke_sessions=revoke_sessions and not enabled)
             for ref in refs]
    return await update_users(target, edits, review, run)
