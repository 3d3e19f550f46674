"""The audit report as text: a terminal table, JSON, and Markdown (for a ticket or a wiki page).
The rows are the same in every format; ``page`` lays them out as HTML.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence

from provisioner.audit.baseline import Baseline, OwnFinding, PolicyResult
from provisioner.audit.report import AuditReport, Finding, Holder, Severity, day
from provisioner.changes import Change
from provisioner.model import format_datetime
from provisioner.output import terminal_text
from provisioner.render import MARKERS

HOLDER_COLUMNS = ("Role", "User", "Name", "Assignment", "Enabled", "Source", "Created")
FINDING_COLUMNS = ("Severity", "Finding", "Evidence", "Fix")
DRIFT_COLUMNS = ("", "Action", "User", "Role", "Reason")
BASELINE_COLUMNS = ("Policy", "Criticality", "Result", "Requirement", "Details")
OWN_COLUMNS = ("Reference", "Beside", "Severity", "Finding")
BASELINE_TITLE = "CISA SCuBA baseline: highly privileged access (MS.AAD.7)"


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def holder_row(h: Holder) -> list[str]:
    u = h.user
    who = h.upn or h.principal_id
    if h.principal_type == "deletedUser":
        who += " (deleted)"
    elif h.principal_type == "other":
        who += " (not a user)"
    scope = "" if h.scope == "/" else f" [scope {h.scope}]"
    return [
        h.role.name + scope,
        who,
        u.display_name if u else "",
        h.held.describe() if h.held else "",
        _yes_no(u.account_enabled) if u else "",
        ("synced" if u.synced else "cloud-only") if u else "",
        day(u.created) if u else "",
    ]


def finding_row(f: Finding) -> list[str]:
    return [f.severity.value, f.title, f.evidence, f.fix]


def change_row(c: Change) -> list[str]:
    return [MARKERS[c.action], c.action.value, c.upn, c.role_name or "", c.reason]


def result_word(met: bool | None) -> str:
    return "not checked" if met is None else ("met" if met else "not met")


def plain(details: str) -> str:
    """ScubaGear's details (HTML line breaks, a newline in 7.2) on one line of text."""
    return details.replace("<br/>", " ").replace("\n", "; ")


def policy_row(p: PolicyResult) -> list[str]:
    return [p.policy_id, p.criticality, result_word(p.requirement_met), p.title, plain(p.details)]


def own_row(f: OwnFinding) -> list[str]:
    return [f.reference, f.beside, f.severity, f.text]


def baseline_summary(b: Baseline) -> str:
    met = [r.requirement_met for r in b.results]
    failed = len(b.failed_shall())
    return (f"{met.count(True)} met, {met.count(False)} not met ({failed} Shall), "
            f"{met.count(None)} not checked")


def headline(r: AuditReport) -> str:
    counts = ", ".join(f"{r.count(s)} {s.value}" for s in Severity)
    return (f"{r.users} users, {r.deleted_users} deleted users, {r.global_admins} Global Administrator(s); "
            f"findings: {counts}")


WRAP = 72  # characters of a baseline detail or finding per line in the table


def render_table(r: AuditReport) -> str:
    from tabulate import tabulate

    def table(rows: list[list[str]], headers: Sequence[str], *, wrap_last: int | None = None) -> str:
        if not rows:
            return "(none)"
        # Cells hold tenant data (names, titles, role names): no control character reaches the terminal.
        rows = [[terminal_text(cell) for cell in row] for row in rows]
        # The baseline's details run to hundreds of characters: wrapped in their column, not the terminal.
        widths = [None] * (len(headers) - 1) + [wrap_last] if wrap_last else None
        return tabulate(rows, headers=list(headers), tablefmt="simple", disable_numparse=True, maxcolwidths=widths)

    out = [terminal_text(f"Audit of {r.tenant or 'the tenant'} at {format_datetime(r.generated)}"), headline(r), ""]
    out += ["Findings", table([finding_row(f) for f in r.findings], FINDING_COLUMNS), ""]
    title = "Holders of privileged roles" if r.all_roles else "Holders of the classic admin roles"
    out += [title, table([holder_row(h) for h in r.holders], HOLDER_COLUMNS), ""]
    empty = [x.name for x in r.roles if not x.holders and not x.eligible]
    if empty:
        out += [terminal_text("Roles without holders: " + ", ".join(empty)), ""]
    if r.drift is not None:
        drift = table([change_row(c) for c in r.drift.changes], DRIFT_COLUMNS)
        out += [terminal_text(f"Drift from {r.drift.manifest}"), drift]
        out += [*map(terminal_text, r.drift.notes), r.drift.summary, ""]
    if r.baseline is not None:
        b = r.baseline
        out += [BASELINE_TITLE + ": " + baseline_summary(b), table([policy_row(p) for p in b.results],
                                                                   BASELINE_COLUMNS, wrap_last=WRAP), ""]
        if b.findings:
            out += ["Beside the baseline", table([own_row(f) for f in b.findings], OWN_COLUMNS, wrap_last=WRAP), ""]
        out += [terminal_text(f"Note: {n}") for n in b.notes]
    out += [terminal_text(f"Note: {n}") for n in r.notes]
    return "\n".join(out).rstrip("\n") + "\n"


def render_json(r: AuditReport) -> str:
    return json.dumps(r.to_json(), indent=2) + "\n"


def _md_cell(value: str) -> str:
    """Markdown text from tenant data: HTML in it (<script>, <img onerror=...>) is shown, never run,
    wherever the Markdown is rendered; no control character, no line break out of the table."""
    text = html.escape(terminal_text(value), quote=False)
    return text.replace("\\", "\\\\").replace("|", "\\|") or " "


def _md_table(rows: list[list[str]], headers: Sequence[str]) -> list[str]:
    if not rows:
        return ["_None._"]
    lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return lines


def _md_code(value: str) -> str:
    """Text inside a code span: shown as written, so only control characters and backticks go."""
    return terminal_text(value).replace("`", "'")


def render_markdown(r: AuditReport) -> str:
    out = [f"## Audit of {_md_cell(r.tenant or 'the tenant')}", "",
           f"Generated {format_datetime(r.generated)}. {headline(r)}.", ""]
    out += ["### Findings", "", *_md_table([finding_row(f) for f in r.findings], FINDING_COLUMNS), ""]
    title = "Holders of privileged roles" if r.all_roles else "Holders of the classic admin roles"
    out += [f"### {title}", "", *_md_table([holder_row(h) for h in r.holders], HOLDER_COLUMNS), ""]
    empty = [x.name for x in r.roles if not x.holders and not x.eligible]
    if empty:
        out += ["Roles without holders: " + _md_cell(", ".join(empty)) + ".", ""]
    if r.drift is not None:
        out += [f"### Drift from `{_md_code(r.drift.manifest)}`", ""]
        out += [*_md_table([change_row(c) for c in r.drift.changes], DRIFT_COLUMNS), ""]
        out += [f"- {_md_cell(n)}" for n in r.drift.notes]
        out += [f"**{r.drift.summary}**", ""]
    if r.baseline is not None:
        b = r.baseline
        out += [f"### {BASELINE_TITLE}", "", baseline_summary(b) + ".", ""]
        out += [*_md_table([policy_row(p) for p in b.results], BASELINE_COLUMNS), ""]
        if b.findings:
            out += ["#### Beside the baseline", "", *_md_table([own_row(f) for f in b.findings], OWN_COLUMNS), ""]
        out += [f"> {_md_cell(n)}" for n in b.notes]
    out += [f"> {_md_cell(n)}" for n in r.notes]
    return "\n".join(out).rstrip("\n") + "\n"
