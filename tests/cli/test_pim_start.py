"""PIM schedule requests carry ``scheduleInfo.startDateTime`` (every docs example sends it, P§A1.2,
A2.1): now by the tenant's clock, stamped when sent; ``adminRemove`` sends no ``scheduleInfo``
(optional for eligibility, P§A1.1). Observed in what ``--record`` wrote."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli_tenant import DOMAIN, make_tenant

HELPER = f"helper@{DOMAIN}"


def schedule_items(record: Path) -> list[tuple[dict, dict]]:
    """(request body, answer body) of every PIM schedule request sent in a $batch."""
    found = []
    for line in record.read_text().splitlines():
        exchange = json.loads(line)
        if not exchange["url"].endswith("/$batch"):
            continue
        answers = {a["id"]: a.get("body") for a in exchange["responseBody"]["responses"]}
        found += [(item["body"], answers[item["id"]]) for item in exchange["requestBody"]["requests"]
                  if item["url"].endswith("ScheduleRequests")]
    return found


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_schedule_request_starts_now_by_the_tenants_clock_and_a_removal_has_no_schedule(tmp_path):
    t = make_tenant(tmp_path)
    t.create("helper")
    t.ok("local", "clock", "advance", "10d")  # the tenant's clock, not this machine's
    record = tmp_path / "record.jsonl"
    t.ok("--record", str(record), "roles", "assign", HELPER, "user", "--eligible", "--duration", "P30D", "--yes")
    [(sent, answer)] = schedule_items(record)
    assert list(sent["scheduleInfo"]) == ["startDateTime", "expiration"]
    start = when(sent["scheduleInfo"]["startDateTime"])
    assert timedelta(days=10) - timedelta(minutes=5) < start - datetime.now(UTC) < timedelta(days=10, minutes=5)
    # The tenant took it as its now (a past start is now, P§A1.2): never a start in its future.
    assert timedelta(0) <= when(answer["scheduleInfo"]["startDateTime"]) - start < timedelta(seconds=5)
    assert answer["status"] == "Provisioned"
    removed = tmp_path / "removed.jsonl"
    t.ok("--record", str(removed), "roles", "revoke", HELPER, "user", "--yes")
    [(sent, answer)] = schedule_items(removed)
    assert sent["action"] == "adminRemove" and "scheduleInfo" not in sent
    assert answer["status"] == "Revoked"
