"""PIM role settings in the local tenant (graph-pim-baseline P§A4): policies, 17 rules, PATCH."""

from __future__ import annotations

from graph_kit import assert_error

GA = "62e90394-69f5-4237-9190-012177145e10"
ASSIGNMENTS = "/v1.0/policies/roleManagementPolicyAssignments"
SCOPE = "scopeId eq '/' and scopeType eq 'DirectoryRole'"
NOTIFY = "#microsoft.graph.unifiedRoleManagementPolicyNotificationRule"


def _ga_policy(client, flt: str = f"{SCOPE} and roleDefinitionId eq '{GA}'") -> dict:
    resp = client.get(ASSIGNMENTS, params={"$filter": flt, "$expand": "policy($expand=rules)"})
    assert resp.status_code == 200, resp.text
    [item] = resp.json()["value"]
    return item


def test_policy_assignment_shape_and_new_tenant_rules(client):
    item = _ga_policy(client)
    assert item["id"] == f"{item['policyId']}_{GA}"
    assert item["policyId"].startswith("DirectoryRole_")
    assert (item["scopeId"], item["scopeType"], item["roleDefinitionId"]) == ("/", "DirectoryRole", GA)
    rules = {r["id"]: r for r in item["policy"]["rules"]}
    assert len(rules) == 17
    assert rules["Approval_EndUser_Assignment"]["setting"]["isApprovalRequired"] is False
    assert rules["Notification_Admin_Admin_Eligibility"]["@odata.type"] == NOTIFY
    assert all(r["notificationRecipients"] == [] for r in rules.values() if r["@odata.type"] == NOTIFY)
    assert rules["Expiration_Admin_Assignment"]["maximumDuration"] == "P180D"


def test_directory_scope_type_changes_the_prefix(client):
    item = _ga_policy(client, f"scopeId eq '/' and scopeType eq 'Directory' and roleDefinitionId eq '{GA}'")
    assert item["policyId"].startswith("Directory_")


def test_the_scope_filter_is_required(client):
    assert_error(client.get(ASSIGNMENTS), 400, "Request_BadRequest")
    assert_error(client.get(ASSIGNMENTS, params={"$filter": "scopeId eq '/'"}), 400, "Request_BadRequest")


def test_patch_a_rule_answers_204_and_sticks(client):
    pid = _ga_policy(client)["policyId"]
    url = f"/v1.0/policies/roleManagementPolicies/{pid}/rules/Notification_Admin_Admin_Assignment"
    resp = client.patch(url, json={"@odata.type": NOTIFY, "notificationRecipients": ["sec@contoso.com"]})
    assert resp.status_code == 204, resp.text
    assert client.get(url).json()["notificationRecipients"] == ["sec@contoso.com"]
    rules = client.get(f"/v1.0/policies/roleManagementPolicies/{pid}/rules").json()["value"]
    assert len(rules) == 17


def test_patch_needs_the_type_and_the_policy_id(client):
    pid = _ga_policy(client)["policyId"]
    rule = "Expiration_Admin_Assignment"
    assert_error(client.patch(f"/v1.0/policies/roleManagementPolicies/{pid}/rules/{rule}",
                              json={"isExpirationRequired": True}), 400, "BadRequest",
                 "The property 'isExpirationRequired' does not exist on type "
                 "'microsoft.graph.unifiedRoleManagementPolicyRule'. Make sure to only use property names that are "
                 "defined by the type or mark the type as open type.")
    # The role definition id is not a policy id (P§A4.3).
    assert_error(client.patch(f"/v1.0/policies/roleManagementPolicies/{GA}/rules/{rule}",
                              json={"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
                                    "isExpirationRequired": True}), 404, "Request_ResourceNotFound")


def test_an_expiry_rule_refuses_a_permanent_assignment(client):
    from graph_kit import create

    pid = _ga_policy(client)["policyId"]
    client.patch(f"/v1.0/policies/roleManagementPolicies/{pid}/rules/Expiration_Admin_Eligibility",
                 json={"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
                       "isExpirationRequired": True, "maximumDuration": "P90D"})
    uid = create(client, "ann")["id"]
    body = {"action": "adminAssign", "principalId": uid, "roleDefinitionId": GA, "directoryScopeId": "/"}
    url = "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests"
    assert_error(client.post(url, json=body), 400, "RoleAssignmentRequestPolicyValidationFailed",
                 'The following policy rules failed: ["ExpirationRule"]')
    body["scheduleInfo"] = {"expiration": {"type": "afterDuration", "duration": "P90D"}}
    assert client.post(url, json=body).status_code == 201
