"""Plan format 2: what a saved plan holds, a round trip, and strict one-line errors for edited files."""

from __future__ import annotations

import json

import pytest
from unit_tenant import ADMIN, ALICE, BILLING, BOB, CAROL_ID, GA, USER_ADMIN, deleted, state

from provisioner.changes import Action, Change, PasswordSource, Plan
from provisioner.model import UserSpec
from provisioner.plan import digest, plan_create, plan_delete, plan_purge, plan_restore, plan_revoke
from provisioner.planfile import OLD_FORMAT, DigestMismatch, OldPlanFormat, PlanFormatError
from provisioner.planfile import digest as content_digest

DAVE_ID = "00000000-0000-0000-0000-0000000000d4"


def every_kind() -> Plan:
    """One change of every action, as the planners make them."""
    tenant = state(
        [ADMIN, ALICE, BOB],
        [deleted("carol", CAROL_ID, 3), deleted("dave", DAVE_ID, 5)],
        [(ADMIN.id, GA), (BOB.id, USER_ADMIN)],
    )
    changes = (
        plan_create([UserSpec("erin@contoso.com", {"displayName": "Erin", "jobTitle": "Ops"}, ("billing",),
                              password="S3cret!pass")], tenant).plan.changes
        + (Change(Action.UPDATE, "alice@contoso.com", ALICE.id, updates={"jobTitle": ("Engineer", None)}),)
        + plan_restore([CAROL_ID], tenant, new_upn="carol2@contoso.com", auto_reconcile=True).plan.changes
        + plan_revoke("bob@contoso.com", ["user"], tenant).plan.changes
        + plan_delete(["bob@contoso.com"], tenant).plan.changes
        + plan_purge([DAVE_ID], tenant).plan.changes
    )
    return Plan(changes, tenant="contoso", fingerprint="f" * 64)


def test_format_2_shape():
    data = every_kind().to_json()
    assert list(data) == ["formatVersion", "tenant", "fingerprint", "changes", "digest"]
    assert data["formatVersion"] == 2
    assert data["digest"] == content_digest({k: v for k, v in data.items() if k != "digest"})
    assert data["changes"] == [
        {
            "action": "create",
            "userPrincipalName": "erin@contoso.com",
            "properties": {"userPrincipalName": "erin@contoso.com", "displayName": "Erin", "accountEnabled": True,
                           "mailNickname": "erin", "jobTitle": "Ops"},
            "password": "supplied",
            "reason": "not in the tenant",
        },
        {"action": "update", "userPrincipalName": "alice@contoso.com", "objectId": ALICE.id,
         "updates": {"jobTitle": ["Engineer", None]}, "reason": ""},
        {"action": "restore", "userPrincipalName": "carol@contoso.com", "objectId": CAROL_ID,
         "newUserPrincipalName": "carol2@contoso.com", "autoReconcileProxyConflict": True,
         "reason": "deleted 2026-05-17, 27 days left"},
        {"action": "assign", "userPrincipalName": "erin@contoso.com", "roleDefinitionId": BILLING,
         "roleName": "Billing Administrator", "reason": "requested for the new user"},
        {"action": "revoke", "userPrincipalName": "bob@contoso.com", "objectId": BOB.id,
         "roleDefinitionId": USER_ADMIN, "roleName": "User Administrator",
         "assignmentId": f"as-{BOB.id}-fe930be7", "reason": "currently held"},
        {"action": "delete", "userPrincipalName": "bob@contoso.com", "objectId": BOB.id,
         "reason": "soft delete, restorable for 30 days; holds User Administrator"},
        {"action": "purge", "userPrincipalName": "dave@contoso.com", "objectId": DAVE_ID,
         "reason": "deleted 2026-05-15, 25 days left"},
    ]
    assert "S3cret!pass" not in json.dumps(data)


def test_round_trip_through_a_file_is_equal():
    plan = every_kind()
    loaded = Plan.from_json(json.loads(json.dumps(plan.to_json())))
    assert loaded == plan
    assert loaded.changes[0].password is PasswordSource.SUPPLIED
    assert loaded.changes[1].updates == {"jobTitle": ("Engineer", None)}
    assert digest(loaded) == plan.to_json()["digest"]


def test_a_format_1_plan_is_told_to_make_the_plan_again():
    with pytest.raises(OldPlanFormat) as e:
        Plan.from_json({"formatVersion": 1, "tenant": "", "fingerprint": "", "changes": []})
    assert str(e.value) == OLD_FORMAT == (
        "this plan was made by an older version of provisioner (format 1); make the plan again with this "
        "version: provisioner sync MANIFEST --out PLAN.json"
    )


def test_an_edit_that_keeps_the_shape_breaks_the_digest():
    data = every_kind().to_json()
    data["changes"][3]["roleDefinitionId"] = GA
    with pytest.raises(DigestMismatch) as e:
        Plan.from_json(data)
    assert str(e.value) == "this plan was edited after it was made (its content does not match its digest)"


def resigned(data: dict) -> dict:
    return {**data, "digest": content_digest({k: v for k, v in data.items() if k != "digest"})}


def edited(n: int, **changes: object) -> dict:
    """The plan's JSON with change ``n`` (0-based) edited (a None value drops the key), digest recomputed."""
    data = every_kind().to_json()
    for key, value in changes.items():
        if value is None:
            data["changes"][n].pop(key)
        else:
            data["changes"][n][key] = value
    return resigned(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"changes": []}, "not a provisioner plan (formatVersion 2 expected)"),
        ([], "not a provisioner plan (a JSON object expected)"),
        ({**every_kind().to_json(), "extra": 1}, "the plan: unknown key 'extra'; allowed: formatVersion, tenant, "
                                                 "fingerprint, digest, changes"),
        ({**every_kind().to_json(), "digest": "abc"}, "the plan's digest must be 64 lower-case hex digits (a sha256)"),
        ({**every_kind().to_json(), "tenant": 3}, "the plan: tenant must be a string"),
        (edited(5, action="remove"), "change 6: action must be one of create, update, manager, revoke-sessions, "
                                     "reset-password, restore, assign, revoke, reschedule, license, delete, purge, "
                                     "policy-rule, "
                                     "not 'remove'"),
        (edited(5, objectId="bob"), "change 6 (delete bob@contoso.com): objectId must be an object id (a GUID like "
                                    "00000000-0000-0000-0000-000000000000), not 'bob'"),
        (edited(5, objectId=None), "change 6 (delete bob@contoso.com): objectId is missing"),
        (edited(5, userPrincipalName=7), "change 6 (delete 7): userPrincipalName must be a string"),
        (edited(5, roleDefinitionId=GA), "change 6 (delete bob@contoso.com): unknown key 'roleDefinitionId'; "
                                         "allowed: action, userPrincipalName, reason, objectId"),
        (edited(3, roleDefinitionId="global"), "change 4 (assign erin@contoso.com): roleDefinitionId must be a role "
                                               "id (a GUID like 62e90394-69f5-4237-9190-012177145e10), not 'global'"),
        (edited(3, roleName=["x"]), "change 4 (assign erin@contoso.com): roleName must be a string"),
        (edited(4, assignmentId="../users/x"),
         "change 5 (revoke bob@contoso.com): assignmentId must be a role assignment id (letters, digits, - and _), "
         "not '../users/x'"),
        (edited(0, password="Hunter2!"), 'change 1 (create erin@contoso.com): password must be "generate" or '
                                         '"supplied" (never a password itself)'),
        (edited(0, properties={"userPrincipalName": "erin@contoso.com", "passwordProfile": {"password": "x"}}),
         "change 1 (create erin@contoso.com) properties: unknown key 'passwordProfile'; allowed: userPrincipalName, "
         "mailNickname, displayName, accountEnabled, givenName, surname, jobTitle, department, usageLocation, "
         "companyName, employeeId, employeeType, officeLocation, streetAddress, city, state, postalCode, country, "
         "businessPhones, mobilePhone, preferredLanguage, employeeHireDate"),
        (edited(0, properties={"userPrincipalName": "root@contoso.com"}),
         "change 1 (create erin@contoso.com): properties.userPrincipalName must equal the change's "
         "userPrincipalName"),
        (edited(0, properties={"userPrincipalName": "erin@contoso.com", "displayName": {"a": 1}}),
         'change 1 (create erin@contoso.com): properties.displayName must be a string, true, false or null, '
         'not {"a": 1}'),
        (edited(1, updates={"jobTitle": "Lead"}), "change 2 (update alice@contoso.com): updates.jobTitle must be a "
                                                  "pair [old, new]"),
        (edited(2, autoReconcileProxyConflict="yes"), "change 3 (restore carol@contoso.com): "
                                                      "autoReconcileProxyConflict must be true or false"),
    ],
)
def test_strict_one_line_errors(data, message):
    with pytest.raises(PlanFormatError) as e:
        Plan.from_json(data)
    assert str(e.value) == message
    assert "\n" not in str(e.value)
