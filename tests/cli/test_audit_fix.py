"""``provisioner audit --fix-plan`` end to end on a local tenant: an untouched tenant with Entra ID P2 and a
few admins fails SCuBA MS.AAD.7.4-7.9; the fix plan, applied, makes them pass; 7.1-7.3 are listed with
their commands. Also: the plan's text, its file's strictness for policy-rule changes, edited and stale
plans refused with the tenant untouched, protected accounts and the last active Global Administrator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import plan_editor
import pytest
from cli_tenant import DOMAIN, Tenant, make_tenant

from provisioner.errors import ExitCode

GLOBAL = "62e90394-69f5-4237-9190-012177145e10"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
APP_ADMIN = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
ADMIN, BREAKGLASS, HELPER, APPROVER = (f"{n}@{DOMAIN}" for n in ("admin", "breakglass", "helper", "approver"))
SEC = "sec@contoso.com"
PIM = ("MS.AAD.7.4v1", "MS.AAD.7.5v1", "MS.AAD.7.6v1", "MS.AAD.7.7v1", "MS.AAD.7.8v1", "MS.AAD.7.9v1")


def results(t: Tenant) -> dict[str, bool | None]:
    return {r["policyId"]: r["requirementMet"] for r in t.json("audit")["baseline"]["results"]}


def rules(t: Tenant, role: str) -> dict[str, dict]:
    return {r["id"]: r for r in t.role_policy(role)["rules"]}


def holdings(t: Tenant, upn: str) -> str:
    return next(line for line in t.ok("users", "show", upn).stdout.splitlines() if line.startswith("Assignments"))


@pytest.fixture
def tenant(tmp_path: Path) -> Tenant:
    """The seed Global Administrator (admin@, assigned directly: outside PIM), a break-glass Global
    Administrator assigned through PIM (active, permanent), a User Administrator (given with the user:
    through PIM, permanent), and the approver-to-be."""
    t = make_tenant(tmp_path, seed_users=2)
    t.create("breakglass")
    t.ok("roles", "assign", BREAKGLASS, "global", "--yes")
    t.create("helper", "user")
    t.create("approver")
    return t


def protect_breakglass(t: Tenant) -> str:
    oid = t.users()[BREAKGLASS]["id"]
    t.config.write_text(f'[execution]\njournal = "journal.jsonl"\n[safety]\nprotected_accounts = ["{BREAKGLASS}"]\n'
                        f'[audit.scuba]\nexcluded_users = ["{oid}"]\n', encoding="utf-8")
    return oid


def fix(t: Tenant, *args: str) -> Any:
    return t.ok("audit", "--fix-plan", str(t.root / "plan.json"), *args)


def test_fix_plan_applied_meets_7_4_to_7_9_and_lists_7_1_to_7_3(tenant):
    protect_breakglass(tenant)
    assert {p: met for p, met in results(tenant).items() if p in PIM} == dict.fromkeys(PIM, False)
    made = fix(tenant, "--notify", SEC, "--approver", APPROVER)
    lines = made.stdout.splitlines()
    assert lines[lines.index("CISA SCuBA baseline (MS.AAD.7) fixes: 6 planned, 1 not planned, 2 met"):] == [
        "CISA SCuBA baseline (MS.AAD.7) fixes: 6 planned, 1 not planned, 2 met",
        "  MS.AAD.7.1v1 met",
        "  MS.AAD.7.2v1 not planned: who holds which role is for people to choose: give finer-grained roles instead "
        "of Global Administrator (Breakglass, MOD Administrator)",
        "      -> provisioner roles assign USER ROLE --eligible",
        "      -> provisioner roles revoke USER global",
        "  MS.AAD.7.3v1 met",
        f"  MS.AAD.7.4v1 planned: 2 active assignment(s) become eligible through PIM (Global Administrator: {ADMIN}, "
        f"User Administrator: {HELPER})",
        # Only admin's was made outside PIM: helper's User Administrator is not a 7.5 offender.
        f"  MS.AAD.7.5v1 planned: 1 active assignment(s) become eligible through PIM (Global Administrator: {ADMIN})",
        f"  MS.AAD.7.6v1 planned: activating Global Administrator requires approval by {APPROVER}",
        f"  MS.AAD.7.7v1 planned: 16 alert rule(s) of 8 role(s) get {SEC}",
        f"  MS.AAD.7.8v1 planned: 1 alert rule(s) of 1 role(s) get {SEC}",
        f"  MS.AAD.7.9v1 planned: 7 alert rule(s) of 7 role(s) get {SEC}",
    ]
    assert "Plan: 25 PIM role settings to change, 2 role assignments to add, 2 role assignments to remove." \
        in made.stdout
    assert made.stderr.endswith(f"apply it with: provisioner apply {tenant.root / 'plan.json'}\n")
    assert results(tenant)["MS.AAD.7.4v1"] is False  # a fix plan writes nothing

    applied = tenant.ok("apply", str(tenant.root / "plan.json"), "--yes")
    assert "Applied 29 of 29 change(s)" in applied.stderr
    assert results(tenant) == {"MS.AAD.7.1v1": True, "MS.AAD.7.2v1": False, "MS.AAD.7.3v1": True,
                               **dict.fromkeys(PIM, True)}
    # The break-glass account (protected) stays active; the others hold their roles eligible.
    assert holdings(tenant, BREAKGLASS).split(None, 1)[1] == "Global Administrator: active permanent"
    assert holdings(tenant, ADMIN).split(None, 1)[1] == "Global Administrator: permanently eligible"
    assert holdings(tenant, HELPER).split(None, 1)[1] == "User Administrator: permanently eligible"
    approval = rules(tenant, GLOBAL)["Approval_EndUser_Assignment"]["setting"]
    approver_id = tenant.users()[APPROVER]["id"]
    assert approval["isApprovalRequired"] is True
    assert approval["approvalStages"][0]["primaryApprovers"] == [
        {"@odata.type": "#microsoft.graph.singleUser", "userId": approver_id}]
    assert rules(tenant, APP_ADMIN)["Notification_Admin_EndUser_Assignment"]["notificationRecipients"] == [SEC]
    # Made again, the plan is empty: it converged.
    again = fix(tenant, "--notify", SEC, "--approver", APPROVER)
    assert again.stdout.startswith("No changes. The tenant already matches.\n")
    assert "fixes: 1 not planned, 8 met" in again.stdout


def test_plan_text_of_an_approval_and_the_last_global_administrator_kept_active(tmp_path):
    t = make_tenant(tmp_path)
    t.create("approver")
    made = fix(t, "--approver", APPROVER)
    assert made.stdout.splitlines() == [
        "Changes are marked: ~ change PIM role setting",
        "",
        "  # the PIM rule Approval_EndUser_Assignment of role Global Administrator will change (MS.AAD.7.6: "
        "activating Global Administrator requires approval)",
        "  ~ Global Administrator: activation requires approval = false -> true",
        f'  ~ Global Administrator: activation approvers = [] -> ["{APPROVER}"]',
        "",
        "Plan: 1 PIM role setting to change.",
        "",
        "CISA SCuBA baseline (MS.AAD.7) fixes: 1 planned, 7 not planned, 1 met",
        "  MS.AAD.7.1v1 not planned: who holds Global Administrator is for people to choose: 1 hold it "
        "(MOD Administrator); 2 to 8 wanted",
        "      -> provisioner roles assign USER global --eligible",
        "  MS.AAD.7.2v1 not planned: who holds which role is for people to choose: give finer-grained roles instead "
        "of Global Administrator (MOD Administrator)",
        "      -> provisioner roles assign USER ROLE --eligible",
        "      -> provisioner roles revoke USER global",
        "  MS.AAD.7.3v1 met",
        f"  MS.AAD.7.4v1 not planned: {ADMIN} keeps Global Administrator active: the last active Global "
        "Administrator(s)",
        "      -> list each break-glass account's object id in [audit.scuba] excluded_users",
        f"  MS.AAD.7.5v1 not planned: {ADMIN} keeps Global Administrator active: the last active Global "
        "Administrator(s)",
        "      -> grant those roles again through PIM: provisioner roles revoke USER ROLE --active, then provisioner "
        "roles assign USER ROLE --permanent (for Global Administrator, with another active one in place first)",
        f"  MS.AAD.7.6v1 planned: activating Global Administrator requires approval by {APPROVER}",
        "  MS.AAD.7.7v1 not planned: no alert recipient given",
        "      -> provisioner audit --fix-plan FILE --notify EMAIL",
        "  MS.AAD.7.8v1 not planned: no alert recipient given",
        "      -> provisioner audit --fix-plan FILE --notify EMAIL",
        "  MS.AAD.7.9v1 not planned: no alert recipient given",
        "      -> provisioner audit --fix-plan FILE --notify EMAIL",
        "Notes:",
        f"  - Global Administrator stays active for {ADMIN}: making every holder eligible would leave no active "
        "Global Administrator, and apply refuses that. Keep one or two break-glass accounts active: list them in "
        "safety.protected_accounts and their object ids in [audit.scuba] excluded_users, then make this plan again.",
    ]
    # The plan apply gets is one it accepts: the only Global Administrator stays active.
    t.ok("apply", str(t.root / "plan.json"), "--yes")
    assert holdings(t, ADMIN).split(None, 1)[1] == "Global Administrator: active permanent, outside PIM"
    assert results(t)["MS.AAD.7.6v1"] is True


def test_without_flags_7_6_to_7_9_are_listed_with_the_flag_to_pass(tmp_path):
    t = make_tenant(tmp_path)
    out = fix(t).stdout
    assert "  MS.AAD.7.6v1 not planned: no approver given: name who approves Global Administrator activations\n" \
           "      -> provisioner audit --fix-plan FILE --approver USER\n" in out


def test_a_protected_account_not_excluded_stays_active_and_7_4_says_so(tenant):
    tenant.config.write_text(f'[safety]\nprotected_accounts = ["{BREAKGLASS}"]\n', encoding="utf-8")
    out = fix(tenant, "--notify", SEC).stdout
    assert (f"  MS.AAD.7.4v1 partly planned: 2 active assignment(s) become eligible through PIM (Global "
            f"Administrator: {ADMIN}, User Administrator: {HELPER}); {BREAKGLASS} keeps Global Administrator active: "
            "a protected account (safety.protected_accounts)\n"
            "      -> list each break-glass account's object id in [audit.scuba] excluded_users\n") in out
    assert "  MS.AAD.7.5v1 planned: 1 active" in out  # the break-glass assignment was made through PIM
    tenant.ok("apply", str(tenant.root / "plan.json"), "--yes")
    assert holdings(tenant, BREAKGLASS).split(None, 1)[1] == "Global Administrator: active permanent"
    assert results(tenant)["MS.AAD.7.4v1"] is False  # ScubaGear wants the break-glass account excluded too


def test_usage_errors(tenant):
    path = str(tenant.root / "plan.json")
    for args, message in (
        (("--fix-plan", path, "--notify", "security team"), "--notify 'security team': not an e-mail address; give "
                                                            "one like secops@contoso.com"),
        (("--notify", SEC), "--notify and --approver go with --fix-plan FILE"),
        (("--fix-plan", path, "-o", "json"), "--fix-plan saves a plan, not a report: leave out --output"),
    ):
        result = tenant.run("audit", *args)
        assert result.exit_code == ExitCode.USAGE
        assert result.stderr.splitlines()[-1] == f"Error: {message}"
    missing = tenant.run("audit", "--fix-plan", path, "--approver", f"nobody@{DOMAIN}")
    assert missing.exit_code == 1
    assert missing.stderr.splitlines()[-1] == (f"Error: --approver nobody@{DOMAIN}: no such user in this tenant; "
                                               "name the approver by user principal name or object id")
    assert not Path(path).exists()


# --- the saved plan: strict, digest-covered, re-checked against the tenant ------------------------


def saved(t: Tenant) -> dict:
    protect_breakglass(t)
    fix(t, "--notify", SEC, "--approver", APPROVER)
    return json.loads((t.root / "plan.json").read_text())


def rewrite(t: Tenant, plan: dict, *, redigest: bool = True) -> Any:
    if redigest:  # a determined editor recomputes the digest
        plan_editor.redigest(plan)
    (t.root / "plan.json").write_text(json.dumps(plan))
    return t.run("apply", str(t.root / "plan.json"), "--yes")


def rule_change(plan: dict, role: str, rule: str) -> dict:
    return next(c for c in plan["changes"] if c["action"] == "policy-rule" and c["roleName"] == role
                and c["ruleId"] == rule)


def test_a_policy_rule_change_as_saved(tenant):
    change = rule_change(saved(tenant), "Global Administrator", "Notification_Admin_EndUser_Assignment")
    policy = change["policyId"]
    assert policy.startswith("DirectoryRole_")
    assert change == {"action": "policy-rule", "roleDefinitionId": GLOBAL, "roleName": "Global Administrator",
                      "policyId": policy, "ruleId": "Notification_Admin_EndUser_Assignment",
                      "updates": {"notificationRecipients": [[], [SEC]]},
                      "properties": {"notificationRecipients": [SEC]}, "reason": "MS.AAD.7.8: alert recipients"}


@pytest.mark.parametrize(("edit", "message"), [
    (lambda c: c.update(policyId="../../users/x"), "policyId must be a PIM policy id like DirectoryRole_<GUID>_<GUID>, "
                                                   "not '../../users/x'"),
    (lambda c: c.update(ruleId="Expiration_Admin_Eligibility"), "ruleId must be one of Approval_EndUser_Assignment, "
     "Notification_Admin_Admin_Assignment, Notification_Admin_Admin_Eligibility, "
     "Notification_Admin_EndUser_Assignment, not 'Expiration_Admin_Eligibility'"),
    (lambda c: c.update(userPrincipalName=ADMIN), "unknown key 'userPrincipalName'; allowed: action, reason, "
     "roleDefinitionId, roleName, policyId, ruleId, updates, properties"),
    (lambda c: c["properties"].update(isDefaultRecipientsEnabled=False), "properties must be a JSON object with "
     "exactly notificationRecipients"),
    (lambda c: c.pop("policyId"), "policyId is missing"),
])
def test_plan_file_strictness(tenant, edit, message):
    plan = saved(tenant)
    change = rule_change(plan, "Global Administrator", "Notification_Admin_EndUser_Assignment")
    n = plan["changes"].index(change) + 1
    edit(change)
    result = rewrite(tenant, plan)
    assert result.exit_code == ExitCode.USAGE
    path = tenant.root / "plan.json"
    assert result.stderr.splitlines() == [
        f"Error: {path}: change {n} (policy-rule Global Administrator {change.get('ruleId')}): {message}; make it "
        "with: provisioner sync MANIFEST --out PLAN.json"]


def test_an_approver_id_in_the_setting_must_be_a_guid(tenant):
    plan = saved(tenant)
    change = rule_change(plan, "Global Administrator", "Approval_EndUser_Assignment")
    change["properties"]["setting"]["approvalStages"][0]["primaryApprovers"][0]["userId"] = "x/../y"
    result = rewrite(tenant, plan)
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.splitlines()[-1].endswith(
        "properties.setting.approvalStages[0].primaryApprovers[0]: userId must be an object id (a GUID); make it "
        "with: provisioner sync MANIFEST --out PLAN.json")


def test_edited_plans_are_refused_and_nothing_is_written(tenant):
    plan = saved(tenant)
    before = rules(tenant, GLOBAL)
    change = rule_change(plan, "Global Administrator", "Notification_Admin_EndUser_Assignment")
    change["properties"]["notificationRecipients"] = ["attacker@example.com"]
    careless = rewrite(tenant, json.loads(json.dumps(plan)), redigest=False)
    assert careless.exit_code == ExitCode.REFUSED
    assert "this plan was edited after it was made (its content does not match its digest)" in careless.stderr
    # Recomputing the digest does not help: what it sends must be what it shows.
    sneaky = rewrite(tenant, json.loads(json.dumps(plan)))
    assert sneaky.exit_code == ExitCode.REFUSED
    assert sneaky.stderr.splitlines()[-1] == (
        "  - change the Notification_Admin_EndUser_Assignment rule of Global Administrator: what it would send is not "
        "what it shows (the rule as it is, with only its recipients or approvers added)")
    # Another role's policy under Global Administrator's name.
    plan = saved(tenant)
    other = rule_change(plan, "User Administrator", "Notification_Admin_EndUser_Assignment")["policyId"]
    change = rule_change(plan, "Global Administrator", "Notification_Admin_EndUser_Assignment")
    mine, change["policyId"] = change["policyId"], other
    swapped = rewrite(tenant, plan)
    assert swapped.exit_code == ExitCode.REFUSED
    assert swapped.stderr.splitlines()[-1] == (
        f"  - change the Notification_Admin_EndUser_Assignment rule of Global Administrator: policy {other} is not "
        f"the PIM policy of Global Administrator (that is {mine})")
    assert rules(tenant, GLOBAL) == before
    assert results(tenant)["MS.AAD.7.8v1"] is False


def test_a_rule_changed_since_the_plan_was_made_refuses_it(tenant):
    plan = saved(tenant)
    policy = rule_change(plan, "Global Administrator", "Notification_Admin_EndUser_Assignment")["policyId"]
    tenant.graph("PATCH", f"/policies/roleManagementPolicies/{policy}/rules/Notification_Admin_EndUser_Assignment",
          {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyNotificationRule",
           "notificationRecipients": ["someone@contoso.com"]})
    before = rules(tenant, USER_ADMIN)
    result = tenant.run("apply", str(tenant.root / "plan.json"), "--yes")
    assert result.exit_code == ExitCode.REFUSED
    assert result.stderr.splitlines()[-1] == (
        "Error: the tenant changed since this plan was made; make the plan again (provisioner sync MANIFEST --out "
        "PLAN.json, or provisioner audit --fix-plan PLAN.json)")
    assert rules(tenant, USER_ADMIN) == before


def test_a_tenant_with_entra_id_governance_but_not_p2_gets_its_plan(tmp_path):
    # PIM works with Governance (P§A3, A6.3); ScubaGear looks only for AAD_PREMIUM_P2.
    t = make_tenant(tmp_path, skus={"Microsoft_Entra_ID_Governance": 25})
    t.create("helper", "user")
    assert {r["policyId"]: r["details"] for r in t.json("audit")["baseline"]["results"]}["MS.AAD.7.4v1"] == (
        "**NOTE: Your tenant does not have a Microsoft Entra ID P2 license, which is required for this feature**")
    lines = fix(t, "--notify", SEC).stdout.splitlines()
    assert "Plan: 24 PIM role settings to change, 1 role assignment to add, 1 role assignment to remove." in lines
    assert f"  MS.AAD.7.4v1 partly planned: 1 active assignment(s) become eligible through PIM (User Administrator: " \
           f"{HELPER}); {ADMIN} keeps Global Administrator active: the last active Global Administrator(s)" in lines
    assert lines[-2] == ("  - The tenant has PIM without Entra ID P2 (Entra ID Governance): this plan fixes MS.AAD.7.4 "
                         "to 7.9, but ScubaGear looks only for the AAD_PREMIUM_P2 service plan and still reports them "
                         "as not met.")
    t.ok("apply", str(t.root / "plan.json"), "--yes")
    assert holdings(t, HELPER).split(None, 1)[1] == "User Administrator: permanently eligible"
    assert rules(t, APP_ADMIN)["Notification_Admin_EndUser_Assignment"]["notificationRecipients"] == [SEC]


def test_a_global_administrator_ending_within_the_window_leaves_the_permanent_one_active(tmp_path):
    t = make_tenant(tmp_path)
    t.create("helper")
    t.ok("roles", "assign", HELPER, "global", "--duration", "2d", "--yes")
    out = fix(t).stdout
    assert (f"  - Global Administrator stays active for {ADMIN}: making every holder eligible would leave only Global "
            f"Administrator(s) whose active assignment ends within 7 days ({HELPER} until ") in out
    assert "), then nobody who can act. Keep one or two break-glass accounts active" in out
    assert f"  MS.AAD.7.4v1 not planned: {ADMIN} keeps Global Administrator active" in out
    # With a window shorter than what is left, the time-bound one counts: the permanent one becomes eligible.
    shorter = fix(t, "--expiring-within", "1d").stdout
    assert f"  MS.AAD.7.4v1 planned: 1 active assignment(s) become eligible through PIM (Global Administrator: " \
           f"{ADMIN})" in shorter
