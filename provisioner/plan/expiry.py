"""PIM's expiry rules, checked before any write (graph-pim-baseline P§A3, P§A4.4). Pure.

A role whose ``Expiration_Admin_Eligibility`` (eligible) or ``Expiration_Admin_Assignment`` (active)
rule has ``isExpirationRequired`` refuses a permanent grant, and one longer than ``maximumDuration``,
with 400 ``RoleAssignmentRequestPolicyValidationFailed``. Graph would say so only at the write, one
assignment at a time; the planner says it for all of them first, with the maximum the rule allows.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from provisioner.errors import Refused
from provisioner.isoduration import iso_span
from provisioner.model import ExpiryRule, Holding, RoleDefinition, TenantState, parse_datetime

# What a refused grant's message tells the admin to give instead, by where the grant came from.
ROLES_ASSIGN = "give --duration {maximum} or less"
MANIFEST = 'give it duration = "{maximum}" or less in the manifest'
USERS_CREATE = ("create the user without --role, then grant the role time-bound: "
                "provisioner roles assign {upn} {role} --duration {maximum}")


def spoken(span: timedelta) -> str:
    """``90 days``, ``8 hours``, ``1 day 12 hours``, ``30 seconds``: a rule's maximum for people."""
    days, rest = divmod(int(span.total_seconds()), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute"), (seconds, "second")]
    words = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n]
    return " ".join(words) or "0 seconds"


def rule_for(state: TenantState, role: RoleDefinition, eligible: bool) -> ExpiryRule | None:
    policy = state.policies.get(role.template_id.lower())
    return policy.expiry(eligible) if policy else None


def check(role: RoleDefinition, holding: Holding, state: TenantState, fix: str, *, upn: str = "",
          alias: str = "") -> None:
    """Refuse (exit 4) a grant through PIM that the role's expiry rule forbids, naming the role, the rule
    and the maximum; ``fix`` (one of the forms above) says what to give instead."""
    rule = rule_for(state, role, holding.eligible)
    if rule is None or not rule.required:
        return
    limit = iso_span(rule.maximum)
    asked = _asked(holding, state.now)
    if asked is not None and (limit is None or asked <= limit):
        return
    kind = "eligible" if holding.eligible else "active"
    maximum = rule.maximum or "P1D"
    given = "a permanent one" if asked is None else (f"{holding.duration}" if holding.duration
                                                      else f"until {(holding.end or '')[:10]}")
    if limit is not None:
        said = f"allows {kind} assignments of at most {spoken(limit)} ({maximum}, PIM rule {rule.rule_id})"
    else:  # a maximum this tool cannot measure: only a permanent grant is known to break the rule
        said = f"requires {kind} assignments to end (PIM rule {rule.rule_id}, maximum {rule.maximum})"
    raise Refused(f"{role.display_name} {said}, not {given}; "
                  + fix.format(maximum=maximum, upn=upn, role=alias or role.display_name))


def _asked(holding: Holding, now: datetime) -> timedelta | None:
    """How long the grant lasts from now; None when permanent (or its duration cannot be read)."""
    if holding.duration:
        return iso_span(holding.duration)
    end = parse_datetime(holding.end) if holding.end else None
    return end - now if end is not None else None
