"""The local tenant refuses what a role's expiry rule forbids as Graph does (graph-pim-baseline P§A3:
400 RoleAssignmentRequestPolicyValidationFailed): no expiry, or an end beyond maximumDuration, when
isExpirationRequired; nothing is stored."""

from __future__ import annotations

from graph_kit import assert_error, create

GA = "62e90394-69f5-4237-9190-012177145e10"
BASE = "/v1.0/roleManagement/directory"
FAILED = 'The following policy rules failed: ["ExpirationRule"]'


def _require(client, rule: str, maximum: str) -> None:
    flt = f"scopeId eq '/' and scopeType eq 'DirectoryRole' and roleDefinitionId eq '{GA}'"
    [item] = client.get("/v1.0/policies/roleManagementPolicyAssignments", params={"$filter": flt}).json()["value"]
    resp = client.patch(f"/v1.0/policies/roleManagementPolicies/{item['policyId']}/rules/{rule}",
                        json={"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
                              "isExpirationRequired": True, "maximumDuration": maximum})
    assert resp.status_code == 204, resp.text


def _assign(client, kind: str, uid: str, expiration: dict):
    name = "roleEligibilityScheduleRequests" if kind == "eligible" else "roleAssignmentScheduleRequests"
    return client.post(f"{BASE}/{name}", json={
        "action": "adminAssign", "principalId": uid, "roleDefinitionId": GA, "directoryScopeId": "/",
        "justification": "on call", "scheduleInfo": {"expiration": expiration}})


def test_an_eligibility_beyond_the_maximum_is_refused(client):
    _require(client, "Expiration_Admin_Eligibility", "P90D")
    uid = create(client, "ann")["id"]
    assert_error(_assign(client, "eligible", uid, {"type": "afterDuration", "duration": "P91D"}), 400,
                 "RoleAssignmentRequestPolicyValidationFailed", FAILED)
    assert_error(_assign(client, "eligible", uid, {"type": "afterDateTime", "endDateTime": "2999-01-01T00:00:00Z"}),
                 400, "RoleAssignmentRequestPolicyValidationFailed", FAILED)
    assert client.get(f"{BASE}/roleEligibilitySchedules").json()["value"] == []
    assert _assign(client, "eligible", uid, {"type": "afterDuration", "duration": "P90D"}).status_code == 201


def test_an_active_assignment_rule_refuses_a_permanent_active_one(client):
    _require(client, "Expiration_Admin_Assignment", "PT8H")
    uid = create(client, "ann")["id"]
    assert_error(_assign(client, "active", uid, {"type": "noExpiration"}), 400,
                 "RoleAssignmentRequestPolicyValidationFailed", FAILED)
    assert_error(_assign(client, "active", uid, {"type": "afterDuration", "duration": "PT9H"}), 400,
                 "RoleAssignmentRequestPolicyValidationFailed", FAILED)
    assert client.get(f"{BASE}/roleAssignments", params={"$filter": f"principalId eq '{uid}'"}).json()["value"] == []
    # The eligibility rule is the other one: untouched, it lets a permanent eligibility through.
    assert _assign(client, "eligible", uid, {"type": "noExpiration"}).status_code == 201
