"""`local init --no-p2` and `local clock advance` meeting PIM (graph-pim-baseline P§A3, P§A1.5)."""

from __future__ import annotations

from click.testing import CliRunner
from starlette.testclient import TestClient

from provisioner.cli.local import local
from provisioner.local.graph_app import graph_app

BASE = "/v1.0/roleManagement/directory"
BILLING = "b0f54661-2d74-4c50-afa3-1ec803f12efe"


def invoke(*args: str):
    return CliRunner().invoke(local, list(args), catch_exceptions=False)


def _client(state):
    return TestClient(graph_app(state), base_url="http://local.tenant")


def test_no_p2_tenant_answers_the_licence_error_and_p2_gives_it_back(tmp_path):
    state = tmp_path / "t.db"
    assert invoke("init", "--state", str(state), "--no-p2").exit_code == 0
    with _client(state) as client:
        resp = client.get(f"{BASE}/roleAssignmentScheduleInstances")
        assert resp.status_code == 400
        assert resp.json()["error"]["code"] == "AadPremiumLicenseRequired"
    assert invoke("init", "--state", str(state), "--p2").exit_code == 0
    with _client(state) as client:
        [admin] = client.get(f"{BASE}/roleAssignmentScheduleInstances").json()["value"]
        assert (admin["startDateTime"], admin["endDateTime"]) == (None, None)


def test_clock_advance_ends_an_eligibility(tmp_path):
    state = tmp_path / "t.db"
    invoke("init", "--state", str(state))
    with _client(state) as client:
        admin = client.get("/v1.0/users/admin@contoso.onmicrosoft.com").json()["id"]
        body = {"action": "adminAssign", "principalId": admin, "roleDefinitionId": BILLING, "directoryScopeId": "/",
                "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "P30D"}}}
        assert client.post(f"{BASE}/roleEligibilityScheduleRequests", json=body).status_code == 201
    assert invoke("clock", "advance", "31d", "--state", str(state)).exit_code == 0
    with _client(state) as client:
        assert client.get(f"{BASE}/roleEligibilityScheduleInstances").json()["value"] == []
