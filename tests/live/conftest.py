"""Targets for the live scenario: a real tenant when ``PROVISIONER_LIVE_TENANT`` names a profile of
the config, and always the local tenant served over HTTP through a ``kind = "graph"`` profile."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_cli import Cli, Target, new_prefix, sweep

from provisioner.local import init_tenant
from provisioner.local.serve import running_server

SERVED_TOKEN = "served-token-that-must-not-be-recorded"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Target]:
    state = tmp_path / "tenant.db"
    init_tenant(state, seed=7)
    with running_server(state) as url:
        config = tmp_path / "config.toml"
        config.write_text(
            '[execution]\njournal = "journal.jsonl"\n'
            '[tenants.served]\nkind = "graph"\nauth = "token"\n'
            f'graph_url = "{url}"\ntoken_env = "LIVE_TEST_TOKEN"\n', encoding="utf-8")
        # The in-process tenant's state points at another file: a command that fell back to it
        # instead of the served profile would find an empty, different tenant.
        env: dict[str, str | None] = {
            "PROVISIONER_CONFIG": str(config), "PROVISIONER_TENANT": "served", "LIVE_TEST_TOKEN": SERVED_TOKEN,
            "PROVISIONER_LOCAL_STATE": str(tmp_path / "other.db")}
        yield Target("served", Cli(env, tmp_path / "record.jsonl", patience=0), SERVED_TOKEN, None)


@pytest.fixture
def real(tmp_path: Path) -> Target:
    profile = os.environ.get("PROVISIONER_LIVE_TENANT", "").strip()
    if not profile:
        pytest.skip("PROVISIONER_LIVE_TENANT names no config profile: the real-tenant scenario is opt-in")
    record = Path(os.environ.get("PROVISIONER_LIVE_RECORD") or tmp_path / "record.jsonl")
    env: dict[str, str | None] = {"PROVISIONER_TENANT": profile}
    # Graph is eventually consistent: a real tenant may take a while to list what was just written.
    return Target("real", Cli(env, record, patience=120), None, os.environ.get("PROVISIONER_LIVE_DOMAIN"))


@pytest.fixture(params=["served", "real"])
def target(request: pytest.FixtureRequest) -> Target:
    return request.getfixturevalue(request.param)


@pytest.fixture
def prefix(target: Target) -> Iterator[str]:
    """A UPN prefix no one else uses; whatever the test leaves under it is deleted and purged after it,
    pass or fail, and a sweep that cannot finish fails the run naming what is left."""
    name = new_prefix()
    yield name
    left = sweep(target.cli, name)
    assert left == [], f"the sweep left users under {name} in the {target.name} tenant: {left}"
