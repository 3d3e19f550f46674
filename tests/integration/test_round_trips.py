"""Round trips per one-object use case, counted from the gateway's own request log (one line per
HTTP request; the items of a $batch are logged indented), and reads that survive a dropped
connection. A one-object command costs at most 3 sequential round trips (ARCHITECTURE §4)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from provisioner import services
from provisioner.config import Profile
from provisioner.errors import ProvisionerError
from provisioner.local import Realism, init_tenant
from provisioner.local.serve import running_server
from provisioner.model import UserSpec

DOMAIN = "contoso.onmicrosoft.com"
ADMIN = f"admin@{DOMAIN}"
ALICE = f"alice@{DOMAIN}"


@pytest.fixture
def profile(tmp_path: Path) -> Profile:
    state = tmp_path / "t.db"
    init_tenant(state)
    return Profile(name="local", state=state)


def requests_of(profile: Profile, caplog: pytest.LogCaptureFixture,
                work: Callable[[services.Target], Awaitable[Any]]) -> list[str]:
    """The HTTP requests ``work`` sends (batch items excluded: they travel inside one request)."""

    async def main() -> None:
        async with services.open_target(profile) as target:
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="provisioner.graph"):
                await work(target)

    asyncio.run(main())
    return [r.getMessage().split(" -> ")[0] for r in caplog.records
            if r.name == "provisioner.graph" and not r.getMessage().startswith(" ")]


def _create(upn: str, *roles: str) -> Callable[[services.Target], Awaitable[Any]]:
    return lambda t: services.create_users(t, [UserSpec(upn, {"displayName": "Alice"}, roles=roles)])


def test_create_with_a_role_is_one_read_and_two_writes(profile: Profile, caplog: pytest.LogCaptureFixture) -> None:
    sent = requests_of(profile, caplog, _create(ALICE, "billing"))
    # One read (the user and the tenant's domains, batched), the create, the assignment.
    assert sent == ["POST /v1.0/$batch", "POST /v1.0/$batch", "POST /v1.0/$batch"]


def test_one_object_commands_stay_within_their_round_trips(profile: Profile,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    requests_of(profile, caplog, _create(ALICE))
    user_role = [UserSpec(ALICE, roles=("user",))]
    counts = {
        "show": len(requests_of(profile, caplog, lambda t: services.show_user(t, ALICE))),
        "assign": len(requests_of(profile, caplog, lambda t: services.assign_roles(t, user_role))),
        "revoke": len(requests_of(profile, caplog, lambda t: services.revoke_roles(t, user_role))),
        "delete": len(requests_of(profile, caplog, lambda t: services.delete_users(t, [ALICE]))),
        "restore": len(requests_of(profile, caplog, lambda t: services.restore_users(t, [ALICE]))),
        "deleted list": len(requests_of(profile, caplog, lambda t: services.deleted_users(t))),
    }
    assert counts == {"show": 2, "assign": 3, "revoke": 3, "delete": 3, "restore": 3, "deleted list": 1}


def test_reads_survive_dropped_connections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A served tenant that drops 30 % of connections: every read is sent again by the one retry policy."""
    state = tmp_path / "t.db"
    init_tenant(state, seed_users=40, seed=2)
    monkeypatch.setenv("TEST_TOKEN", "any")
    with running_server(state, Realism(drop_rate=0.3, seed=7)) as url:
        served = Profile(name="served", kind="graph", auth="token", token_env="TEST_TOKEN", graph_url=url)

        async def main() -> tuple[int, int, int]:
            async with services.open_target(served) as target:
                users = [u async for u in services.list_users(target)]
                roles = await services.list_roles(target)
                report = await services.audit(target, expiring_within=timedelta(days=7))
                return len(users), sum(r.holders for r in roles), len(report.findings)

        users, holders, _ = asyncio.run(main())
    assert (users, holders) == (41, 1)


def test_an_unreachable_target_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_TOKEN", "any")
    gone = Profile(name="gone", kind="graph", auth="token", token_env="TEST_TOKEN",
                   graph_url="http://127.0.0.1:9/v1.0")

    async def main() -> None:
        async with services.open_target(gone) as target:
            await services.deleted_users(target)

    with pytest.raises(ProvisionerError) as caught:
        asyncio.run(main())
    assert str(caught.value).startswith("Graph did not answer (ConnectError")
    assert "\n" not in str(caught.value)
