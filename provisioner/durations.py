"""Durations typed by the admin: ``--expiring-within 7d``, ``local clock advance 1d12h``.

One grammar everywhere: a bare number means days (``7``), or one or more number-and-unit parts,
units ``w`` ``d`` ``h`` ``m`` ``s`` in any case (``2w``, ``36h``, ``90m``, ``30s``, ``1d12h``).
At most 100 years: anything longer is a typo, and a ``timedelta`` (or the date it is added to)
would overflow on the way.
"""

from __future__ import annotations

import re
from datetime import timedelta

import click

MAX_DAYS = 36500
_MAX = timedelta(days=MAX_DAYS)
_PART = re.compile(r"(\d+)([wdhms])")
_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
EXAMPLES = "7d, 36h or 90m"


def parse_duration(text: str) -> timedelta:
    """The duration ``text`` names; ``ValueError`` with a one-line reason and fix otherwise."""
    spec = text.strip().lower()
    if spec.isdigit():
        spec += "d"
    parts = _PART.findall(spec)
    if not spec or "".join(n + u for n, u in parts) != spec:
        if spec.startswith("-"):
            raise ValueError(f"{text!r} is negative; use a duration of 0 or more, e.g. {EXAMPLES}")
        raise ValueError(f"{text!r} is not a duration; use e.g. {EXAMPLES}")
    # Summed as integer seconds: Python ints do not overflow, so the bound is checked before any
    # timedelta is built.
    seconds = sum(int(n) * _SECONDS[u] for n, u in parts)
    if seconds > _MAX.total_seconds():
        raise ValueError(f"{text!r} is too long; use at most {MAX_DAYS}d")
    return timedelta(seconds=seconds)


def duration_option(text: str, name: str) -> timedelta:
    """:func:`parse_duration` for a command-line value: a usage error naming ``name`` (the option
    or argument), which the CLI reports on one line with its usage exit code."""
    try:
        return parse_duration(text)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint=name) from None
