"""The `roles assign` PIM options turned into a Holding (no tenant)."""

from __future__ import annotations

from datetime import UTC, datetime

import click
import pytest

from provisioner.cli.holding import assign_holding, iso_duration, until_time
from provisioner.model import RoleAssignment


@pytest.mark.parametrize(("given", "iso"), [("P30D", "P30D"), ("pt8h", "PT8H"), ("8h", "PT8H"), ("30d", "P30D"),
                                            ("1d12h", "P1DT12H"), ("90m", "PT1H30M"), ("2w", "P14D")])
def test_durations_become_iso_8601(given, iso):
    assert iso_duration(given) == iso


def test_until_is_utc_midnight_of_a_date_or_the_time_given():
    assert until_time("2027-01-31") == "2027-01-31T00:00:00Z"
    assert until_time("2027-01-31T18:00+02:00") == "2027-01-31T16:00:00Z"


def test_a_past_end_is_refused():
    with pytest.raises(click.BadParameter):
        assign_holding(False, "2027-01-01", None, False, None, now=datetime(2027, 6, 1, tzinfo=UTC))


@pytest.mark.parametrize(("assignment", "text"), [
    (RoleAssignment("a", "p", "r", outside_pim=True), "active permanent, outside PIM"),
    (RoleAssignment("a", "p", "r", start="2026-01-01T00:00:00Z", outside_pim=False), "active permanent"),
    (RoleAssignment("a", "p", "r", end="2027-01-31T00:00:00Z"), "active until 2027-01-31"),
    (RoleAssignment("a", "p", "r", eligible=True, end="2027-01-31T00:00:00Z"), "eligible until 2027-01-31"),
    (RoleAssignment("a", "p", "r", eligible=True), "permanently eligible"),
])
def test_how_a_role_is_held_reads(assignment, text):
    assert assignment.describe() == text
