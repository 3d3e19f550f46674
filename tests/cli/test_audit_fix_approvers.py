"""``audit --fix-plan --approver`` when Global Administrator's activation rule already names an
approver who holds no role: the audit does not list every user, so that approver is read by id
after the rules, and the plan names it as ``apply`` does when it checks the plan."""

from __future__ import annotations

from cli_tenant import DOMAIN, Tenant, make_tenant

GLOBAL = "62e90394-69f5-4237-9190-012177145e10"
APPROVER, DEPUTY = f"approver@{DOMAIN}", f"deputy@{DOMAIN}"
RULE = "Approval_EndUser_Assignment"


def approval_rule(t: Tenant) -> tuple[str, dict]:
    policy = t.role_policy(GLOBAL)
    return policy["id"], next(r for r in policy["rules"] if r["id"] == RULE)


def test_an_approver_named_already_is_shown_by_name_and_the_plan_applies(tmp_path):
    t = make_tenant(tmp_path)
    t.create("approver")
    t.create("deputy")
    deputy, approver = t.users()[DEPUTY]["id"], t.users()[APPROVER]["id"]
    policy, rule = approval_rule(t)
    setting = rule["setting"]
    setting["approvalStages"][0]["primaryApprovers"] = [{"@odata.type": "#microsoft.graph.singleUser",
                                                         "userId": deputy}]
    t.graph("PATCH", f"/policies/roleManagementPolicies/{policy}/rules/{RULE}",
          {"@odata.type": rule["@odata.type"], "id": RULE, "setting": setting})

    made = t.ok("audit", "--fix-plan", str(t.root / "plan.json"), "--approver", APPROVER)
    assert f'  ~ Global Administrator: activation approvers = ["{DEPUTY}"] -> ["{DEPUTY}", "{APPROVER}"]' \
        in made.stdout.splitlines()
    applied = t.ok("apply", str(t.root / "plan.json"), "--yes")
    assert "Applied 1 of 1 change(s)" in applied.stderr
    _, rule = approval_rule(t)
    assert rule["setting"]["isApprovalRequired"] is True
    assert [a["userId"] for a in rule["setting"]["approvalStages"][0]["primaryApprovers"]] == [deputy, approver]
