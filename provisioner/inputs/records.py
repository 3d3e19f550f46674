"""Reading a user file into records: CSV (UTF-8 with or without BOM; ``,`` ``;`` or tab, taken
from the heading line; plain Graph headings or the Entra admin center template's) or JSON (a list
of objects). A record maps each column to its cell; checking the cells is ``rows``' job.

Row numbers count data rows from 1, the way a spreadsheet user counts them below the heading
line(s): the first row under the headings is row 1, for a plain CSV (one heading line) and for the
Entra admin center template (a ``version:v1.0`` line, then the headings) alike. Blank lines count,
as in a spreadsheet, but are otherwise skipped. Row 0 means the heading line itself.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provisioner.errors import RowError
from provisioner.inputs.fields import EntryError

_HEADING_PROPERTY = re.compile(r"\[([A-Za-z]+)\]")
# Columns the tool reads, by Graph name. ``password`` and ``passwordProfile`` are the same column.
ATTRIBUTE_COLUMNS = ("displayName", "givenName", "surname", "jobTitle", "department", "usageLocation")
KNOWN_COLUMNS = (
    "userPrincipalName",
    "objectId",
    *ATTRIBUTE_COLUMNS,
    "accountEnabled",
    "password",
    "roles",
)
_ALIASES = {"passwordprofile": "password", "id": "objectId"}


@dataclass(frozen=True)
class Column:
    name: str  # one of KNOWN_COLUMNS, or "" for an Entra template column the tool does not write
    heading: str
    inverted: bool = False  # "Block sign in (Yes/No)": Yes means accountEnabled false


Record = Mapping[Column, Any]


def records(path: Path) -> Iterator[tuple[int, Record | RowError | None]]:
    """(row number, record) pairs; a record is None for a blank line, a RowError for a bad file."""
    if path.suffix.lower() == ".json":
        yield from _json_records(path)
    else:
        yield from _csv_records(path)


def _csv_records(path: Path) -> Iterator[tuple[int, Record | RowError | None]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        first = f.readline()
        template = first.strip().lower().startswith("version:")
        heading_line = f.readline() if template else first
        delimiter = max(",;\t", key=heading_line.count) if any(d in heading_line for d in ",;\t") else ","
        headings = next(csv.reader([heading_line], delimiter=delimiter), [])
        columns, heading_problems = heading_columns(headings, template)
        if heading_problems:
            for p in heading_problems:
                yield 0, p
            return
        for row, cells in enumerate(csv.reader(f, delimiter=delimiter), start=1):
            if not any(c.strip() for c in cells):
                yield row, None
                continue
            if len(cells) > len(columns):
                yield (
                    row,
                    RowError(
                        row,
                        "-",
                        f"{len(cells)} cells but {len(columns)} headings; quote cells that contain {delimiter!r}",
                    ),
                )
                continue
            yield row, {col: cells[i].strip() for i, col in enumerate(columns) if i < len(cells)}


def _json_records(path: Path) -> Iterator[tuple[int, Record | RowError | None]]:
    with path.open(encoding="utf-8-sig") as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            yield 0, EntryError(0, "-", f"not valid JSON ({e.msg} at line {e.lineno}); fix the file", "file")
            return
    if not isinstance(data, list):
        yield 0, EntryError(0, "-", "expected a JSON list of user objects: [{...}, {...}]", "file")
        return
    keys = sorted({k for item in data if isinstance(item, dict) for k in item})
    columns, problems = heading_columns(keys, template=False)
    for p in problems:
        yield 0, p
    if problems:
        return
    by_key = dict(zip(keys, columns, strict=True))
    for row, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            yield row, RowError(row, "-", "expected an object with keys like userPrincipalName")
            continue
        yield row, {by_key[k]: (v.strip() if isinstance(v, str) else v) for k, v in item.items()}


def heading_columns(headings: list[str], template: bool) -> tuple[list[Column], list[RowError]]:
    known = {c.lower(): c for c in KNOWN_COLUMNS} | _ALIASES
    columns: list[Column] = []
    problems: list[RowError] = []
    seen: set[str] = set()
    for heading in headings:
        text = heading.strip()
        match = _HEADING_PROPERTY.search(text)
        prop = match.group(1) if match else text
        name = known.get(prop.lower())
        if name is None:
            if match:
                # The Entra template carries columns (street address, phone ...) this tool does
                # not write; they are accepted as long as they stay empty.
                columns.append(Column("", text))
                continue
            problems.append(
                RowError(
                    0,
                    text or "(empty heading)",
                    "unknown column; accepted headings are "
                    + ", ".join(KNOWN_COLUMNS)
                    + " or the Entra admin center template's",
                )
            )
            continue
        if name in seen:
            problems.append(RowError(0, text, f"column {name} appears twice; keep one"))
        seen.add(name)
        inverted = name == "accountEnabled" and "block" in text.lower()
        columns.append(Column(name, text, inverted))
    return columns, problems
