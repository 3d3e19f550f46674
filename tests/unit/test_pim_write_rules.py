"""Two rules about PIM writes, on plain data: which credentials act as an application (a PIM rule
PATCH is delegated-only, P§A4.3, A5), and the start a schedule request is sent with (P§A1.2, A2.1)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from provisioner.config import Profile
from provisioner.graph import Request
from provisioner.local.permissions import unsigned_token
from provisioner.queries import policy_rule_request, schedule_request, starting_now
from provisioner.services.fixes import app_only

NOW = datetime(2026, 1, 1, 12, 0, 30, 500000, tzinfo=UTC)
USER = "00000000-0000-0000-0000-00000000000a"
GA = "62e90394-69f5-4237-9190-012177145e10"


@pytest.mark.parametrize(("auth", "expected"), [
    ("certificate", True), ("secret", True), ("workload-identity", True), ("github-oidc", True),
    ("managed-identity", True), ("azure-cli", False), ("device-code", False), ("browser", False)])
def test_auth_methods_that_act_as_an_application(auth, expected):
    assert app_only(Profile("p", kind="graph", auth=auth)) is expected


def test_a_static_token_is_judged_by_its_claims(monkeypatch):
    profile = Profile("p", kind="graph", auth="token", token_env="FIXQ_TOKEN")
    for claims, expected in (({"roles": ["RoleManagement.ReadWrite.Directory"]}, True),
                             ({"scp": "RoleManagement.ReadWrite.Directory", "roles": []}, False)):
        monkeypatch.setenv("FIXQ_TOKEN", unsigned_token(claims))
        assert app_only(profile) is expected
    monkeypatch.setenv("FIXQ_TOKEN", "not-a-jwt")
    assert app_only(profile) is False  # nothing to tell from: Graph says what it refuses
    assert app_only(Profile("local")) is False


def test_a_schedule_request_gets_the_start_when_sent():
    assign = schedule_request("1", "adminAssign", USER, GA, eligible=True, duration="P30D")
    assert starting_now(assign, NOW).body["scheduleInfo"] == {
        "startDateTime": "2026-01-01T12:00:30Z", "expiration": {"type": "afterDuration", "duration": "P30D"}}
    assert assign.body["scheduleInfo"] == {"expiration": {"type": "afterDuration", "duration": "P30D"}}
    given = Request("2", "POST", "/roleManagement/directory/roleAssignmentScheduleRequests",
                    {"action": "adminAssign", "scheduleInfo": {"startDateTime": "2027-01-01T00:00:00Z"}})
    remove = schedule_request("3", "adminRemove", USER, GA, eligible=False)
    rule = policy_rule_request("4", "DirectoryRole_x_y", "Notification_Admin_Admin_Assignment", "#t",
                               {"scheduleInfo": {}})
    for unchanged in (given, remove, rule):
        assert starting_now(unchanged, NOW) is unchanged
