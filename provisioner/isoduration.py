"""ISO 8601 durations as PIM writes and reads them (``P90D``, ``PT8H``, ``P1DT2H``, ``PT1H45M``).
Stdlib only: the plan file format checks them too.

One parser for the whole product: a policy rule's ``maximumDuration``, a grant's duration, a plan
file's ``duration``. Weeks (``P1W``) and seconds (``PT30S``) are read; years and months have no fixed
length and are not (their check is left to Graph). What is written is :func:`iso_text`'s form, days
and time only (``P7D`` for ``P1W``): Graph's durations are day-time durations.
"""

from __future__ import annotations

import re
from datetime import timedelta

# At least one number after P and after T: "P", "PT" and "P1DT" are not durations.
_ISO = re.compile(r"P(?=\d|T\d)(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?",
                  re.IGNORECASE)
# Longer is a typo (as for the tool's own durations), and a timedelta would overflow on the way.
MAX = timedelta(days=36500)


def iso_span(text: object) -> timedelta | None:
    """The span an ISO 8601 duration names; None for any other text, or one over 100 years."""
    m = _ISO.fullmatch(text) if isinstance(text, str) else None
    if not m:
        return None
    w, d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    seconds = (((w * 7 + d) * 24 + h) * 60 + mi) * 60 + s
    if seconds > MAX.total_seconds():
        return None
    return timedelta(seconds=seconds)


def iso_text(span: timedelta) -> str | None:
    """The duration to send for ``span``, whole seconds (``P7D``, ``PT8H``, ``P1DT12H``, ``PT30S``);
    None when under a second."""
    days, rest = divmod(int(span.total_seconds()), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    if not days and not time:
        return None
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")


def sent(span: timedelta) -> str:
    """The duration sent to PIM for a positive ``span``: :func:`iso_text`, a fraction of a second
    rounded up to ``PT1S`` (never none: no duration would mean a permanent assignment)."""
    return iso_text(span) or "PT1S"
