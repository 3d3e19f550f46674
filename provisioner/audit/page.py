"""The audit report as one self-contained HTML page (inline CSS, no scripts), printable."""

from __future__ import annotations

import html
from collections.abc import Sequence

from provisioner.audit.report import AuditReport
from provisioner.audit.text import (
    BASELINE_COLUMNS,
    BASELINE_TITLE,
    DRIFT_COLUMNS,
    FINDING_COLUMNS,
    HOLDER_COLUMNS,
    OWN_COLUMNS,
    baseline_summary,
    change_row,
    finding_row,
    headline,
    holder_row,
    own_row,
    result_word,
)
from provisioner.model import format_datetime

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; color: #1b1b1b; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
tr { page-break-inside: avoid; }
.error { background: #fde2e1; }
.warning { background: #fff4ce; }
.info { background: #e8f1fb; }
.met { background: #e3f4e1; }
.not-met { background: #fde2e1; }
.not-checked { background: #f0f0f0; }
.meta, .note { color: #555; }
@media print { body { margin: 0; } h2 { page-break-after: avoid; } }
"""


def _html_table(rows: list[list[str]], headers: Sequence[str], table_id: str,
                classes: Sequence[str] | None = None) -> str:
    if not rows:
        return f'<p id="{table_id}" class="none">None.</p>'
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{e(classes[i])}"' if classes else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>")
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def render_html(r: AuditReport) -> str:
    e = html.escape
    tenant = r.tenant or "the tenant"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Admin audit of {e(tenant)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Admin audit of {e(tenant)}</h1>",
        f'<p class="meta" id="summary">Generated {e(format_datetime(r.generated) or "")}. {e(headline(r))}.</p>',
        "<h2>Findings</h2>",
        _html_table([finding_row(f) for f in r.findings], FINDING_COLUMNS, "findings",
                    [f.severity.value for f in r.findings]),
        f"<h2>{'Holders of privileged roles' if r.all_roles else 'Holders of the classic admin roles'}</h2>",
        _html_table([holder_row(h) for h in r.holders], HOLDER_COLUMNS, "holders"),
    ]
    empty = [x.name for x in r.roles if not x.holders and not x.eligible]
    if empty:
        parts.append(f'<p class="note">Roles without holders: {e(", ".join(empty))}.</p>')
    if r.drift is not None:
        parts.append(f"<h2>Drift from {e(r.drift.manifest)}</h2>")
        parts.append(_html_table([change_row(c) for c in r.drift.changes], DRIFT_COLUMNS, "drift"))
        parts += [f'<p class="note">{e(n)}</p>' for n in r.drift.notes]
        parts.append(f'<p id="drift-summary"><strong>{e(r.drift.summary)}</strong></p>')
    if r.baseline is not None:
        parts += _baseline(r)
    parts += [f'<p class="note">{e(n)}</p>' for n in r.notes]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _baseline(r: AuditReport) -> list[str]:
    """The SCuBA results; ScubaGear's details keep their line breaks."""
    e = html.escape
    b = r.baseline
    assert b is not None
    rows = []
    for p in b.results:
        cls = result_word(p.requirement_met).replace(" ", "-")
        details = e(p.details).replace("&lt;br/&gt;", "<br>").replace("\n", "<br>")
        cells = [e(p.policy_id), e(p.criticality), e(result_word(p.requirement_met)), e(p.title), details]
        rows.append(f'<tr class="{cls}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{e(h)}</th>" for h in BASELINE_COLUMNS)
    parts = [f"<h2>{e(BASELINE_TITLE)}</h2>", f'<p class="meta" id="baseline-summary">{e(baseline_summary(b))}.</p>',
             f'<table id="baseline"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>']
    if b.findings:
        parts += ["<h2>Beside the baseline</h2>",
                  _html_table([own_row(f) for f in b.findings], OWN_COLUMNS, "baseline-findings",
                              [f.severity for f in b.findings])]
    parts += [f'<p class="note">{e(n)}</p>' for n in b.notes]
    return parts
