"""Replication lag met by writes of the same run (graph-quirks §5): a revoke of an assignment just
made and a purge of a user just deleted answer 404 for a while; the executor waits for replication
(bounded, said on stderr) instead of reporting a failure."""

from __future__ import annotations

import asyncio
import logging

from provisioner.bootstrap import connected
from provisioner.changes import Action, Change
from provisioner.config import load_config
from provisioner.execute import Executor
from provisioner.local import init_tenant
from provisioner.local.store import assignment_id
from provisioner.pacing import Budget
from provisioner.queries import user_licenses_request

DOMAIN = "contoso.onmicrosoft.com"
BILLING = "b0f54661-2d74-4c50-afa3-1ec803f12efe"
E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"


def lagging(tmp_path, monkeypatch, **seed) -> None:
    """A local tenant of the admin and one user, named by the environment, whose reads lag its writes."""
    state = tmp_path / "tenant.db"
    init_tenant(state, seed_users=1, seed=3, **seed)
    config = tmp_path / "config.toml"
    config.write_text(f'[execution]\njournal = "{tmp_path / "journal.jsonl"}"\n')
    monkeypatch.setenv("PROVISIONER_CONFIG", str(config))
    monkeypatch.setenv("PROVISIONER_LOCAL_STATE", str(state))
    monkeypatch.setenv("PROVISIONER_LOCAL_REPLICATION_LAG", "0.5")


def test_revoke_and_purge_right_after_their_writes_wait_for_replication(tmp_path, monkeypatch, caplog):
    lagging(tmp_path, monkeypatch)

    async def run():
        async with connected(load_config().profile(None)) as d:
            [user] = [u async for u in d.iter_users() if not u.user_principal_name.startswith("admin@")]
            upn, uid = user.user_principal_name, user.id
            changes = [
                Change(Action.ASSIGN, upn, uid, role_id=BILLING, role_name="Billing Administrator"),
                Change(Action.REVOKE, upn, uid, role_id=BILLING, role_name="Billing Administrator",
                       assignment_id=assignment_id(BILLING, uid, "/")),
                Change(Action.DELETE, upn, uid),
                Change(Action.PURGE, upn, uid),
            ]
            report = await Executor(d, budget=Budget(None, 1.0), lag_timeout=10).run(changes)
            left = [u async for u in d.iter_users()], await d.deleted_users(), await d.role_assignments()
            return report, left

    with caplog.at_level(logging.WARNING, logger="provisioner.execute"):
        report, (users, deleted, assignments) = asyncio.run(run())
    assert (report.ok, report.failed, report.unknown) == (4, 0, 0), report.failures
    assert [u.user_principal_name for u in users] == [f"admin@{DOMAIN}"]
    assert deleted == [] and [a.role_definition_id for a in assignments] == ["62e90394-69f5-4237-9190-012177145e10"]
    waits = [r.getMessage() for r in caplog.records if "waiting for replication" in r.getMessage()]
    assert waits == ["waiting for replication: Graph does not show a write of this run yet (it is eventually "
                     "consistent); retrying for up to 10s"]


def test_license_right_after_usage_location_waits_for_replication(tmp_path, monkeypatch, caplog):
    """L§6.8: assignLicense answers 400 'invalid usage location' while a usageLocation set in the same
    plan has not replicated; the executor waits for replication instead of failing the license."""
    lagging(tmp_path, monkeypatch, skus={"SPE_E5": 5})

    async def run():
        async with connected(load_config().profile(None)) as d:
            [user] = [u async for u in d.iter_users() if not u.user_principal_name.startswith("admin@")]
            upn, uid = user.user_principal_name, user.id
            located = Change(Action.UPDATE, upn, uid, updates={"usageLocation": (None, "GB")})
            licensed = Change(Action.LICENSE, upn, uid, updates={E5: (None, [])}, properties={E5: "SPE_E5"})
            report = await Executor(d, budget=Budget(None, 1.0), lag_timeout=10).run([located, licensed])
            answers = await d.read([user_licenses_request("lic", uid)])
            return report, answers["lic"].checked().body["assignedLicenses"]

    with caplog.at_level(logging.WARNING, logger="provisioner.execute"):
        report, held = asyncio.run(run())
    assert (report.ok, report.failed, report.unknown) == (2, 0, 0), report.failures
    assert held == [{"disabledPlans": [], "skuId": E5}]
    waits = [r.getMessage() for r in caplog.records if "waiting for replication" in r.getMessage()]
    assert len(waits) == 1

