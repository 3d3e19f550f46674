"""End dates of the roles a manifest lists: when the assignment a user holds ends on another day than
the manifest asks, the change that moves its end through PIM (``adminUpdate``, graph-pim-baseline
P§A1.1). Pure.

The rule (docs/manifest.md, "End dates"), compared by day, UTC:
- ``until = DATE``: the held assignment must end on DATE; otherwise its end becomes DATE.
- ``duration = "P180D"``: a permanent one becomes time-bound, ending now + duration; a time-bound one
  ending on or before the day now + duration falls on is left alone (sync must not renew it on every
  run, or nothing would ever expire); one ending later is shortened to now + duration.
- neither: the role is permanent; a time-bound one is made permanent.
An active assignment made outside PIM (the direct API, P§A2.4) has no PIM schedule to update, and PIM
answers ``RoleAssignmentExists`` to a second one of the same role: its end is not planned, a note says
what to run instead.
"""

from __future__ import annotations

from datetime import datetime

from provisioner.changes import Action, Change
from provisioner.errors import ProvisionerError
from provisioner.model import (
    DEFAULT_JUSTIFICATION,
    Holding,
    RoleAssignment,
    RoleDefinition,
    TenantState,
    format_datetime,
    parse_datetime,
)
from provisioner.plan import expiry
from provisioner.plan.imperative import NO_PIM

OUTSIDE_PIM = ("{upn} holds {role} active outside PIM (made with the direct API), whose end PIM cannot change; "
               "to make it {wanted}, revoke it and grant it again through PIM: provisioner roles revoke {upn} "
               "{ref} --active, then provisioner roles assign {upn} {ref}{option}")


def new_end(held_end: str | None, holding: Holding, now: datetime) -> tuple[bool, str | None]:
    """(whether the held assignment's end must move, its new end: Graph's UTC form, None for no end)."""
    end = parse_datetime(held_end)
    if holding.end:
        return (end is None or end.date().isoformat() != holding.end[:10]), holding.end
    if holding.duration:
        span = expiry.iso_span(holding.duration)
        if span is None:  # not a duration this tool measures: the end is left to the admin
            return False, None
        limit = now + span
        return (end is None or end.date() > limit.date()), format_datetime(limit)
    return end is not None, None


def check_future(upn: str, role: RoleDefinition, holding: Holding, ref: str, now: datetime) -> None:
    """An ``until`` not after now cannot be granted (Graph: the end must be after the start)."""
    end = parse_datetime(holding.end)
    if end is not None and end <= now:
        raise ProvisionerError(f"role {ref!r} ({role.display_name}) of {upn}: until = {holding.end[:10]} is not in "
                               "the future; give a later date, or leave the role out of the manifest to revoke it")


def reschedule(upn: str, object_id: str, role: RoleDefinition, held: RoleAssignment, holding: Holding,
               state: TenantState, ref: str) -> tuple[list[Change], list[str]]:
    """The change moving ``held``'s end to what ``holding`` asks (none when it already ends on that day),
    or a note when it cannot be moved (an active assignment made outside PIM)."""
    move, end = new_end(held.end, holding, state.now)
    if not move:
        return [], []
    check_future(upn, role, holding, ref, state.now)
    wanted = (f"end on {end[:10]}" if end else "permanent") + (f" ({holding.duration} from now)"
                                                                if holding.duration else "")
    if state.pim is False:  # only a direct, permanent assignment can be held: the manifest asks an end
        raise ProvisionerError(NO_PIM.format(what=f"{role.display_name} for {upn}: a time-bound assignment")
                               .replace(" (without --eligible, --until or --duration)",
                                        " (a plain role name in the manifest)"))
    if not held.eligible and held.outside_pim is not False:
        option = f" --until {holding.end[:10]}" if holding.end else f" --duration {holding.duration}" \
            if holding.duration else ""
        return [], [OUTSIDE_PIM.format(upn=upn, role=role.display_name, wanted=wanted, ref=ref, option=option)]
    expiry.check(role, Holding(eligible=held.eligible, end=end), state, expiry.MANIFEST)
    old = format_datetime(parse_datetime(held.end))
    said = f"until {holding.end[:10]}" if holding.end else f"for {holding.duration}" if holding.duration \
        else "permanent"
    return [Change(Action.RESCHEDULE, upn, object_id, role_id=role.template_id, role_name=role.display_name,
                   assignment_id=held.id, eligible=held.eligible, updates={"endDateTime": (old, end)},
                   justification=holding.justification or (None if held.eligible else DEFAULT_JUSTIFICATION),
                   reason=f"held {held.describe()}; the manifest says {said}")], []
