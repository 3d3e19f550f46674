"""Round trips of ``apply`` for a saved plan revoking an eligible role: the users' PIM instances ride
the second batch and the Global Administrators' instances the first (the revoke could shorten who can
act), so the reads stay two round trips before the write."""

from __future__ import annotations

import asyncio
import logging

import pytest
from test_apply_round_trips import _create, _id, profile  # noqa: F401  (the fixture)
from test_round_trips import DOMAIN

from provisioner import services
from provisioner.changes import Action, Plan
from provisioner.config import Profile
from provisioner.model import Holding, Manifest, UserSpec

ANN = f"ann@{DOMAIN}"


def test_an_eligible_revoke_reads_in_two_round_trips(profile: Profile,  # noqa: F811
                                                     caplog: pytest.LogCaptureFixture) -> None:
    asyncio.run(_create(profile))

    async def main() -> list[Action]:
        async with services.open_target(profile) as target:
            await services.assign_roles(target, [UserSpec(ANN, roles=("billing",))], holding=Holding(eligible=True))
            manifest = Manifest((UserSpec(f"admin@{DOMAIN}", roles=("global",)), UserSpec(ANN, roles=())),
                                (DOMAIN,))
            _, planned = await services.plan_sync(target, manifest)
            plan = Plan.from_json(planned.plan.to_json())
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="provisioner.graph"):
                await services.apply_plan(target, plan)
            return [c.action for c in plan.changes]

    actions = asyncio.run(main())
    sent = [r.getMessage().split(" -> ")[0].split("?")[0].replace("$batch item ", "")
            for r in caplog.records if r.name == "provisioner.graph"]
    admin, ann = _id(profile, f"admin@{DOMAIN}"), _id(profile, ANN)
    pim = "  GET /roleManagement/directory/"
    assert (actions, sent) == ([Action.REVOKE], [
        "POST /v1.0/$batch", "  GET /users", f"  GET /users/{ann}", "  GET /roleManagement/directory/roleAssignments",
        f"{pim}roleAssignmentScheduleInstances", "  GET /directory/deletedItems/microsoft.graph.user",
        "  GET /roleManagement/directory/roleDefinitions",
        "POST /v1.0/$batch", "  GET /roleManagement/directory/roleAssignments", f"  GET /users/{admin}",
        f"{pim}roleEligibilityScheduleInstances", f"{pim}roleAssignmentScheduleInstances",
        "POST /v1.0/$batch", "  POST /roleManagement/directory/roleEligibilityScheduleRequests"])
