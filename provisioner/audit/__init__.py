"""The read-only audit: who holds admin roles, what is wrong with that, what is about to expire,
and (given a manifest) what a sync would change. Pure: the report is built from a ``TenantState``
and rendered as a table, JSON, Markdown or one self-contained HTML page.

Modules: ``report`` (the data and its JSON form), ``findings`` (building the report),
``text`` (table, JSON, Markdown) and ``page`` (HTML). The names below are the package's API.
"""

from __future__ import annotations

from provisioner.audit.findings import audit
from provisioner.audit.page import render_html
from provisioner.audit.report import (
    CODES,
    FORMAT_VERSION,
    AuditedRole,
    AuditReport,
    Drift,
    Finding,
    Holder,
    Severity,
    plan_summary,
)
from provisioner.audit.text import render_json, render_markdown, render_table

__all__ = [
    "CODES",
    "FORMAT_VERSION",
    "RENDERERS",
    "AuditReport",
    "AuditedRole",
    "Drift",
    "Finding",
    "Holder",
    "Severity",
    "audit",
    "plan_summary",
    "render",
]

RENDERERS = {"table": render_table, "json": render_json, "markdown": render_markdown, "html": render_html}


def render(report: AuditReport, fmt: str) -> str:
    return RENDERERS[fmt](report)
