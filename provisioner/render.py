"""Plans for people: Terraform-like text for a terminal, Markdown for a pull request or a ticket.
(JSON is ``Plan.to_json()``.)

Markers: ``+`` create a user or assign a role, ``~`` update a user in place, ``^`` restore a
deleted user (it comes back up from the deleted items), ``-`` delete a user, revoke a role or
purge a deleted user. The symbols line above the changes lists only the markers in use.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

from provisioner.changes import Action, Change, Plan
from provisioner.model import DEFAULT_JUSTIFICATION
from provisioner.output import terminal_text

EMPTY = "No changes. The tenant already matches."

MARKERS = {
    Action.CREATE: "+",
    Action.ASSIGN: "+",
    Action.RESCHEDULE: "~",
    Action.UPDATE: "~",
    Action.MANAGER: "~",
    Action.SESSIONS: "~",
    Action.PASSWORD: "~",
    Action.LICENSE: "~",
    Action.RESTORE: "^",
    Action.POLICY_RULE: "~",
    Action.DELETE: "-",
    Action.REVOKE: "-",
    Action.PURGE: "-",
}
_MEANING = {
    Action.CREATE: "create",
    Action.ASSIGN: "assign role",
    Action.RESCHEDULE: "change a role's end",
    Action.UPDATE: "update",
    Action.MANAGER: "set manager",
    Action.SESSIONS: "revoke sign-in sessions",
    Action.PASSWORD: "reset password",
    Action.LICENSE: "change licenses",
    Action.RESTORE: "restore",
    Action.POLICY_RULE: "change PIM role setting",
    Action.DELETE: "delete",
    Action.REVOKE: "revoke role",
    Action.PURGE: "purge",
}
_COLORS = {"+": "\x1b[32m", "~": "\x1b[33m", "^": "\x1b[36m", "-": "\x1b[31m"}
_RESET = "\x1b[0m"
_PASSWORD = {"generate": "(generated)", "supplied": "(supplied)", "random": "(random, shown to nobody)"}


def summary(plan: Plan) -> str:
    """The one-line summary, e.g. ``Plan: 3 to create, 1 to restore, 2 role assignments to add.``"""
    if not plan.changes:
        return EMPTY

    def assignments(n: int, verb: str) -> str:
        return f"{n} role assignment{'s' if n != 1 else ''} to {verb}"

    counts = Counter(c.action for c in plan.changes)
    parts = [
        (counts[Action.CREATE], lambda n: f"{n} to create"),
        (counts[Action.UPDATE], lambda n: f"{n} to update"),
        (counts[Action.SESSIONS], lambda n: f"{n} user{'s' if n != 1 else ''} to sign out"),
        (counts[Action.PASSWORD], lambda n: f"{n} password{'s' if n != 1 else ''} to reset"),
        (counts[Action.RESTORE], lambda n: f"{n} to restore"),
        (counts[Action.POLICY_RULE], lambda n: f"{n} PIM role setting{'s' if n != 1 else ''} to change"),
        (counts[Action.ASSIGN], lambda n: assignments(n, "add")),
        (counts[Action.RESCHEDULE], lambda n: f"{n} role end{'s' if n != 1 else ''} to change"),
        (counts[Action.REVOKE], lambda n: assignments(n, "remove")),
        (counts[Action.MANAGER], lambda n: f"{n} manager{'s' if n != 1 else ''} to change"),
        (counts[Action.LICENSE], lambda n: f"{n} user{'s' if n != 1 else ''} to change licenses of"),
        (counts[Action.DELETE], lambda n: f"{n} to delete"),
        (counts[Action.PURGE], lambda n: f"{n} to purge"),
    ]
    return "Plan: " + ", ".join(text(n) for n, text in parts if n) + "."


def _value(key: str, value: Any) -> str:
    if key == "passwordProfile" and value in _PASSWORD:
        return _PASSWORD[value]
    return json.dumps(value, ensure_ascii=False)


def _settings(c: Change) -> list[tuple[str, Any]]:
    """A create's properties (then ``passwordProfile``: where the password comes from, never the
    password) or a restore's options, by Graph name."""
    if c.action is Action.CREATE:
        return [*c.properties.items(), ("passwordProfile", str(c.password or "generate"))]
    if c.action is Action.PASSWORD:
        return [("passwordProfile", str(c.password or "generate")), *c.properties.items()]
    if c.action is Action.RESTORE:
        options = [("newUserPrincipalName", c.new_upn), ("autoReconcileProxyConflict", c.auto_reconcile or None)]
        return [(k, v) for k, v in options if v is not None]
    if c.action is Action.RESCHEDULE:
        return [("assignment", "eligible" if c.eligible else "active")] + (
            [("justification", c.justification)] if c.justification not in (None, DEFAULT_JUSTIFICATION) else [])
    if c.action in (Action.ASSIGN, Action.REVOKE) and (c.eligible or c.end or c.duration):
        # How the role is granted or which kind goes (PIM); a permanent active one shows nothing extra.
        kind = "eligible" if c.eligible else "active"
        until = f"until {c.end}" if c.end else f"for {c.duration}" if c.duration else "permanent"
        return [("assignment", f"{kind}, {until}" if c.action is Action.ASSIGN else kind)] + (
            [("justification", c.justification)] if c.justification else [])
    if c.action is Action.ASSIGN and c.justification and c.justification != DEFAULT_JUSTIFICATION:
        return [("justification", c.justification)]
    return []


# A PIM rule's settings in words (graph-pim-baseline P§A4.4 "Portal meaning").
RULE_WORDS = {
    ("Notification_Admin_Admin_Assignment", "notificationRecipients"): "alert on active assignment, recipients",
    ("Notification_Admin_Admin_Eligibility", "notificationRecipients"): "alert on eligible assignment, recipients",
    ("Notification_Admin_EndUser_Assignment", "notificationRecipients"): "alert on activation, recipients",
    ("Approval_EndUser_Assignment", "isApprovalRequired"): "activation requires approval",
    ("Approval_EndUser_Assignment", "approvers"): "activation approvers",
}


def rule_lines(c: Change) -> list[str]:
    """``<Role>: <setting in words> = old -> new``, one per setting a policy-rule change makes."""
    return [f"{c.role_name}: {RULE_WORDS.get((c.rule_id or '', k), k)} = {_value(k, old)} -> {_value(k, new)}"
            for k, (old, new) in c.updates.items()]


def _comment(c: Change) -> str:
    if c.action is Action.POLICY_RULE:
        return f"# the PIM rule {c.rule_id} of role {c.role_name} will change" + (f" ({c.reason})" if c.reason else "")
    subject = f"user {c.upn}"
    role = c.role_name or c.role_id or "?"
    what = {
        Action.CREATE: f"{subject} will be created",
        Action.UPDATE: f"{subject} will be updated in-place",
        Action.MANAGER: f"the manager of {subject} will be {_manager_verb(c)}",
        Action.SESSIONS: f"every sign-in session of {subject} will be revoked",
        Action.PASSWORD: f"the password of {subject} will be reset",
        Action.LICENSE: f"the licenses of {subject} will change",
        Action.RESTORE: f"{subject} will be restored",
        Action.ASSIGN: f"role {role} will be assigned to {c.upn}",
        Action.RESCHEDULE: f"the end of role {role} for {c.upn} will change",
        Action.REVOKE: f"role {role} will be revoked from {c.upn}",
        Action.DELETE: f"{subject} will be deleted",
        Action.PURGE: f"{subject} will be permanently deleted",
    }[c.action]
    reason = c.reason
    if c.action is Action.PURGE:
        reason = "purge" + (f"; {reason}" if reason else "")
    return f"# {what}" + (f" ({reason})" if reason else "")


def _manager_verb(c: Change) -> str:
    old, new = c.updates.get("manager", (None, None))
    return "removed" if new is None else "set" if old is None else "changed"


def _block(c: Change) -> list[str]:
    marker = MARKERS[c.action]
    if c.action is Action.POLICY_RULE:
        first, *rest = rule_lines(c)
        return [f"{marker} {first}", *(f"{marker} {line}" for line in rest)]
    if c.action in (Action.ASSIGN, Action.REVOKE, Action.RESCHEDULE):
        head = f"{marker} role {c.role_name or c.role_id} -> {c.upn}"
    else:
        head = f"{marker} user {c.upn}" + (f" ({c.object_id})" if c.object_id and c.action is not Action.CREATE else "")
    lines = [head]
    if c.action is Action.LICENSE:
        return lines + _licenses(c)
    if c.action is Action.RESCHEDULE:
        old, new = c.updates["endDateTime"]
        lines.append(f"    ~ ends = {end_day(old)} -> {end_day(new)}")
    elif c.updates:
        width = max(len(k) for k in c.updates)
        for key, (old, new) in c.updates.items():
            lines.append(f"    ~ {key.ljust(width)} = {_value(key, old)} -> {_value(key, new)}")
    settings = _settings(c)
    if settings:
        width = max(len(k) for k, _ in settings)
        lines += [f"      {k.ljust(width)} = {_value(k, v)}" for k, v in settings]
    return lines


def end_day(end: str | None) -> str:
    """A role's end for people: its day (UTC), or ``permanent``."""
    return end[:10] if end else "permanent"


def _licenses(c: Change) -> list[str]:
    """``+ SKU`` added (with its disabled plans), ``- SKU`` removed, ``~ SKU`` its disabled plans changed."""
    lines = []
    for sku, (old, new) in c.updates.items():
        name = c.properties.get(sku, sku)
        mark = "-" if new is None else "+" if old is None else "~"
        off = [c.properties.get(p, p) for p in new or ()]
        lines.append(f"    {mark} license {name}" + (f" (disabled plans: {', '.join(off)})" if off else ""))
    return lines


def render_text(plan: Plan, *, color: bool = False) -> str:
    """The plan as Terraform-like text: a symbols line, one commented block per change, a summary.

    Never shows a password: a create says ``passwordProfile = (generated)`` or ``(supplied)``.
    """
    return "\n".join(text_lines(plan, color=color))


def text_lines(plan: Plan, *, color: bool = False) -> Iterator[str]:
    """``render_text`` line by line, so a plan of 100,000 changes is never one string."""
    if not plan.changes:
        yield EMPTY
        return
    present = {c.action for c in plan.changes}
    symbols = []
    for marker in ("+", "~", "^", "-"):
        meanings = [_MEANING[a] for a in Action if a in present and MARKERS[a] == marker]
        if meanings:
            symbols.append(_paint(marker, color) + " " + ", ".join(meanings))
    yield "Changes are marked: " + "; ".join(symbols)
    yield ""
    for c in plan.changes:
        # Names and values come from the tenant or an input file: no control character reaches the
        # terminal (the plan's own colours are added after).
        yield "  " + terminal_text(_comment(c))
        block = [terminal_text(line) for line in _block(c)]
        yield "  " + _paint(block[0], color, MARKERS[c.action])
        yield from ("  " + line for line in block[1:])
        yield ""
    yield summary(plan)


def _paint(text: str, color: bool, marker: str | None = None) -> str:
    if not color:
        return text
    return f"{_COLORS[marker or text]}{text}{_RESET}"


def _cell(value: Any) -> str:
    """A Markdown table cell: HTML in it is shown, never run (a ticket or a wiki renders the rest)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = html.escape(terminal_text(text), quote=False)
    return text.replace("\\", "\\\\").replace("|", "\\|")


_TABLES: tuple[tuple[Action, str, tuple[str, ...]], ...] = (
    (Action.CREATE, "Users to create", ("User", "Attributes", "Reason")),
    (Action.UPDATE, "Users to update", ("User", "Changes", "Reason")),
    (Action.SESSIONS, "Users to sign out (sessions revoked)", ("User", "Object id", "Reason")),
    (Action.PASSWORD, "Passwords to reset", ("User", "Settings", "Reason")),
    (Action.RESTORE, "Users to restore", ("User", "Object id", "Options", "Reason")),
    (Action.POLICY_RULE, "PIM role settings to change", ("Role", "Rule", "Changes", "Reason")),
    (Action.ASSIGN, "Role assignments to add", ("User", "Role", "Reason")),
    (Action.RESCHEDULE, "Role ends to change", ("User", "Role", "Ends", "Reason")),
    (Action.REVOKE, "Role assignments to remove", ("User", "Role", "Reason")),
    (Action.MANAGER, "Managers to change", ("User", "Changes", "Reason")),
    (Action.LICENSE, "Licenses to change", ("User", "Changes", "Reason")),
    (Action.DELETE, "Users to delete", ("User", "Object id", "Reason")),
    (Action.PURGE, "Deleted users to purge (permanent)", ("User", "Object id", "Reason")),
)


def _row(c: Change) -> list[str]:
    if c.action is Action.POLICY_RULE:
        changes = "<br>".join(_cell(line.split(": ", 1)[1]) for line in rule_lines(c))
        return [_cell(c.role_name or ""), f"`{_cell(c.rule_id or '')}`", changes, _cell(c.reason)]
    user = f"`{_cell(c.upn)}`"
    attrs = "<br>".join(f"{k}: {_cell(_value(k, v) if k == 'passwordProfile' else v)}" for k, v in _settings(c))
    if c.action in (Action.CREATE, Action.PASSWORD):
        return [user, attrs, _cell(c.reason)]
    if c.action is Action.LICENSE:
        return [user, "<br>".join(line.strip() for line in _licenses(c)), _cell(c.reason)]
    if c.action in (Action.UPDATE, Action.MANAGER):
        changes = "<br>".join(f"{k}: {_cell(old)} → {_cell(new)}" for k, (old, new) in c.updates.items())
        return [user, changes, _cell(c.reason)]
    if c.action is Action.RESTORE:
        return [user, f"`{c.object_id}`", attrs, _cell(c.reason)]
    if c.action in (Action.ASSIGN, Action.REVOKE):
        return [user, _cell(c.role_name or c.role_id or ""), _cell(c.reason)]
    if c.action is Action.RESCHEDULE:
        old, new = c.updates["endDateTime"]
        kind = "eligible" if c.eligible else "active"
        return [user, _cell(f"{c.role_name or c.role_id} ({kind})"), _cell(f"{end_day(old)} → {end_day(new)}"),
                _cell(c.reason)]
    return [user, f"`{c.object_id}`", _cell(c.reason)]


def render_markdown(plan: Plan) -> str:
    """The plan as Markdown: the summary as a heading, then one table per kind of change."""
    return "\n".join(markdown_lines(plan))


def markdown_lines(plan: Plan) -> Iterator[str]:
    """``render_markdown`` line by line."""
    if not plan.changes:
        yield EMPTY
        return
    yield f"### {summary(plan)}"
    counts = Counter(c.action for c in plan.changes)
    for action, title, headings in _TABLES:
        count = counts[action]
        if not count:
            continue
        yield from ("", f"#### {title} ({count})", "")
        yield "| " + " | ".join(headings) + " |"
        yield "|" + "---|" * len(headings)
        yield from ("| " + " | ".join(_row(c)) + " |" for c in plan.changes if c.action is action)
