"""How `roles assign` grants a role and which kind `roles revoke` removes (PIM): the options and
their checks, turned into a `Holding` for the use case."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from provisioner.durations import parse_duration

if TYPE_CHECKING:
    from provisioner.model import Holding

def assign_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--eligible", is_flag=True,
                     help="Make the user eligible (PIM): the role is activated when needed. Needs Entra ID P2."),
        click.option("--until", "until", metavar="DATE",
                     help="Time-bound: the assignment ends at DATE (2027-01-31, or a UTC time 2027-01-31T18:00Z)."),
        click.option("--duration", metavar="P30D|8h",
                     help="Time-bound: the assignment lasts this long (ISO 8601 P30D / PT8H, or 30d, 8h)."),
        click.option("--permanent", is_flag=True, help="No end (the default, said explicitly)."),
        click.option("--justification", metavar="TEXT", help="Why the role is granted (recorded by PIM)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def revoke_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--active", "only_active", is_flag=True, help="Remove only an active assignment.")(f)
    return click.option("--eligible", "only_eligible", is_flag=True, help="Remove only an eligibility.")(f)


def until_time(text: str) -> str:
    """DATE as Graph's UTC form; a date alone means its start (00:00 UTC)."""
    value = text.strip()
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date; use e.g. 2027-01-31 or 2027-01-31T18:00Z",
                                 param_hint="--until") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_duration(text: str) -> str:
    """``P30D``/``PT8H`` (ISO 8601), or the tool's ``30d``/``8h``, as the duration sent to PIM."""
    from provisioner.isoduration import iso_span, sent

    value = text.strip()
    span = iso_span(value.upper())
    if span is None:
        try:
            span = parse_duration(value)
        except ValueError as e:
            raise click.BadParameter(f"{e} (or ISO 8601: P30D, PT8H)", param_hint="--duration") from None
    if span.total_seconds() <= 0:
        raise click.BadParameter(f"{text!r} is empty; give a duration like P30D or 8h", param_hint="--duration")
    return sent(span)


def assign_holding(eligible: bool, until: str | None, duration: str | None, permanent: bool,
                   justification: str | None, now: datetime | None = None) -> Holding:
    if until and duration:
        raise click.UsageError("give --until or --duration, not both")
    if permanent and (until or duration):
        raise click.UsageError("--permanent has no end: drop --until/--duration, or drop --permanent")
    end = until_time(until) if until else None
    if end and end <= (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"):
        raise click.BadParameter(f"{until!r} is in the past; give a later date", param_hint="--until")
    from provisioner.model import Holding

    return Holding(eligible=eligible, end=end, duration=iso_duration(duration) if duration else None,
                   justification=justification)


def revoke_holding(only_eligible: bool, only_active: bool) -> Holding:
    from provisioner.model import Holding

    if only_eligible and only_active:
        raise click.UsageError("give --eligible or --active, not both (neither removes whichever is held)")
    return Holding(which="eligible" if only_eligible else "active" if only_active else None)
