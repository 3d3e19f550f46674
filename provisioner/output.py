"""Rendering rows as a table (tabulate), JSON or CSV, and progress on stderr.

Data goes to stdout; everything else (progress, notes, the target line) to stderr.
JSON rows use Graph's property names; tables use readable headings.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from typing import Any

Column = tuple[str, str]  # (key in the row, table heading)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return value


def render(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], fmt: str) -> str:
    """Render ``rows`` in ``fmt``. JSON keeps every key of each row; table and CSV show ``columns``."""
    if fmt == "json":
        return json.dumps(list(rows), indent=2, default=str) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([key for key, _ in columns])
        for row in rows:
            writer.writerow(["" if row.get(k) is None else row.get(k) for k, _ in columns])
        return buf.getvalue()
    from tabulate import tabulate

    if not rows:
        return "(none)\n"
    table = [[_cell(row.get(k)) for k, _ in columns] for row in rows]
    return tabulate(table, headers=[h for _, h in columns], tablefmt="simple", disable_numparse=True) + "\n"


async def write_rows(rows: AsyncIterable[Mapping[str, Any]], columns: Sequence[Column], fmt: str,
                     out: Any = None) -> None:
    """Write rows to stdout as they arrive: JSON and CSV stream (a 100,000-user listing is never
    held whole); a table needs every row to size its columns."""
    out = out or sys.stdout
    if fmt == "json":
        first = True
        async for row in rows:
            item = json.dumps(dict(row), indent=2, default=str).replace("\n", "\n  ")
            out.write(("[\n  " if first else ",\n  ") + item)
            first = False
        out.write("[]\n" if first else "\n]\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([key for key, _ in columns])
        async for row in rows:
            writer.writerow(["" if row.get(k) is None else row.get(k) for k, _ in columns])
    else:
        out.write(render([row async for row in rows], columns, fmt))
    out.flush()


def render_one(row: Mapping[str, Any], fields: Iterable[Column], fmt: str) -> str:
    """One object: JSON as an object, a table as a two-column list of fields."""
    if fmt == "json":
        return json.dumps(dict(row), indent=2, default=str) + "\n"
    if fmt == "csv":
        return render([row], list(fields), "csv")
    from tabulate import tabulate

    return tabulate([[h, _cell(row.get(k))] for k, h in fields], tablefmt="plain") + "\n"


class Progress:
    """A one-line progress counter (count, rate, ETA) on stderr, drawn only on a terminal."""

    def __init__(self, label: str, stream: Any = None, enabled: bool | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label = label
        self.started = time.monotonic()
        self._drawn = 0.0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._drawn < 0.1:
            return
        self._drawn = now
        elapsed = max(now - self.started, 1e-6)
        rate = done / elapsed
        eta = (total - done) / rate if rate else 0
        self.stream.write(f"\r{self.label}: {done:,}/{total:,}  {rate:,.0f}/s  ETA {eta:,.0f}s ")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
