"""Every case of ScubaGear's own unit tests for MS.AAD.7 (Testing/Unit/Rego/AAD/AADConfig_07_test.rego,
on the fixtures of AADBaseConfig.rego), replayed against our evaluator: the same RequirementMet and
the same ReportDetails, word for word. Each case is named as upstream names it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from provisioner.audit import baseline as b

GA_HOLDER = "ae71e61c-f465-4db6-8d26-5f3e52bdd800"
R1_HOLDER = "e54ac846-1f5a-4afe-aa69-273b42c3b0c1"
NOT_HOLDER = "7b36d094-0211-400b-aabd-3793e9a30fc6"
SECOND_GA = "38035edd-63a1-4c08-8bd2-ad78d0624057"
MAIL = ["test@example.com"]
GA_SRC = {"RuleSource": "Global Administrator", "RuleSourceType": "Directory Role"}

BASE: dict[str, Any] = {
    "privileged_users": {
        "User1": {"DisplayName": "Test Name 1", "OnPremisesImmutableId": None,
                  "roles": ["Privileged Role Administrator", "Global Administrator"]},
        "User2": {"DisplayName": "Test Name 2", "OnPremisesImmutableId": None, "roles": ["Global Administrator"]},
    },
    "privileged_roles": [
        {"RoleTemplateId": "Role1", "DisplayName": "Global Administrator",
         "Assignments": [{"StartDateTime": "/Date(1660328610000)/", "EndDateTime": "/Date(1691006065170)/",
                          "PrincipalId": GA_HOLDER}],
         "Rules": [
             {"Id": "Expiration_Admin_Assignment", **GA_SRC, "IsExpirationRequired": True, "MaximumDuration": "P30D",
              "Setting": {"IsApprovalRequired": True}, "NotificationType": "Email", "NotificationRecipients": MAIL},
             {"Id": "Notification_Admin_Admin_Eligibility", **GA_SRC, "NotificationType": "Email",
              "NotificationRecipients": MAIL},
         ]},
        {"RoleTemplateId": "Role2", "DisplayName": "Privileged Role Administrator",
         "Assignments": [{"EndDateTime": "/Date(1691006065170)/", "PrincipalId": R1_HOLDER}],
         "Rules": [{"Id": "Expiration_Admin_Assignment", "RuleSource": "Privileged Role Administrator",
                    "RuleSourceType": "Directory Role", "IsExpirationRequired": True, "MaximumDuration": "P30D",
                    "Setting": {"IsApprovalRequired": True}, "NotificationRecipients": MAIL}]},
    ],
    "service_plans": [
        {"ServicePlanName": "EXCHANGE_S_FOUNDATION", "ServicePlanId": "113feb6c-3fe4-4440-bddc-54d774bf0318"},
        {"ServicePlanName": "AAD_PREMIUM_P2", "ServicePlanId": "c7d91867-e1ce-4402-8d4f-22188b44b6c2"},
    ],
    "scuba_config": b.exclusions_config([], []),
}

P2W = b.P2_WARNING
PERM74 = "role(s) that contain users with permanent active assignment"
ONE_GA_74 = f"1 {PERM74}:<br/>Global Administrator"
TWO_74 = f"2 {PERM74}:<br/>Application Administrator, Global Administrator"
APPROVAL = "role(s) or group(s) allowing activation without approval found"
ASSIGN_MAIL = "role(s) or group(s) without notification e-mail configured for role assignments found"
GA_ACT = "role(s) or group(s) without notification e-mail configured for Global Administrator activations found"
ACT = "role(s) or group(s) without notification e-mail configured for role activations found"

Edit = Callable[[dict[str, Any]], None]


def user(n: int, *roles: str) -> dict[str, Any]:
    return {"DisplayName": f"Test Name {n}", "OnPremisesImmutableId": None, "roles": list(roles)}


def users(*edits: Edit) -> Edit:
    def go(d: dict[str, Any]) -> None:
        for e in edits:
            e(d["privileged_users"])
    return go


def r0(d):
    return d["privileged_roles"][0]


def r1(d):
    return d["privileged_roles"][1]


def drop_r1(d):
    del d["privileged_roles"][1]


def r0_end_null(d):
    r0(d)["Assignments"][0]["EndDateTime"] = None


def r1_app_admin(d):
    r1(d)["DisplayName"] = "Application Administrator"


def r1_end_null(d):
    r1(d)["Assignments"][0]["EndDateTime"] = None


def second_ga(d):
    r0(d)["Assignments"].append({"EndDateTime": None, "PrincipalId": SECOND_GA})


def excl(users_=(), groups=()) -> Edit:
    def go(d):
        d["scuba_config"] = b.exclusions_config(list(users_), list(groups))
    return go


def no_plans(d):
    del d["service_plans"]


def no_p2(d):
    d["service_plans"] = [p for p in d["service_plans"] if p["ServicePlanName"] != "AAD_PREMIUM_P2"]


def rule0(**values) -> Edit:
    def go(d):
        r0(d)["Rules"][0].update(values)
    return go


def rule1(**values) -> Edit:
    def go(d):
        r0(d)["Rules"][1].update(values)
    return go


def approval(required: bool) -> dict[str, Any]:
    return {"Id": "Approval_EndUser_Assignment", "Setting": {"IsApprovalRequired": required}}


def more_gas(d):
    for n in range(3, 10):
        d["privileged_users"][f"User{n}"] = {"DisplayName": f"Test Name {n}", "roles": ["Global Administrator"]}


V16 = (r0_end_null, drop_r1)
V17 = (r0_end_null, r1_app_admin)
V18 = (r0_end_null, r1_app_admin, r1_end_null)
V19 = (*V18, second_ga)


def notif37(d):
    drop_r1(d)
    r0(d)["RoleTemplateId"] = "1D2EE3F0-90D3-4764-8AF8-BE81FE9D4D71"
    r0(d)["Rules"][0]["Id"] = "Notification_Admin_Admin_Assignment"


def pim_group_assignment_rules(d):
    for rid in ("Notification_Admin_Admin_Assignment", "Notification_Admin_Admin_Eligibility"):
        r0(d)["Rules"].append({"Id": rid, "RuleSource": "My PIM GRoup", "RuleSourceType": "PIM Group",
                               "NotificationType": "Email", "NotificationRecipients": []})


def enduser_rule(source: str = "Global Administrator", kind: str = "Directory Role", ntype: str = "Email",
                 recipients=MAIL) -> dict[str, Any]:
    return {"Id": "Notification_Admin_EndUser_Assignment", "RuleSource": source, "RuleSourceType": kind,
            "NotificationType": ntype, "NotificationRecipients": list(recipients)}


def ga_rules(*rules) -> Edit:
    def go(d):
        r0(d)["Rules"] = list(rules)
    return go


def cloud_admin(d):
    drop_r1(d)
    r0(d)["DisplayName"] = "Cloud Administrator"


def case48(d):
    r0(d)["DisplayName"] = "Cloud Administrator"
    r0(d)["Rules"][0]["Id"] = "Cloud Administrator"
    r1(d)["DisplayName"] = "Cloud Administrator 2"
    r1(d)["Rules"][0].update(RuleSource="My PIM Group", RuleSourceType="PIM Group")


def case49(d):
    cloud_admin(d)
    r0(d)["Rules"][0] = enduser_rule("Cloud Administrator", recipients=[])


def case50(d):
    case49(d)
    r0(d)["Rules"][1].update(Id="Notification_Admin_EndUser_Assignment", RuleSource="MY PIM Group",
                             RuleSourceType="PIM Group")


def case33(d):
    r1(d)["DisplayName"] = "Groups Administrator"
    r1(d)["Rules"][0].update(approval(False))
    r0(d)["Rules"][0].update(approval(True))


def case35(d):
    r1(d)["DisplayName"] = "Global Administrator"
    r1(d)["Rules"][0].update(approval(False), RuleSource="My PIM GROUP", RuleSourceType="PIM Group")
    r0(d)["Rules"][0].update(approval(True))


# (name, policy, edits, requirementMet, details)
CASES: list[tuple[str, str, tuple[Edit, ...], bool, str]] = [
    ("test_PrivilegedUsers_Correct", "7.1", (), True, "2 global admin(s) found:<br/>Test Name 1, Test Name 2"),
    ("test_PrivilegedUsers_Incorrect_V1", "7.1", (users(lambda u: u.pop("User2")),), False,
     "1 global admin(s) found:<br/>Test Name 1"),
    ("test_PrivilegedUsers_Incorrect_V2", "7.1", (more_gas,), False,
     "9 global admin(s) found:<br/>" + ", ".join(f"Test Name {n}" for n in range(1, 10))),
    ("test_SecureScore_Correct_V1", "7.2",
     (users(lambda u: u["User2"].update(roles=["Cloud Application Administrator", "Global Administrator"]),
            lambda u: u.update(User3=user(3, "Application Administrator"), User4=user(4, "User Administrator"),
                               User5=user(5, "Privileged Role Administrator"))),), True,
     "Requirement met: Least Privilege Score = 0.66 (should be 1 or less)\n"
     "Calculated by 2 global admins / 3 privileged users without global admin role"),
    ("test_SecureScore_Correct_V2", "7.2",
     (users(lambda u: u["User2"].update(roles=["User Administrator", "Global Administrator"]),
            lambda u: u.update(User3=user(3, "Application Administrator"),
                               User4=user(4, "Privileged Role Administrator"))),), True,
     "Requirement met: Least Privilege Score = 1 (should be 1 or less)\n"
     "Calculated by 2 global admins / 2 privileged users without global admin role"),
    ("test_SecureScore_Incorrect_V2", "7.2",
     (users(lambda u: u["User2"].update(roles=["Application Administrator", "Global Administrator"]),
            lambda u: u["User1"].update(roles=["User Administrator", "Global Administrator"]),
            lambda u: u.update(User3=user(3, "Privileged Role Administrator"))),), False,
     "Requirement not met: Least Privilege Score = 2 (should be 1 or less)\n"
     "Calculated by 2 global admins / 1 privileged users without global admin role"),
    ("test_SecureScore_Incorrect_V3", "7.2",
     (users(lambda u: u["User2"].update(roles=["User Administrator", "Global Administrator"]),
            lambda u: u.update(User3=user(3, "Hybrid Identity Administrator", "Global Administrator"))),), False,
     "Requirement not met: All privileged users are Global Admin"),
    ("test_SecureScore_Incorrect_V4", "7.2",
     (users(lambda u: u["User2"].update(roles=["Exchange Administrator", "Global Administrator"])), more_gas), False,
     "Requirement not met: Policy MS.AAD.7.1 failed so score not computed"),
    ("test_OnPremisesImmutableId_Correct", "7.3", (), True, "0 admin(s) that are not cloud-only found"),
    ("test_OnPremisesImmutableId_Incorrect_V1", "7.3",
     (users(lambda u: u["User1"].update(OnPremisesImmutableId="HelloWorld"), lambda u: u.pop("User2")),), False,
     "1 admin(s) that are not cloud-only found:<br/>Test Name 1"),
    ("test_OnPremisesImmutableId_Incorrect_V2", "7.3",
     (users(lambda u: u["User1"].update(OnPremisesImmutableId="HelloWorld"),
            lambda u: u["User2"].update(OnPremisesImmutableId=None)),), False,
     "1 admin(s) that are not cloud-only found:<br/>Test Name 1"),
    ("test_AdditionalProperties_Correct_V1", "7.4", (), True, f"0 {PERM74}"),
    ("test_AdditionalProperties_Correct_V2", "7.4", (*V16, excl([GA_HOLDER])), True, f"0 {PERM74}"),
    ("test_AdditionalProperties_Correct_V3", "7.4", (*V16, excl(groups=[GA_HOLDER])), True, f"0 {PERM74}"),
    ("test_AdditionalProperties_LicenseMissing_V1", "7.4", (*V17, excl(groups=[GA_HOLDER]), no_plans), False, P2W),
    ("test_AdditionalProperties_Incorrect_V1", "7.4", V16, False, ONE_GA_74),
    ("test_AdditionalProperties_Incorrect_V2", "7.4", V17, False, ONE_GA_74),
    ("test_AdditionalProperties_Incorrect_V3", "7.4", V18, False, TWO_74),
    ("test_AdditionalProperties_Incorrect_V4", "7.4", V19, False, TWO_74),
    ("test_AdditionalProperties_Incorrect_V5", "7.4", (*V16, excl([NOT_HOLDER])), False, ONE_GA_74),
    ("test_AdditionalProperties_Incorrect_V6", "7.4", (*V17, excl([NOT_HOLDER])), False, ONE_GA_74),
    ("test_AdditionalProperties_Incorrect_V7", "7.4", (*V18, excl([NOT_HOLDER])), False, TWO_74),
    ("test_AdditionalProperties_Incorrect_V8", "7.4", (*V19, excl([NOT_HOLDER])), False, TWO_74),
    ("test_AdditionalProperties_Incorrect_V9", "7.4", (*V17, excl([R1_HOLDER])), False, ONE_GA_74),
    ("test_AdditionalProperties_Incorrect_V10", "7.4", (*V16, excl(groups=[NOT_HOLDER])), False, ONE_GA_74),
    ("test_AdditionalProperties_Incorrect_V11", "7.4", (*V17, excl(groups=[NOT_HOLDER])), False, ONE_GA_74),
    ("test_AdditionalProperties_Incorrect_V12", "7.4", (*V18, excl(groups=[NOT_HOLDER])), False, TWO_74),
    ("test_AdditionalProperties_Incorrect_V13", "7.4", (*V19, excl(groups=[NOT_HOLDER])), False, TWO_74),
    ("test_AdditionalProperties_Incorrect_V14", "7.4", (*V17, excl(groups=[R1_HOLDER])), False, ONE_GA_74),
    ("test_Assignments_Correct", "7.5", (drop_r1,), True, "0 role(s) assigned to users outside of PIM"),
    ("test_Assignments_Incorrect", "7.5",
     (lambda d: r0(d)["Assignments"][0].update(StartDateTime=None), drop_r1), False,
     "1 role(s) assigned to users outside of PIM:<br/>Global Administrator"),
    ("test_AdditionalProperties_Correct_V4", "7.6", (drop_r1,), True, f"0 {APPROVAL}"),
    ("test_AdditionalProperties_Correct_V5", "7.6", (case33,), True, f"0 {APPROVAL}"),
    ("test_AdditionalProperties_Incorrect_V15", "7.6", (drop_r1, rule0(**approval(False))), False,
     f"1 {APPROVAL}:<br/>Global Administrator(Directory Role)"),
    ("test_PIM_Group_Incorrect_V15", "7.6", (case35,), False, f"1 {APPROVAL}:<br/>My PIM GROUP(PIM Group)"),
    ("test_NoP2License_Incorrect", "7.6", (drop_r1, rule0(**approval(False)), no_p2), False, P2W),
    ("test_notificationRecipients_Correct", "7.7", (notif37,), True, f"0 {ASSIGN_MAIL}"),
    ("test_notificationRecipients_Incorrect_V1", "7.7", (notif37, rule0(NotificationRecipients=[])), False,
     f"1 {ASSIGN_MAIL}:<br/>Global Administrator(Directory Role)"),
    ("test_notificationRecipients_Incorrect_V2", "7.7", (notif37, rule1(NotificationRecipients=[])), False,
     f"1 {ASSIGN_MAIL}:<br/>Global Administrator(Directory Role)"),
    ("test_notificationRecipients_Incorrect_V3", "7.7",
     (notif37, rule0(NotificationRecipients=[]), rule1(NotificationRecipients=[])), False,
     f"1 {ASSIGN_MAIL}:<br/>Global Administrator(Directory Role)"),
    ("test_notificationRecipients_PIM_Incorrect_V3", "7.7",
     (notif37, rule0(NotificationRecipients=[]), rule1(NotificationRecipients=[]), pim_group_assignment_rules), False,
     f"2 {ASSIGN_MAIL}:<br/>Global Administrator(Directory Role), My PIM GRoup(PIM Group)"),
    ("test_Id_Correct_V1", "7.8", (drop_r1, ga_rules(enduser_rule())), True, f"0 {GA_ACT}"),
    ("test_Id_Correct_V2", "7.8", (drop_r1, ga_rules(enduser_rule(ntype=""))), True, f"0 {GA_ACT}"),
    ("test_Id_PIM_Correct_V2", "7.8",
     (ga_rules(enduser_rule(ntype=""), enduser_rule("My PIM Group", "PIM Group", ntype="")),), True, f"0 {GA_ACT}"),
    ("test_Id_PIM_Incorrect_V2", "7.8",
     (ga_rules(enduser_rule(), enduser_rule("My PIM Group", "PIM Group", recipients=[])),), False,
     f"1 {GA_ACT}:<br/>My PIM Group(PIM Group)"),
    ("test_Id_Incorrect", "7.8", (drop_r1, ga_rules(enduser_rule(recipients=[]))), False,
     f"1 {GA_ACT}:<br/>Global Administrator(Directory Role)"),
    ("test_DisplayName_Correct", "7.9", (cloud_admin, rule0(Id="Cloud Administrator")), True, f"0 {ACT}"),
    ("test_DisplayName_PIM_Correct", "7.9", (case48,), True, f"0 {ACT}"),
    ("test_DisplayName_Incorrect", "7.9", (case49,), False, f"1 {ACT}:<br/>Cloud Administrator(Directory Role)"),
    ("test_DisplayName_PIM_Incorrect", "7.9", (case50,), False, f"1 {ACT}:<br/>Cloud Administrator(Directory Role)"),
]


def build(edits: tuple[Edit, ...]) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    for e in edits:
        e(data)
    return data


def result_of(policy: str, data: dict[str, Any]) -> b.PolicyResult:
    wanted = f"MS.AAD.{policy}v1"
    return next(r for r in b.scuba(data) if r.policy_id == wanted)


def test_the_table_holds_every_upstream_case() -> None:
    names = [c[0] for c in CASES]
    assert len(CASES) == 50 and len(set(names)) == 50


@pytest.mark.parametrize(("policy", "edits", "met", "details"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_upstream_case(policy: str, edits: tuple[Edit, ...], met: bool, details: str) -> None:
    result = result_of(policy, build(edits))
    assert (result.requirement_met, result.details) == (met, details)
