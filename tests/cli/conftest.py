"""CLI tests: every command through CliRunner against a fresh local tenant in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_tenant import Tenant, make_tenant


@pytest.fixture
def tenant(tmp_path: Path) -> Tenant:
    return make_tenant(tmp_path)


@pytest.fixture
def synced_tenant(tmp_path: Path) -> Tenant:
    return make_tenant(tmp_path, seed_users=3, synced_fraction=1.0)
