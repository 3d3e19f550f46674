"""PIM in the local tenant (graph-pim-baseline P§A0-A3): requests, schedules, instances, expiry."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

from graph_kit import assert_error, create

from provisioner.local.pim import set_p2

BASE = "/v1.0/roleManagement/directory"
GA = "62e90394-69f5-4237-9190-012177145e10"
BILLING = "b0f54661-2d74-4c50-afa3-1ec803f12efe"


def _request(client, kind: str, action: str, uid: str, role: str = BILLING, **extra):
    path = "roleEligibilityScheduleRequests" if kind == "eligible" else "roleAssignmentScheduleRequests"
    body = {"action": action, "principalId": uid, "roleDefinitionId": role, "directoryScopeId": "/", **extra}
    return client.post(f"{BASE}/{path}", json=body)


def _until(end: str) -> dict:
    return {"scheduleInfo": {"expiration": {"type": "afterDateTime", "endDateTime": end}}}


def _list(client, name: str, flt: str | None = None) -> list[dict]:
    resp = client.get(f"{BASE}/{name}", params={"$filter": flt} if flt else None)
    assert resp.status_code == 200, resp.text
    return resp.json()["value"]


def _aid(role: str, uid: str) -> str:
    raw = uuid.UUID(role).bytes_le + uuid.UUID(uid).bytes_le
    return base64.urlsafe_b64encode(raw).decode().rstrip("=") + "-1"


def test_eligible_assign_makes_schedule_and_instance(client):
    uid = create(client, "ann")["id"]
    resp = _request(client, "eligible", "adminAssign", uid, justification="on call", **_until("2099-01-01T00:00:00Z"))
    assert resp.status_code == 201, resp.text
    req = resp.json()
    assert (req["status"], req["targetScheduleId"], req["action"]) == ("Provisioned", req["id"], "adminAssign")
    assert req["scheduleInfo"]["expiration"] == {"type": "afterDateTime", "endDateTime": "2099-01-01T00:00:00Z",
                                                 "duration": None}
    [schedule] = _list(client, "roleEligibilitySchedules")
    assert (schedule["id"], schedule["createdUsing"], schedule["status"]) == (req["id"], req["id"], "Provisioned")
    assert schedule["modifiedDateTime"] == "0001-01-01T08:00:00Z"
    [instance] = _list(client, "roleEligibilityScheduleInstances")
    assert instance["id"] == _aid(BILLING, uid) + "-e"
    assert instance["roleEligibilityScheduleId"] == req["id"]
    assert instance["endDateTime"] == "2099-01-01T00:00:00Z"
    assert "assignmentType" not in instance
    # Eligible is not a role assignment: nothing to act with until activation (P§A1.5).
    assert _list(client, "roleAssignments", f"principalId eq '{uid}'") == []


def test_duplicate_and_missing(client):
    uid = create(client, "ann")["id"]
    assert _request(client, "eligible", "adminAssign", uid).status_code == 201
    assert_error(_request(client, "eligible", "adminAssign", uid), 400, "RoleAssignmentExists",
                 "The Role assignment already exists.")
    assert_error(_request(client, "active", "adminRemove", uid), 400, "RoleAssignmentDoesNotExist",
                 "The Role assignment does not exist.")
    assert_error(_request(client, "active", "adminExtend", uid, justification="x"), 400,
                 "RoleAssignmentDoesNotExist")


def test_remove_answers_201_revoked(client):
    uid = create(client, "ann")["id"]
    _request(client, "eligible", "adminAssign", uid)
    resp = _request(client, "eligible", "adminRemove", uid)
    assert resp.status_code == 201
    body = resp.json()
    assert (body["status"], body["completedDateTime"], body["targetScheduleId"], body["scheduleInfo"]) == (
        "Revoked", None, None, None)
    assert _list(client, "roleEligibilityScheduleInstances") == []


def test_active_time_bound_is_a_role_assignment_until_the_clock_passes(client, state):
    from provisioner.local.tenant import advance_clock

    uid = create(client, "ann")["id"]
    resp = _request(client, "active", "adminAssign", uid, justification="project",
                    scheduleInfo={"expiration": {"type": "AfterDuration", "duration": "P30D"}})
    assert resp.status_code == 201, resp.text
    assert resp.json()["scheduleInfo"]["expiration"]["type"] == "afterDuration"
    [assignment] = _list(client, "roleAssignments", f"principalId eq '{uid}'")
    assert assignment["id"] == _aid(BILLING, uid)
    [instance] = _list(client, "roleAssignmentScheduleInstances", f"principalId eq '{uid}'")
    assert instance["startDateTime"] is not None and instance["endDateTime"] is not None
    assert instance["roleAssignmentScheduleId"] == resp.json()["id"]
    assert instance["roleAssignmentOriginId"] == assignment["id"]
    advance_clock(state, timedelta(days=31))
    assert _list(client, "roleAssignmentScheduleInstances", f"principalId eq '{uid}'") == []
    assert _list(client, "roleAssignments", f"principalId eq '{uid}'") == []


def test_eligibility_ends_by_the_tenant_clock(client, state):
    from provisioner.local.tenant import advance_clock

    uid = create(client, "ann")["id"]
    _request(client, "eligible", "adminAssign", uid,
             scheduleInfo={"expiration": {"type": "afterDuration", "duration": "PT8H"}})
    advance_clock(state, timedelta(hours=7))
    assert len(_list(client, "roleEligibilitySchedules")) == 1
    advance_clock(state, timedelta(hours=2))
    assert _list(client, "roleEligibilitySchedules") == []


def test_extend_changes_the_end_of_the_same_schedule(client):
    uid = create(client, "ann")["id"]
    first = _request(client, "eligible", "adminAssign", uid, **_until("2099-01-01T00:00:00Z")).json()
    resp = _request(client, "eligible", "adminExtend", uid, **_until("2100-01-01T00:00:00Z"))
    assert resp.status_code == 201 and resp.json()["targetScheduleId"] == first["id"]
    [schedule] = _list(client, "roleEligibilitySchedules")
    assert schedule["scheduleInfo"]["expiration"]["endDateTime"] == "2100-01-01T00:00:00Z"
    assert schedule["modifiedDateTime"] != "0001-01-01T08:00:00Z"


def test_direct_assignment_shows_as_outside_pim(client):
    """P§A2.4: start and end null on the instance; the schedule's id is the assignment id."""
    uid = create(client, "ann")["id"]
    made = client.post(f"{BASE}/roleAssignments", json={"principalId": uid, "roleDefinitionId": GA,
                                                         "directoryScopeId": "/"}).json()
    [instance] = _list(client, "roleAssignmentScheduleInstances", f"principalId eq '{uid}'")
    assert instance == {"id": made["id"], "principalId": uid, "roleDefinitionId": GA, "directoryScopeId": "/",
                        "appScopeId": None, "startDateTime": None, "endDateTime": None,
                        "assignmentType": "Assigned", "memberType": "Direct",
                        "roleAssignmentOriginId": made["id"], "roleAssignmentScheduleId": made["id"]}
    [schedule] = _list(client, "roleAssignmentSchedules", f"principalId eq '{uid}'")
    assert (schedule["id"], schedule["createdUsing"], schedule["createdDateTime"], schedule["status"]) == (
        made["id"], None, None, "Provisioned")
    assert schedule["scheduleInfo"]["startDateTime"] is not None
    assert schedule["scheduleInfo"]["expiration"]["type"] == "noExpiration"
    # PIM's adminAssign meets it as already there; adminRemove removes it.
    assert_error(_request(client, "active", "adminAssign", uid, GA, justification="x"), 400, "RoleAssignmentExists")
    assert _request(client, "active", "adminRemove", uid, GA).status_code == 201
    assert _list(client, "roleAssignments", f"principalId eq '{uid}'") == []


def test_filters_on_role_and_assignment_type(client):
    uid = create(client, "ann")["id"]
    _request(client, "active", "adminAssign", uid, justification="x")
    flt = f"roleDefinitionId eq '{BILLING}' and assignmentType eq 'Assigned'"
    assert [i["principalId"] for i in _list(client, "roleAssignmentScheduleInstances", flt)] == [uid]
    assert _list(client, "roleAssignmentScheduleInstances", "assignmentType eq 'Activated'") == []
    assert len(_list(client, "roleAssignmentScheduleInstances", f"principalId ne '{uid}'")) == 1  # the admin


def test_policy_rules_refuse_what_they_forbid(client):
    uid = create(client, "ann")["id"]
    assert_error(_request(client, "active", "adminAssign", uid), 400,
                 "RoleAssignmentRequestPolicyValidationFailed",
                 'The following policy rules failed: ["JustificationRule"]')


def test_no_p2_refuses_every_pim_call(client):
    set_p2(client.app.state.store, False)
    message = "The tenant needs to have Microsoft Entra ID P2 or Microsoft Entra ID Governance license."
    assert_error(client.get(f"{BASE}/roleEligibilityScheduleInstances"), 400, "AadPremiumLicenseRequired", message)
    uid = create(client, "ann")["id"]
    assert_error(_request(client, "eligible", "adminAssign", uid), 400, "AadPremiumLicenseRequired", message)


def test_update_moves_the_end_and_keeps_the_assignment(client):
    """adminUpdate (P§A1.1, behaviour UNVERIFIED): the same schedule and instance, a new end; active: the
    same role assignment. No end (noExpiration) makes it permanent."""
    uid = create(client, "ann")["id"]
    for kind, suffix, flt in (("eligible", "-e", "roleEligibility"), ("active", "", "roleAssignment")):
        first = _request(client, kind, "adminAssign", uid, justification="x", **_until("2099-01-01T00:00:00Z")).json()
        resp = _request(client, kind, "adminUpdate", uid, justification="x", **_until("2099-06-30T00:00:00Z"))
        assert resp.status_code == 201 and resp.json()["targetScheduleId"] == first["id"], resp.text
        [schedule] = _list(client, f"{flt}Schedules", f"principalId eq '{uid}'")
        assert (schedule["id"], schedule["scheduleInfo"]["expiration"]["endDateTime"]) == (
            first["id"], "2099-06-30T00:00:00Z")
        [instance] = _list(client, f"{flt}ScheduleInstances", f"principalId eq '{uid}'")
        assert (instance["id"], instance["endDateTime"]) == (_aid(BILLING, uid) + suffix, "2099-06-30T00:00:00Z")
        assert _request(client, kind, "adminUpdate", uid, justification="x",
                        scheduleInfo={"expiration": {"type": "noExpiration"}}).status_code == 201
        [instance] = _list(client, f"{flt}ScheduleInstances", f"principalId eq '{uid}'")
        assert instance["endDateTime"] is None
    assert [a["id"] for a in _list(client, "roleAssignments", f"principalId eq '{uid}'")] == [_aid(BILLING, uid)]


def test_update_of_a_direct_assignment_is_refused(client):
    """A direct assignment has no PIM schedule to update: RoleAssignmentDoesNotExist (UNVERIFIED)."""
    uid = create(client, "ann")["id"]
    client.post(f"{BASE}/roleAssignments", json={"principalId": uid, "roleDefinitionId": BILLING,
                                                  "directoryScopeId": "/"})
    assert_error(_request(client, "active", "adminUpdate", uid, justification="x", **_until("2099-01-01T00:00:00Z")),
                 400, "RoleAssignmentDoesNotExist")
    [instance] = _list(client, "roleAssignmentScheduleInstances", f"principalId eq '{uid}'")
    assert instance["endDateTime"] is None
