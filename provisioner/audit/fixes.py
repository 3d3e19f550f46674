"""What ``audit --fix-plan`` says after the plan: per SCuBA policy, what the plan does and what it
leaves, why, and the command for the rest. Pure text."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from provisioner.output import terminal_text
from provisioner.plan.fixes import FixPlan


def fix_lines(fixed: FixPlan) -> Iterator[str]:
    counts = Counter(f.status for f in fixed.fixes)
    told = ", ".join(f"{n} {status}" for status, n in sorted(counts.items(), key=lambda kv: _ORDER.index(kv[0])))
    yield f"CISA SCuBA baseline (MS.AAD.7) fixes: {told}"
    for f in fixed.fixes:
        # Names come from the tenant: no control character reaches the terminal.
        yield terminal_text(f"  {f.policy_id} {f.status}" + (f": {f.text}" if f.text else ""))
        yield from (terminal_text(f"      -> {command}") for command in f.commands)
    if fixed.notes:
        yield "Notes:"
        yield from (terminal_text(f"  - {note}") for note in fixed.notes)


_ORDER = ("planned", "partly planned", "not planned", "not checked", "met")
