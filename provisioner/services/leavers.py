"""Use cases for leavers: reset passwords (and sign the users out), and offboard users in one
guarded plan (L§7.3).

A reset reads the users named (one batched round trip). Offboarding reads the users with the
Global Administrator assignments (and the deleted users when a name matched no active one), then
their role assignments (active and eligible), managers, direct reports (when they are re-pointed) and, when licenses go
too, their direct licenses and the tenant's SKUs: two round trips (more pages of direct reports
only for a manager of more than a page of them).
"""

from __future__ import annotations

from collections.abc import Sequence

from provisioner.changes import PasswordSource
from provisioner.graph import Kind
from provisioner.model import User
from provisioner.plan.leavers import Leaver, plan_offboard, plan_reset
from provisioner.queries import (
    direct_reports_request,
    eligibility_instances_request,
    manager_request,
    skus_request,
    user_licenses_request,
)
from provisioner.services.licenses import held_licenses
from provisioner.services.reads import ASSIGNMENTS_LIST_ALL_ABOVE, DELETED_REQUEST, GA_READS, Reader
from provisioner.services.target import (
    Applied,
    Approve,
    Passwords,
    Review,
    RunOptions,
    Target,
    carry_out,
    changing,
)


async def reset_passwords(target: Target, refs: Sequence[str], review: Review | None = None,
                          run: RunOptions | None = None, *, passwords: Passwords | None = None,
                          force_change: bool = True, revoke_sessions: bool = True) -> Applied:
    """Reset each user's password and revoke its sign-in sessions. The password is the one
    ``passwords`` supplies for the user, else a generated one kept in ``passwords.generated``;
    the user must change it at next sign-in unless ``force_change`` is False. Synced users and
    protected accounts are refused before the first write."""
    review, run = review or Approve(), run or RunOptions()
    passwords = passwords if passwords is not None else Passwords()
    supplied = getattr(passwords, "supplied", {}) or {}
    async with changing(target, review, run):
        r = Reader(target.directory)
        await r.users(list(refs))
        by_id = {u.id.lower(): u for u in r.state.users.values()}
        for ref in refs:  # a password supplied for an object id is the user's, whatever it was named by
            user = r.state.user(ref) or by_id.get(ref.lower())
            if user is not None and ref.lower() in supplied:
                supplied.setdefault(user.user_principal_name.lower(), supplied[ref.lower()])
        every_supplied = bool(refs) and all(
            (u := r.state.user(ref) or by_id.get(ref.lower())) is not None
            and u.user_principal_name.lower() in supplied for ref in refs)
        source = PasswordSource.SUPPLIED if every_supplied else PasswordSource.GENERATE
        planned = plan_reset(refs, r.state, source=source, force_change=force_change,
                             revoke_sessions=revoke_sessions)
        return await carry_out(target, r.state, planned, review, run, passwords=passwords)


async def offboard_users(target: Target, refs: Sequence[str], review: Review | None = None,
                         run: RunOptions | None = None, *, remove_licenses: bool = False,
                         delete: bool = False, reassign_reports: bool = False) -> Applied:
    """Offboard users in the order of L§7.3: disable, revoke sessions, reset the password to a
    random value nobody sees, revoke every admin role (active and eligible), re-point their direct reports to their
    manager (``reassign_reports``; none: the reports' manager is removed), remove the manager,
    remove direct licenses (``remove_licenses``), soft delete (``delete``). Re-running converges."""
    review, run = review or Approve(), run or RunOptions()
    async with changing(target, review, run):
        r = Reader(target.directory)
        first = await r.users(list(refs), also=[*GA_READS])
        await r.global_admins(first)
        by_id = {u.id.lower(): u for u in r.state.users.values()}
        named = [u for ref in refs if (u := r.state.user(ref) or by_id.get(ref.lower())) is not None]
        then = r.unknown_holders()
        if len({u.id for u in named}) < len({ref.lower() for ref in refs}):
            then.append(DELETED_REQUEST)  # an earlier run may have deleted it: that is converged
        ids = sorted({u.id.lower() for u in named})
        then += [manager_request(f"mgr:{oid}", oid) for oid in ids]
        if reassign_reports:
            then += [direct_reports_request(f"rep:{oid}", oid) for oid in ids]
        if remove_licenses and ids:
            then += [user_licenses_request(f"lic:{oid}", oid) for oid in ids] + [skus_request("skus")]
        # Eligible (PIM) assignments with the active ones: a leaver keeps none (a few leavers: each one's
        # instances; many: every eligible one in the tenant, paged, and the planner keeps the leavers').
        if len(ids) > ASSIGNMENTS_LIST_ALL_ABOVE:
            then.append(eligibility_instances_request("el:all"))
        answers = await r.assignments_of(ids, also=then, pim=True)
        await r.take_ends(first)  # after the leavers' assignments, which may be read again without their ends
        if "deleted" in answers:
            await r.deleted(answers)
        await r.name_held_roles()
        skus = {}
        if "skus" in answers and answers["skus"].ok:  # without Organization.Read.All: labelled by skuId
            skus = {str(s.get("skuId", "")).lower(): str(s.get("skuPartNumber") or s.get("skuId"))
                    for s in answers["skus"].checked().values()}
        found: dict[str, Leaver] = {}
        for oid in ids:
            mgr = answers[f"mgr:{oid}"]
            boss = {} if mgr.kind is Kind.NOT_FOUND else mgr.checked().body
            manager = str(boss.get("userPrincipalName") or "")
            reports: tuple[User, ...] = ()
            if f"rep:{oid}" in answers:  # only users: an orgContact report has no manager we set
                reports = tuple(User.from_graph(d) for d in await r.collect(answers[f"rep:{oid}"].checked())
                                if d.get("@odata.type", "#microsoft.graph.user") == "#microsoft.graph.user")
            licenses = None
            if f"lic:{oid}" in answers:
                held = held_licenses(answers[f"lic:{oid}"].checked().body)
                licenses = {sku: skus.get(sku, sku) for sku, h in held.items() if h.direct}
            found[oid] = Leaver(manager=manager or None, licenses=licenses, manager_id=boss.get("id"), reports=reports)
        planned = plan_offboard(refs, r.state, found, remove_licenses=remove_licenses, delete=delete,
                                reassign_reports=reassign_reports)
        return await carry_out(target, r.state, planned, review, run)
