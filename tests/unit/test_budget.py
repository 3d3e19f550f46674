"""The write budget an earlier run spent, read back from the journal's tail."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from provisioner.journal import recent_writes
from provisioner.pacing import Budget

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _record(seconds_ago: float, tenant: str = "prod", code: str | None = None) -> str:
    when = (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps({"time": when, "tenant": tenant, "action": "create", "status": "ok", "code": code})


def test_counts_this_tenants_writes_inside_the_window(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    lines = [_record(400), _record(200), _record(149), _record(100, "other"), _record(60),
             _record(30, code="FailedDependency"), "not json", _record(1)]
    journal.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert recent_writes(journal, "prod", 150, now=NOW) == 3


def test_no_journal_means_nothing_spent(tmp_path: Path) -> None:
    assert recent_writes(tmp_path / "missing.jsonl", "prod", 150, now=NOW) == 0


def test_a_spent_budget_starts_with_fewer_tokens() -> None:
    assert Budget(3000, 150, spent=1000)._tokens == 3000 * 0.98 - 1000
    assert Budget(3000, 150, spent=5000)._tokens == 0.0
