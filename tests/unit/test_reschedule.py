"""The end-date rule of manifest roles (``plan.ends``) and the reschedule change in a plan file. Pure."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from provisioner.changes import Action, Change, Plan
from provisioner.model import Holding
from provisioner.plan.ends import new_end
from provisioner.planfile import PlanFormatError
from provisioner.render import render_markdown

NOW = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
GA = "62e90394-69f5-4237-9190-012177145e10"
OID = "6be4b305-0000-4000-8000-000000000001"


@pytest.mark.parametrize(("held", "holding", "expected"), [
    # until: the day must match (UTC); the time of day does not matter.
    ("2027-03-01T00:00:00Z", Holding(end="2027-06-30T00:00:00Z"), (True, "2027-06-30T00:00:00Z")),
    ("2027-06-30T17:45:10.123Z", Holding(end="2027-06-30T00:00:00Z"), (False, "2027-06-30T00:00:00Z")),
    (None, Holding(end="2027-06-30T00:00:00Z"), (True, "2027-06-30T00:00:00Z")),
    # neither: permanent.
    ("2027-03-01T00:00:00Z", Holding(), (True, None)),
    (None, Holding(eligible=True), (False, None)),
    # duration: a permanent one gets now + duration; an earlier end is kept (never renewed), a later one cut.
    (None, Holding(duration="P30D"), (True, "2027-02-09T12:00:00Z")),
    ("2027-01-11T00:00:00Z", Holding(duration="P30D"), (False, "2027-02-09T12:00:00Z")),
    ("2027-02-09T23:59:59Z", Holding(duration="P30D"), (False, "2027-02-09T12:00:00Z")),
    ("2027-02-10T00:00:00Z", Holding(duration="P30D"), (True, "2027-02-09T12:00:00Z")),
    ("2027-01-10T19:00:00Z", Holding(duration="PT8H"), (False, "2027-01-10T20:00:00Z")),
])
def test_new_end(held: str | None, holding: Holding, expected: tuple[bool, str | None]) -> None:
    assert new_end(held, holding, NOW) == expected


def _change(**extra: object) -> Change:
    fields: dict = {"role_id": GA, "role_name": "Global Administrator", "assignment_id": "lAPpYvVpN0KRkAEhdxReEA-1-e",
                    "eligible": True, "updates": {"endDateTime": ("2027-03-01T00:00:00Z", "2027-06-30T00:00:00Z")},
                    "reason": "held eligible until 2027-03-01; the manifest says until 2027-06-30"}
    return Change(Action.RESCHEDULE, "alice@contoso.com", OID, **{**fields, **extra})


def test_a_reschedule_round_trips_and_renders() -> None:
    plan = Plan((_change(),), "t", "0" * 64)
    assert Plan.from_json(plan.to_json()) == plan
    assert render_markdown(plan).splitlines() == [
        "### Plan: 1 role end to change.", "", "#### Role ends to change (1)", "",
        "| User | Role | Ends | Reason |", "|---|---|---|---|",
        "| `alice@contoso.com` | Global Administrator (eligible) | 2027-03-01 → 2027-06-30 | held eligible until "
        "2027-03-01; the manifest says until 2027-06-30 |"]


@pytest.mark.parametrize(("edit", "message"), [
    ({"updates": {"endDateTime": ["2027-03-01", "2027-06-30T00:00:00Z"]}},
     "updates.endDateTime must be a pair [old, new] of different UTC times like 2027-01-31T00:00:00Z, null for no "
     "end"),
    ({"updates": {"endDateTime": [None, None]}}, "updates.endDateTime must be a pair [old, new]"),
    ({"updates": {"endDateTime": [None, "x"], "displayName": ["a", "b"]}},
     'updates must be {"endDateTime": [old end, new end]}'),
    ({"throughPim": True}, "unknown key 'throughPim'"),
    ({"endDateTime": "2027-06-30T00:00:00Z"}, "unknown key 'endDateTime'"),
    ({"assignmentId": "a/b"}, "assignmentId must be a role assignment id"),
])
def test_a_bad_reschedule_is_refused_naming_the_key(edit: dict, message: str) -> None:
    d = {**_change().to_json(), **edit}
    with pytest.raises(PlanFormatError, match=r"^change 1 \(reschedule alice@contoso.com\): ") as e:
        Change.from_json(d)
    assert message in str(e.value)


def test_a_reschedule_carries_no_field_of_another_action() -> None:
    with pytest.raises(ValueError, match="a reschedule change has no end"):
        _change(end="2027-06-30T00:00:00Z")
