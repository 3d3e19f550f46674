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

# A spreadsheet reads a cell that starts with one of these as a formula (=HYPERLINK(...), +cmd|...,
# @SUM(...)), or a tab or carriage return that Excel drops before one. A leading quote makes it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# C0 and C1 control characters and DEL: ESC ]0;...BEL retitles a terminal window, ESC [2J clears it,
# and U+009B is an escape in one character. Tenant data reaches tables through display names, job
# titles and role names; the line breaks and tabs among them become spaces, the rest is dropped.
_CONTROLS = {c: None for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))} | {0x09: " ", 0x0A: " ", 0x0D: " "}


def terminal_text(text: str) -> str:
    """``text`` with every control character removed (tabs and line breaks become spaces), so data
    shown on a terminal can only ever show, never steer it."""
    return text.translate(_CONTROLS)


def spreadsheet_cell(value: Any) -> Any:
    """A CSV cell: lists joined with ``;``, booleans as ``true``/``false`` (as JSON writes them),
    and a string that would start a formula with a leading single quote, so a spreadsheet shows it
    as text (JSON output stays exact)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        value = ";".join(str(v) for v in value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_keys(row: Mapping[str, Any] | None, columns: Sequence[Column]) -> list[str]:
    """CSV has the columns JSON has: every key of the rows (the listed columns when there is none)."""
    return list(row) if row is not None else [key for key, _ in columns]


class _CsvWriter:
    """Rows ending in a bare newline whose cells are quoted when they hold a carriage return too:
    the csv module quotes only the line terminator's characters, and a bare CR in an unquoted cell
    starts a new row in a spreadsheet (one that could begin with a formula)."""

    def __init__(self, out: Any):
        self._out = out
        self._buf = io.StringIO()
        self._writer = csv.writer(self._buf, lineterminator="\r\n")

    def writerow(self, cells: Sequence[Any]) -> None:
        self._buf.seek(0)
        self._buf.truncate()
        self._writer.writerow(cells)
        self._out.write(self._buf.getvalue()[:-2] + "\n")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return terminal_text(", ".join(str(v) for v in value))
    return terminal_text(value) if isinstance(value, str) else value


def render(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], fmt: str) -> str:
    """Render ``rows`` in ``fmt``. JSON keeps every key of each row, exactly; table and CSV show
    ``columns``: a table without control characters, CSV with formulas shown as text."""
    if fmt == "json":
        return json.dumps(list(rows), indent=2, default=str) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = _CsvWriter(buf)
        keys = csv_keys(rows[0] if rows else None, columns)
        writer.writerow(keys)
        for row in rows:
            writer.writerow([spreadsheet_cell(row.get(k)) for k in keys])
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
        writer = _CsvWriter(out)
        keys: list[str] | None = None
        async for row in rows:
            if keys is None:
                keys = csv_keys(row, columns)
                writer.writerow(keys)
            writer.writerow([spreadsheet_cell(row.get(k)) for k in keys])
        if keys is None:
            writer.writerow(csv_keys(None, columns))
    else:
        out.write(render([row async for row in rows], columns, fmt))
    out.flush()


def render_one(row: Mapping[str, Any], fields: Iterable[Column], fmt: str) -> str:
    """One object: JSON as an object, a table as a two-column list of fields."""
    if fmt == "json":
        return json.dumps(dict(row), indent=2, default=str) + "\n"
    if fmt == "csv":
        return render([row], list(fields), "csv")  # every key, as JSON
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
