"""The audit's round trips on a tenant where listing every user would take pages one after another
(3,000 users: four pages of 999): without a manifest it reads the role holders and the protected
accounts by id and UPN and the number of users with ``/users/$count``, in three sequential rounds,
and its report is the one built from every user listed.

Sequential rounds are counted from the gateway's request log under added latency: each HTTP
request's start and end (the log line is written at the end and says how long it took), and the
longest chain of requests each starting after the one before it ended.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from provisioner import audit as auditing
from provisioner import services
from provisioner.audit.baseline import HIGHLY_PRIVILEGED
from provisioner.config import Profile, Safety
from provisioner.local import LOCAL_BASE_URL, init_tenant, transport
from provisioner.services.audit import BASELINE_READS, baseline, read_tenant

DOMAIN = "contoso.onmicrosoft.com"
LATENCY_MS = 500  # long beside the jitter of a busy machine: rounds are told apart by it
PIM = LOCAL_BASE_URL + "/roleManagement/directory"
ROLES = list(HIGHLY_PRIVILEGED.values())
WEEK = timedelta(days=7)
HOLDERS = 150


async def _prepare(state: Path) -> dict[str, str]:
    """150 role holders over the eight highly privileged roles (direct, PIM active, eligible; every
    tenth cloud-only one disabled), so that the assignments and active PIM instances are two pages;
    one holder a deleted user; and the UPNs the protected accounts name: one with a role, one
    without (disabled), one deleted, one that does not exist."""
    async with httpx.AsyncClient(transport=transport(state), base_url=LOCAL_BASE_URL,
                                 headers={"Authorization": "Bearer test"}) as c:
        users: list[dict[str, Any]] = []
        url: str | None = "/users?$select=id,userPrincipalName,onPremisesSyncEnabled&$top=999"
        while url:
            page = (await c.get(url)).json()
            users += page["value"]
            url = page.get("@odata.nextLink")
        cloud = [u for u in users[1:] if not u.get("onPremisesSyncEnabled")]
        for i, u in enumerate(users[1:HOLDERS + 1]):
            body: dict[str, Any] = {"principalId": u["id"], "roleDefinitionId": ROLES[i % len(ROLES)],
                                    "directoryScopeId": "/"}
            if i % 5 < 2:
                url = PIM + "/roleAssignments"
            else:
                body.update(action="adminAssign", justification="test",
                            scheduleInfo={"expiration": {"type": "noExpiration"}})
                url = PIM + ("/roleEligibilityScheduleRequests" if i % 5 == 4 else "/roleAssignmentScheduleRequests")
            assert (await c.post(url, json=body)).status_code == 201
            if i % 10 == 0 and not u.get("onPremisesSyncEnabled"):  # a synced user is disabled on premises
                assert (await c.patch(f"/users/{u['id']}", json={"accountEnabled": False})).status_code == 204
        holder = {u["id"] for u in users[1:HOLDERS + 1]}
        plain = [u for u in cloud if u["id"] not in holder]
        gone = plain[0]
        assert (await c.post(PIM + "/roleAssignments", json={
            "principalId": gone["id"], "roleDefinitionId": ROLES[1], "directoryScopeId": "/"})).status_code == 201
        for u in (gone, plain[1]):
            assert (await c.delete(f"/users/{u['id']}")).status_code == 204
        assert (await c.patch(f"/users/{plain[2]['id']}", json={"accountEnabled": False})).status_code == 204
    return {"holder": users[1]["userPrincipalName"], "plain": plain[2]["userPrincipalName"],
            "deleted": plain[1]["userPrincipalName"], "missing": f"nobody@{DOMAIN}"}


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    state = tmp_path_factory.mktemp("audit") / "t.db"
    init_tenant(state, seed_users=2999, synced_fraction=0.2, seed=4)
    return state, asyncio.run(_prepare(state))


def _profile(tenant: tuple[Path, dict[str, str]]) -> Profile:
    state, upns = tenant
    return Profile(name="local", state=state, safety=Safety(protected_accounts=tuple(upns.values())))


def _rounds(spans: list[tuple[float, float]]) -> int:
    """The longest chain of requests each starting after the one before it ended."""
    slack = LATENCY_MS / 2000  # requests sent together start well within half a latency of each other
    depth: list[int] = []
    ordered = sorted(spans, key=lambda s: s[1])
    for start, _ in ordered:
        depth.append(1 + max((depth[j] for j, (_, end) in enumerate(ordered[: len(depth)]) if end <= start + slack),
                             default=0))
    return max(depth, default=0)


def _traffic(profile: Profile, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
             work: Callable[[services.Target], Awaitable[Any]]) -> tuple[list[str], int]:
    """The HTTP requests ``work`` sends (method and path; $batch items travel inside one) and its
    sequential rounds, with LATENCY_MS added to every request."""
    monkeypatch.setenv("PROVISIONER_LOCAL_LATENCY_MS", str(LATENCY_MS))

    async def main() -> None:
        async with services.open_target(profile) as target:
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="provisioner.graph"):
                await work(target)

    asyncio.run(main())
    sent, spans = [], []
    for r in caplog.records:
        found = re.fullmatch(r"(\S+ \S+) -> \d+ \((\d+) ms\)", r.getMessage())
        if r.name == "provisioner.graph" and found:
            sent.append(found.group(1))
            spans.append((r.created - int(found.group(2)) / 1000, r.created))
    return sorted(sent), _rounds(spans)


FIRST_ROUND = [
    "GET /v1.0/directory/deletedItems/microsoft.graph.user",
    "GET /v1.0/roleManagement/directory/roleAssignmentScheduleInstances",
    "GET /v1.0/roleManagement/directory/roleAssignments",
    "GET /v1.0/roleManagement/directory/roleDefinitions",
    "GET /v1.0/roleManagement/directory/roleEligibilityScheduleInstances",
    "GET /v1.0/users/$count",
]
ACTIVE = "GET /v1.0/roleManagement/directory/roleAssignmentScheduleInstances"
SECOND_PAGES = ["GET /v1.0/roleManagement/directory/roleAssignments", ACTIVE]


def test_audit_reads_the_holders_not_every_user(tenant: tuple[Path, dict[str, str]], caplog: pytest.LogCaptureFixture,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    profile = _profile(tenant)
    sent, rounds = _traffic(profile, caplog, monkeypatch, lambda t: services.audit(t, expiring_within=WEEK))
    # 1: five listings, the count, one $batch (the baseline's four reads, the protected accounts by
    # UPN); 2: the second pages of the assignments and of the active instances (read twice: the
    # tenant's and the baseline's); 3: one $batch of the 151 holders by id (15 to a request).
    assert sent == sorted([*FIRST_ROUND, *SECOND_PAGES, ACTIVE, "POST /v1.0/$batch", "POST /v1.0/$batch"])
    assert rounds == 3
    sent, rounds = _traffic(profile, caplog, monkeypatch,
                            lambda t: services.audit(t, expiring_within=WEEK, with_baseline=False))
    # The protected accounts' one request, alone, goes as itself rather than in a $batch.
    assert sent == sorted([*FIRST_ROUND, *SECOND_PAGES, "GET /v1.0/users", "POST /v1.0/$batch"])
    assert rounds == 3


def test_fix_plan_reads_as_the_audit_does(tenant: tuple[Path, dict[str, str]], caplog: pytest.LogCaptureFixture,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    profile = _profile(tenant)
    sent, rounds = _traffic(profile, caplog, monkeypatch,
                            lambda t: services.fix_plan(t, recipients=("sec@contoso.com",)))
    assert sent == sorted([*FIRST_ROUND, *SECOND_PAGES, ACTIVE, "POST /v1.0/$batch", "POST /v1.0/$batch"])
    assert rounds == 3


def test_the_report_is_the_one_of_every_user_listed(tenant: tuple[Path, dict[str, str]]) -> None:
    """Every format, findings and baseline included, as built from the whole tenant listed."""
    profile = _profile(tenant)
    protected = profile.safety.protected_accounts

    async def main() -> tuple[auditing.AuditReport, auditing.AuditReport]:
        async with services.open_target(profile) as target:
            d = target.directory
            by_holders = await services.audit(target, expiring_within=WEEK, all_roles=True)
            listed = await read_tenant(d, every_user=True, also=list(BASELINE_READS.values()))
            report = auditing.audit(listed.state, protected=protected, expiring_within=WEEK, all_roles=True,
                                    tenant=profile.name)
            judged = await baseline(d, listed.state, listed.answers, profile.scuba)
            return by_holders, replace(report, baseline=judged, generated=by_holders.generated)

    by_holders, by_listing = asyncio.run(main())
    assert (by_holders.users, len(by_holders.holders)) == (3000 - 2, 113)  # two deleted; --all-roles; 22 eligible
    codes = [(f.code, f.user_principal_name) for f in by_holders.findings]
    _, upns = tenant
    assert ("protected.missing", upns["missing"]) in codes
    assert ("protected.deleted", upns["deleted"]) in codes
    assert ("protected.disabled", upns["plain"]) in codes  # holds no role: read by its UPN
    assert any(code == "admin.disabled" for code, _ in codes)
    for fmt in auditing.RENDERERS:
        assert auditing.render(by_holders, fmt) == auditing.render(by_listing, fmt), fmt
    assert json.loads(auditing.render(by_holders, "json"))["baseline"] is not None
