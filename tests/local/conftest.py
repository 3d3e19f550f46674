"""Fixtures: a fresh local tenant served in-process over HTTP."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from provisioner.local.graph_app import graph_app


@pytest.fixture
def state(tmp_path):
    """Path of a tenant file that does not exist yet."""
    return tmp_path / "t.db"


@pytest.fixture
def client(state):
    """HTTP client for a new tenant's Graph v1.0 API."""
    app = graph_app(state)
    with TestClient(app, base_url="http://local.tenant") as c:
        yield c
    app.state.store.close()
