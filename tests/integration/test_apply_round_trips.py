"""Round trips of ``apply`` for a saved plan: a plan with a license change reads the tenant's SKUs
and its users' licenses in the same two round trips as any other plan (their object ids are in the
plan), then writes; counted from the gateway's own request log, as test_round_trips does."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from test_round_trips import DOMAIN

from provisioner import services
from provisioner.changes import Action, Plan
from provisioner.config import Profile
from provisioner.local import init_tenant
from provisioner.model import Manifest, UserSpec

ANN = f"ann@{DOMAIN}"


@pytest.fixture
def profile(tmp_path: Path) -> Profile:
    state = tmp_path / "t.db"
    init_tenant(state, skus={"SPE_E5": 5})
    return Profile(name="local", state=state)


def applied(profile: Profile, caplog: pytest.LogCaptureFixture, spec: UserSpec) -> tuple[list[Action], list[str]]:
    """``sync --out`` for a manifest of the admin and ``spec``, the plan read back as ``apply`` reads a
    file, then applied: the plan's actions, and the requests apply sent (a $batch's items indented)."""
    async def main() -> list[Action]:
        async with services.open_target(profile) as target:
            manifest = Manifest((UserSpec(f"admin@{DOMAIN}", roles=("global",)), spec), (DOMAIN,))
            _, planned = await services.plan_sync(target, manifest)
            plan = Plan.from_json(planned.plan.to_json())
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="provisioner.graph"):
                await services.apply_plan(target, plan)
            return [c.action for c in plan.changes]

    actions = asyncio.run(main())
    sent = [r.getMessage().split(" -> ")[0].split("?")[0] for r in caplog.records if r.name == "provisioner.graph"]
    return actions, [line.replace("$batch item ", "") for line in sent]


def test_a_license_change_rides_the_reads_apply_already_makes(profile: Profile,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    asyncio.run(_create(profile))
    admin = _id(profile, f"admin@{DOMAIN}")
    ann = _id(profile, ANN)

    def reads(*extra: str) -> list[str]:
        # The users named, the Global Administrators, the deleted users, the role definitions (and
        # what a license change needs); then the users' assignments and the administrators' accounts.
        return ["POST /v1.0/$batch", "  GET /users", f"  GET /users/{ann}",
                "  GET /roleManagement/directory/roleAssignments", "  GET /directory/deletedItems/microsoft.graph.user",
                "  GET /roleManagement/directory/roleDefinitions",
                *extra, "POST /v1.0/$batch", "  GET /roleManagement/directory/roleAssignments", f"  GET /users/{admin}",
                "POST /v1.0/$batch"]

    actions, sent = applied(profile, caplog, UserSpec(ANN, {"jobTitle": "Clerk"}))
    assert (actions, sent) == ([Action.UPDATE], [*reads(), f"  PATCH /users/{ann}"])
    actions, sent = applied(profile, caplog, UserSpec(ANN, licenses=("SPE_E5",)))
    # The same three HTTP requests: the SKUs and ann's licenses ride the first one.
    assert (actions, sent) == ([Action.LICENSE], [*reads("  GET /subscribedSkus", f"  GET /users/{ann}"),
                                                  f"  POST /users/{ann}/assignLicense"])


async def _create(profile: Profile) -> None:
    async with services.open_target(profile) as target:
        await services.create_users(target, [UserSpec(ANN, {"displayName": "Ann", "usageLocation": "GB"})])


def _id(profile: Profile, upn: str) -> str:
    async def read() -> str:
        async with services.open_target(profile) as target:
            return (await services.show_user(target, upn)).user.id

    return asyncio.run(read())
