"""What a plan file may hold where it reaches a request: ids checked whole (a trailing newline is not
part of an id), alert recipients that are e-mail addresses, and durations read by the one ISO 8601
parser (weeks and seconds included, "P" and "P1DT" not)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from provisioner.changes import Action, Change, Plan
from provisioner.ids import is_email, is_guid
from provisioner.isoduration import iso_span, iso_text
from provisioner.planfile import PlanFormatError
from provisioner.planfile import digest as content_digest

GA = "62e90394-69f5-4237-9190-012177145e10"
USER = "00000000-0000-0000-0000-00000000000a"
POLICY = "DirectoryRole_11111111-1111-1111-1111-111111111111_22222222-2222-2222-2222-222222222222"
ALERT = "Notification_Admin_Admin_Assignment"


def plan_json(**edits: object) -> dict:
    """A plan of an eligible assignment and an alert-rule change, with ``edits`` applied (``assign.KEY`` or
    ``rule.KEY``, or ``approver`` for an approval rule's first approver id), digest recomputed."""
    assign = Change(Action.ASSIGN, "admin@contoso.com", USER, role_id=GA, role_name="Global Administrator",
                    eligible=True, through_pim=True, duration="P30D")
    rule = Change(Action.POLICY_RULE, "", role_id=GA, role_name="Global Administrator", policy_id=POLICY,
                  rule_id=ALERT, updates={"notificationRecipients": ([], ["sec@contoso.com"])},
                  properties={"notificationRecipients": ["sec@contoso.com"]}, reason="MS.AAD.7.7: alert recipients")
    data = Plan((assign, rule), tenant="contoso", fingerprint="f" * 64).to_json()
    for key, value in edits.items():
        which, name = key.split("__")
        next(c for c in data["changes"] if c["action"] == which.replace("rule", "policy-rule"))[name] = value
    return {**data, "digest": content_digest({k: v for k, v in data.items() if k != "digest"})}


def refused(data: dict) -> str:
    with pytest.raises(PlanFormatError) as e:
        Plan.from_json(data)
    assert "\n" not in str(e.value)
    return str(e.value)


def test_the_plan_as_made_reads_back():
    assert [c.action for c in Plan.from_json(plan_json()).changes] == [Action.POLICY_RULE, Action.ASSIGN]


@pytest.mark.parametrize(("edits", "message"), [
    ({"assign__objectId": USER + "\n"}, "change 2 (assign admin@contoso.com): objectId must be an object id (a GUID "
                                        f"like 00000000-0000-0000-0000-000000000000), not '{USER}\\n'"),
    ({"assign__roleDefinitionId": GA + "\n"}, "change 2 (assign admin@contoso.com): roleDefinitionId must be a role id "
                                              f"(a GUID like 62e90394-69f5-4237-9190-012177145e10), not '{GA}\\n'"),
    ({"rule__roleDefinitionId": GA + "\n"}, f"change 1 (policy-rule Global Administrator {ALERT}): roleDefinitionId "
                                            "must be a role id (a GUID like 62e90394-69f5-4237-9190-012177145e10), "
                                            f"not '{GA}\\n'"),
    ({"rule__policyId": POLICY + "\n"}, f"change 1 (policy-rule Global Administrator {ALERT}): policyId must be a PIM "
                                        f"policy id like DirectoryRole_<GUID>_<GUID>, not '{POLICY}\\n'"),
    ({"rule__properties": {"notificationRecipients": ["sec@contoso.com", "security team"]}},
     f"change 1 (policy-rule Global Administrator {ALERT}): properties.notificationRecipients[1] must be an e-mail "
     'address like secops@contoso.com, not "security team"'),
    ({"rule__properties": {"notificationRecipients": ["sec@contoso.com\n"]}},
     f"change 1 (policy-rule Global Administrator {ALERT}): properties.notificationRecipients[0] must be an e-mail "
     'address like secops@contoso.com, not "sec@contoso.com\\n"'),
    ({"rule__properties": {"notificationRecipients": [7]}},
     f"change 1 (policy-rule Global Administrator {ALERT}): properties.notificationRecipients[0] must be an e-mail "
     "address like secops@contoso.com, not 7"),
    ({"assign__duration": "P"}, "change 2 (assign admin@contoso.com): duration must be an ISO 8601 duration like P30D "
                                "or PT8H"),
    ({"assign__duration": "P1DT"}, "change 2 (assign admin@contoso.com): duration must be an ISO 8601 duration like "
                                   "P30D or PT8H"),
    ({"assign__duration": "P30D\n"}, "change 2 (assign admin@contoso.com): duration must be an ISO 8601 duration "
                                     "like P30D or PT8H"),
    ({"assign__duration": "P99999999999D"}, "change 2 (assign admin@contoso.com): duration must be an ISO 8601 "
                                            "duration like P30D or PT8H"),
])
def test_refused_plan_files(edits, message):
    assert refused(plan_json(**edits)) == message


def test_an_approver_id_with_a_trailing_newline_is_refused():
    setting = {"@odata.type": "microsoft.graph.approvalSettings", "isApprovalRequired": True, "approvalStages": [
        {"primaryApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": USER + "\n"}]}]}
    data = plan_json(rule__ruleId="Approval_EndUser_Assignment", rule__updates={"isApprovalRequired": [False, True]},
                     rule__properties={"setting": setting})
    assert refused(data) == ("change 1 (policy-rule Global Administrator Approval_EndUser_Assignment): "
                             "properties.setting.approvalStages[0].primaryApprovers[0]: userId must be an object id "
                             "(a GUID)")


@pytest.mark.parametrize("duration", ["P1W", "PT30S", "P1DT12H", "PT1H45M"])
def test_durations_with_weeks_or_seconds_are_read(duration):
    assert Plan.from_json(plan_json(assign__duration=duration)).changes[1].duration == duration


def test_one_parser_and_the_form_sent():
    assert [iso_span(t) for t in ("P1W", "PT30S", "P1DT2H", "pt8h", "P", "PT", "P1DT", "P1Y", "P30D\n", None)] == [
        timedelta(days=7), timedelta(seconds=30), timedelta(days=1, hours=2), timedelta(hours=8),
        None, None, None, None, None, None]
    assert [iso_text(s) for s in (timedelta(days=7), timedelta(hours=10), timedelta(days=1, hours=12),
                                  timedelta(seconds=90), timedelta(milliseconds=200))] == [
        "P7D", "PT10H", "P1DT12H", "PT1M30S", None]


def test_ids_and_addresses_are_checked_whole():
    assert is_guid(GA) and not is_guid(GA + "\n") and not is_guid(" " + GA)
    assert is_email("sec@contoso.com")
    assert not any(is_email(t) for t in ("sec@contoso.com\n", "security team", "a@b", "a b@c.d", "a@b@c.d",
                                         "x" * 250 + "@c.de", 7))
