"""The journal and the results file: one record per change as it settles, never a secret.

The journal (JSON lines, appended) is also read back: the writes it records in the last window
are the part of Graph's write budget an earlier run on this machine has spent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from provisioner.changes import Change
from provisioner.output import spreadsheet_cell


@dataclass
class Outcome:
    change: Change
    status: str  # "ok", "failed", "unknown" (interrupted while in flight) or "refused" (held back)
    http_status: int | None = None
    code: str | None = None
    message: str | None = None
    request_id: str | None = None
    object_id: str | None = None

    @property
    def retryable(self) -> bool:
        """Whether running the same command again can make it apply: an interruption, throttling, a
        transient failure or a lost answer can; a refusal (400, 403, 404, ...) needs its cause fixed."""
        from provisioner.graph import RETRIED, classify

        if self.status == "unknown":
            return True
        if self.status != "failed":
            return False
        lost = self.code in ("TransportError", "NoResponse")
        return lost or classify(self.http_status or 0, self.code or "") in RETRIED

    def to_json(self) -> dict[str, Any]:
        c = self.change
        return {
            "action": c.action.value,
            "userPrincipalName": c.upn,
            "objectId": self.object_id or c.object_id,
            "roleName": c.role_name,
            "status": self.status,
            "httpStatus": self.http_status,
            "code": self.code,
            "message": self.message,
            "requestId": self.request_id,
        }


class OutcomeSink(Protocol):
    def write(self, outcome: Outcome) -> None: ...

    def flush(self) -> None: ...


class JsonLines:
    """Appends one JSON object per outcome; flushed after every batch, so a crash loses at most the
    batch in flight."""

    def __init__(self, stream: IO[str], extra: Mapping[str, Any] | None = None):
        self._stream = stream
        self._extra = dict(extra or {})

    def write(self, outcome: Outcome) -> None:
        record = {"time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), **self._extra}
        record.update(outcome.to_json())
        self._stream.write(json.dumps(record) + "\n")

    def flush(self) -> None:
        self._stream.flush()


def recent_writes(journal: Path, tenant: str, window: float, *, now: datetime | None = None) -> int:
    """Writes the journal records for ``tenant`` in the last ``window`` seconds: the part of Graph's
    write budget an earlier run on this machine has spent, so back-to-back jobs start paced.

    Reads only the journal's tail (a record is about 300 bytes; the budget is 3,000 writes)."""
    cutoff = (now or datetime.now(UTC)).timestamp() - window
    try:
        with journal.open("rb") as f:
            size = f.seek(0, 2)
            f.seek(max(0, size - 2_000_000))
            # At most the tail's length: a journal named /dev/full or /dev/zero reads without end.
            tail = f.read(2_000_000).decode("utf-8", "replace").splitlines()
    except OSError:
        return 0
    count = 0
    for line in reversed(tail):
        try:
            record = json.loads(line)
            when = datetime.strptime(record["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
        except (ValueError, KeyError, TypeError):
            continue
        if when < cutoff:
            break
        if record.get("tenant") == tenant and record.get("code") != "FailedDependency":
            count += 1
    return count


class JsonArray:
    """One JSON array of results (``-o json``), written as they come and closed at the end."""

    def __init__(self, stream: IO[str]):
        self._stream = stream
        self._count = 0

    def write(self, outcome: Outcome) -> None:
        item = json.dumps(outcome.to_json(), indent=2).replace("\n", "\n  ")
        self._stream.write(("[\n  " if not self._count else ",\n  ") + item)
        self._count += 1

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        self._stream.write("\n]\n" if self._count else "[]\n")
        self._stream.flush()


class CsvResults:
    """The results file as CSV, for a spreadsheet: a cell that would start a formula (a UPN or a
    message echoing tenant data) is written as text."""

    FIELDS = ("action", "userPrincipalName", "objectId", "roleName", "status", "httpStatus", "code",
              "message", "requestId")

    def __init__(self, stream: IO[str]):
        import csv

        self._writer = csv.DictWriter(stream, fieldnames=self.FIELDS)
        self._writer.writeheader()
        stream.flush()  # a file that takes no data (a full device) fails here, before the first write
        self._stream = stream

    def write(self, outcome: Outcome) -> None:
        self._writer.writerow({k: spreadsheet_cell(v) for k, v in outcome.to_json().items()})

    def flush(self) -> None:
        self._stream.flush()
