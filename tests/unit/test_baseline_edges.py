"""The baseline beyond the upstream cases: ScubaGear's edge cases (verified against its Rego), the
audit's own view (not checkable when Graph did not answer, our findings beside SCuBA), and Graph's
camelCase answers shaped as ScubaGear exports them."""

from __future__ import annotations

import copy

import pytest
from test_baseline_conformance import BASE, P2W, build, drop_r1, result_of

from provisioner.audit import baseline as b
from provisioner.queries import (
    assignment_instances_request,
    eligibility_instances_request,
    privileged_users_request,
    role_policies_request,
    subscribed_skus_request,
)
from provisioner.services.audit import privileged_roles

NO_KEY = {"DisplayName": "No Key User", "roles": ["Global Administrator"]}


def test_a_user_without_the_immutable_id_key_is_not_cloud_only():
    data = build(())
    data["privileged_users"]["User3"] = NO_KEY
    r = result_of("7.3", data)
    assert (r.requirement_met, r.details) == (False, "1 admin(s) that are not cloud-only found:<br/>No Key User")


def test_two_global_admins_sharing_a_name_count_once_and_we_say_so():
    data = build(())
    for u in data["privileged_users"].values():
        u["DisplayName"] = "Same"
    r = result_of("7.1", data)
    assert (r.requirement_met, r.details) == (False, "1 global admin(s) found:<br/>Same")
    assert b.evaluate(data).findings == (b.OwnFinding(
        "SCuBA", "MS.AAD.7.1v1", "warning",
        "2 accounts hold Global Administrator but ScubaGear counts 1: it counts display names, and accounts sharing "
        "a name count once"),)


def test_start_key_missing_passes_7_5_but_pim_permanent_fails_only_7_4():
    assert result_of("7.5", build(())).requirement_met is True  # fixture R1 has no StartDateTime key
    data = build((drop_r1, lambda d: d["privileged_roles"][0]["Assignments"][0].update(EndDateTime=None)))
    assert result_of("7.5", data).requirement_met is True
    assert result_of("7.4", data).requirement_met is False


def test_rule_without_recipients_key_and_non_email_type_pass():
    data = build((drop_r1,))
    data["privileged_roles"][0]["Rules"] = [{"Id": "Notification_Admin_Admin_Assignment", "RuleSource": "x",
                                             "RuleSourceType": "Directory Role"}]
    assert result_of("7.7", data).requirement_met is True
    data["privileged_roles"][0]["Rules"] = [{"Id": "Notification_Admin_EndUser_Assignment", "RuleSource": "x",
                                             "RuleSourceType": "Directory Role", "NotificationType": "",
                                             "NotificationRecipients": []}]
    assert result_of("7.8", data).requirement_met is True
    # ScubaGear's verdict stands; ours is beside it.
    assert [f.beside for f in b.evaluate(data).findings] == ["MS.AAD.7.8v1"]


def test_p2_without_assignments_or_rules_passes_and_no_p2_warns():
    bare = {"privileged_users": {}, "privileged_roles": [{"DisplayName": "Global Administrator",
                                                          "RoleTemplateId": "x"}],
            "service_plans": copy.deepcopy(BASE["service_plans"])}
    assert [r.details for r in b.scuba(bare)][3:6] == [
        "0 role(s) that contain users with permanent active assignment",
        "0 role(s) assigned to users outside of PIM",
        "0 role(s) or group(s) allowing activation without approval found"]
    del bare["service_plans"]
    assert {(r.requirement_met, r.details) for r in b.scuba(bare)[3:]} == {(False, P2W)}


def test_no_users_and_one_ga_with_one_other():
    r1, r2 = b.scuba({"privileged_users": {}})[:2]
    assert (r1.requirement_met, r1.details) == (False, "0 global admin(s) found")
    data = {"privileged_users": {"a": {"DisplayName": "A", "roles": ["Global Administrator"]},
                                 "b": {"DisplayName": "B", "roles": ["User Administrator"]}}}
    assert b.scuba(data)[1].details == "Requirement not met: Policy MS.AAD.7.1 failed so score not computed"


def test_more_than_twenty_offenders_are_truncated():
    users = {f"u{n}": {"DisplayName": f"Admin {n:02}", "OnPremisesImmutableId": "x", "roles": []} for n in range(21)}
    r = b.scuba({"privileged_users": users})[2]
    names = ", ".join(f"Admin {n:02}" for n in range(20))
    assert r.details == ("21 admin(s) that are not cloud-only found:<br/>" + names
                         + " ...<br/>Note: The list of matching items has been truncated. Full details are available "
                         "in the JSON results.")


def test_an_excluded_id_under_users_matches_any_principal():
    data = build((drop_r1, lambda d: d["privileged_roles"][0]["Assignments"][0].update(EndDateTime=None)))
    data["scuba_config"] = b.exclusions_config(["ae71e61c-f465-4db6-8d26-5f3e52bdd800"], [])
    assert result_of("7.4", data).requirement_met is True


@pytest.mark.parametrize(("g", "n", "score"), [(2, 3, "0.66"), (1, 3, "0.33"), (100, 3, "33.3"), (2, 2, "1")])
def test_least_privilege_score_is_cut_not_rounded(g, n, score):
    assert b._score(g, n) == score


# --- the audit's view -------------------------------------------------------------------------------


def test_unreadable_data_is_not_checked_rather_than_passing():
    data = build(())
    out = b.evaluate(data, unreadable={"assignments": "Microsoft Graph did not give roleAssignmentScheduleInstances "
                                                      "(404 NotFound)"})
    assert [(r.policy_id, r.requirement_met) for r in out.results][3:5] == [("MS.AAD.7.4v1", None),
                                                                           ("MS.AAD.7.5v1", None)]
    assert out.results[3].details == ("Not checked: Microsoft Graph did not give roleAssignmentScheduleInstances "
                                      "(404 NotFound)")
    # Without P2 ScubaGear's own answer stands, whatever could be read.
    del data["service_plans"]
    out = b.evaluate(data, unreadable={"assignments": "x"})
    assert (out.results[3].requirement_met, out.results[3].details) == (False, P2W)


def test_governance_only_tenant_and_cis_approval_findings():
    data = build((drop_r1,))
    data["service_plans"] = [{"ServicePlanName": "Entra_Identity_Governance", "ServicePlanId": "e866a266"}]
    assert [f.reference for f in b.evaluate(data).findings] == ["SCuBA"]
    data = build(())
    data["privileged_roles"][0]["Rules"][0].update(Id="Approval_EndUser_Assignment")
    data["privileged_roles"][1]["Rules"][0].update(Id="Approval_EndUser_Assignment", RuleSource="PRA",
                                                   Setting={"IsApprovalRequired": False})
    texts = [(f.reference, f.text) for f in b.evaluate(data).findings]
    assert texts == [
        ("CIS 5.3.4", "Approval for Global Administrator activation names fewer than 2 approvers (CIS asks for at "
                      "least 2; ScubaGear does not check approvers): Global Administrator(Directory Role)"),
        ("CIS 5.3.5", "Activating Privileged Role Administrator does not require approval (CIS asks for it; SCuBA "
                      "only for Global Administrator)"),
    ]


# --- Graph's answers as ScubaGear's export ----------------------------------------------------------

GA = "62e90394-69f5-4237-9190-012177145e10"
DIRECT = {"id": "lAPpYvVpN0KRkAEhdxReEAWz5Gtet_xOv8wxvTtTpfg-1", "principalId": "6be4b305-0000-0000-0000-000000000000",
          "roleDefinitionId": GA, "directoryScopeId": "/", "startDateTime": None, "endDateTime": None,
          "assignmentType": "Assigned", "memberType": "Direct"}


def new_tenant_rules() -> list[dict]:
    """The rules an untouched tenant has (approval off, no recipients: P§A4.4)."""
    def notification(rid: str) -> dict:
        return {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyNotificationRule", "id": rid,
                "notificationType": "Email", "recipientType": "Admin", "notificationLevel": "All",
                "isDefaultRecipientsEnabled": True, "notificationRecipients": []}
    return [
        {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule", "id": "Approval_EndUser_Assignment",
         "setting": {"isApprovalRequired": False, "approvalStages": [{"primaryApprovers": []}]}},
        notification("Notification_Admin_Admin_Eligibility"),
        notification("Notification_Admin_Admin_Assignment"),
        notification("Notification_Admin_EndUser_Assignment"),
    ]


def test_graph_answers_of_an_untouched_p2_tenant_fail_7_4_to_7_9():
    policies = [{"roleDefinitionId": t, "policy": {"rules": new_tenant_rules()}} for t in b.HIGHLY_PRIVILEGED.values()]
    data = {"privileged_users": {}, "privileged_roles": privileged_roles([DIRECT], policies),
            "service_plans": [{"ServicePlanName": "AAD_PREMIUM_P2", "ServicePlanId": "eec0eb4f"}]}
    out = {r.policy_id: (r.requirement_met, r.details) for r in b.scuba(data)}
    others = sorted(f"{n}(Directory Role)" for n in b.HIGHLY_PRIVILEGED if n != "Global Administrator")
    everyone = sorted(f"{n}(Directory Role)" for n in b.HIGHLY_PRIVILEGED)
    assert out["MS.AAD.7.4v1"] == (False, "1 role(s) that contain users with permanent active assignment:<br/>"
                                          "Global Administrator")
    assert out["MS.AAD.7.5v1"] == (False, "1 role(s) assigned to users outside of PIM:<br/>Global Administrator")
    assert out["MS.AAD.7.6v1"] == (False, "1 role(s) or group(s) allowing activation without approval found:<br/>"
                                          "Global Administrator(Directory Role)")
    assert out["MS.AAD.7.7v1"] == (False, "8 role(s) or group(s) without notification e-mail configured for role "
                                          "assignments found:<br/>" + ", ".join(everyone))
    assert out["MS.AAD.7.8v1"] == (False, "1 role(s) or group(s) without notification e-mail configured for Global "
                                          "Administrator activations found:<br/>Global Administrator(Directory Role)")
    assert out["MS.AAD.7.9v1"] == (False, "7 role(s) or group(s) without notification e-mail configured for role "
                                          "activations found:<br/>" + ", ".join(others))


def test_the_baseline_requests():
    assert assignment_instances_request("a").url == "/roleManagement/directory/roleAssignmentScheduleInstances"
    assert eligibility_instances_request("e").url == "/roleManagement/directory/roleEligibilityScheduleInstances"
    assert role_policies_request("r").url == (
        "/policies/roleManagementPolicyAssignments?$filter=scopeId%20eq%20%27%2F%27%20and%20scopeType%20eq%20"
        "%27DirectoryRole%27&$expand=policy($expand=rules)")
    assert subscribed_skus_request("s").url == "/subscribedSkus?$select=skuPartNumber,capabilityStatus,servicePlans"
    assert privileged_users_request("p", ["a", "b"]).url == (
        "/users?$select=id,displayName,onPremisesImmutableId&$filter=id%20in%20%28%27a%27%2C%27b%27%29")
