"""Reading a user file into records: CSV (see ``text`` for encodings; ``,`` ``;`` or tab, sniffed
from the heading row unless named; plain Graph headings, the Entra admin center template's, or a
PowerShell ``Export-Csv``) or JSON (a list of objects). A record maps each column the tool reads
to its cell; checking the cells is ``rows``' job.

Row numbers are the spreadsheet's: the heading row is row 1, so the first user of a plain CSV is
row 2. A first line Excel users do not edit (the Entra template's ``version:v1.0``, PowerShell's
``#TYPE ...``) is row 1 and the headings row 2. Blank rows count, as in a spreadsheet, and are
skipped. JSON objects are numbered from 1 in list order.

Columns the tool does not know are ignored with one note naming them (``strict_columns`` makes
them a heading problem); a heading problem spoils the whole file.
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
from provisioner.inputs.fields import shown
from provisioner.inputs.text import Decoding, FileProblem, decode_problem, decoding, file_problem, open_text, read_text
from provisioner.model import USER_WRITABLE

_HEADING_PROPERTY = re.compile(r"\[([A-Za-z]+)\]")
# Columns the tool reads, by Graph name. ``password`` and ``passwordProfile`` are the same column.
ATTRIBUTE_COLUMNS = tuple(k for k in USER_WRITABLE if k != "accountEnabled")
KNOWN_COLUMNS = ("userPrincipalName", "objectId", *ATTRIBUTE_COLUMNS, "accountEnabled", "password", "roles",
                 "licenses", "manager", "newUserPrincipalName")  # the last two: users update --from
# Other names for them: the Entra templates' attribute names (in brackets) and Graph's ``id``.
_ALIASES = {
    "passwordprofile": "password",
    "id": "objectId",
    "physicaldeliveryofficename": "officeLocation",
    "telephonenumber": "businessPhones",
    "mobile": "mobilePhone",
}
_KNOWN = {c.lower(): c for c in KNOWN_COLUMNS} | _ALIASES
# PowerShell's Export-Csv writes a list or an object as its .NET type name, not its contents.
_DOTNET_TYPE = re.compile(r"^(System|Microsoft)\.[\w.`,\[\]]+$")
_DELIMITERS = ",;\t"
_DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "tab"}


@dataclass(frozen=True)
class ReadOptions:
    """How to read a CSV: ``encoding`` (None: recognised), ``delimiter`` (None: sniffed) and
    whether unknown columns are an error."""

    encoding: str | None = None
    delimiter: str | None = None
    strict_columns: bool = False


@dataclass(frozen=True)
class HeadingProblem(RowError):
    """A problem with a heading: it spoils every row of the file."""


@dataclass(frozen=True)
class Column:
    name: str  # one of KNOWN_COLUMNS
    heading: str
    inverted: bool = False  # "Block sign in (Yes/No)": Yes means accountEnabled false


Record = Mapping[Column, Any]
Item = tuple[int, "Record | RowError | None"]


@dataclass(frozen=True)
class Number:
    """A JSON number, kept as written: no user property is a number, and parsing a 5,000-digit one
    would fail (or cost) for nothing."""

    text: str

    def __repr__(self) -> str:
        return shown(self.text).strip("'")


def records(path: Path, options: ReadOptions, notes: list[str]) -> Iterator[Item]:
    """(row number, record) pairs; a record is None for a blank row, a RowError for a bad row.
    Notes for the admin (ignored columns, skipped example rows) are appended to ``notes``."""
    how = decoding(path, options.encoding)
    if isinstance(how, FileProblem):
        yield how.row, how
    elif path.suffix.lower() == ".json":
        yield from _json_records(path, how, options, notes)
    else:
        yield from _csv_records(path, how, options, notes)


def _csv_records(path: Path, how: Decoding, options: ReadOptions, notes: list[str]) -> Iterator[Item]:
    row = 0
    try:
        with open_text(path, how) as f:
            first = f.readline().lstrip("\ufeff")
            row = 1
            lead = first.strip().lower()
            heading_line = first
            if lead.startswith(("version:", "#type")):
                heading_line = f.readline()
                row = 2
            if not heading_line.strip():
                yield row, file_problem("has no headings; the first row names the columns, like "
                                        "userPrincipalName,displayName", f"row {row}", row)
                return
            delimiter = options.delimiter or _sniff(heading_line)
            headings = next(csv.reader([heading_line], delimiter=delimiter), [])
            columns, problems = heading_columns(headings, row, options.strict_columns, notes)
            for p in problems:
                yield row, p
            if problems:
                return
            yield from _csv_rows(csv.reader(f, delimiter=delimiter), row, columns, delimiter, notes)
    except UnicodeDecodeError:
        problem = decode_problem(path, how)
        yield problem.row, problem
    except csv.Error as e:
        # Only the heading row gets here (data rows are handled one by one).
        yield row, file_problem(f"cannot be read as CSV ({e}); check its quotes", f"row {row}", row)


def _csv_rows(reader: Any, row: int, columns: list[Column | None], delimiter: str,
              notes: list[str]) -> Iterator[Item]:
    lines_before = row  # lines read before the reader started: the heading row(s)
    noted: set[str] = set()
    while True:
        start = lines_before + reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            message = f"cannot be read as CSV ({e}); no user property is that long: check the quotes in this row"
            yield row + 1, file_problem(message, f"row {row + 1}", row + 1)
            return
        row += 1
        end = lines_before + reader.line_num
        if not any(c.strip() for c in cells):
            yield row, None
            continue
        if cells[0].strip().lower().startswith("example:"):
            notes.append(f"row {row} is the template's example row (it starts with \"Example:\"); skipped")
            yield row, None
            continue
        if end > start:
            index = next((i for i, c in enumerate(cells) if "\n" in c or "\r" in c), 0)
            yield row, RowError(row, _heading(columns, index),
                                f"the cell runs from line {start} to line {end}: a quote (\") opened in it is "
                                "not closed where the cell ends; close the quote or remove the line break")
            continue
        yield row, _record(row, cells, columns, delimiter, noted, notes)


def _record(row: int, cells: list[str], columns: list[Column | None], delimiter: str, noted: set[str],
            notes: list[str]) -> Record | RowError:
    record: dict[Column, Any] = {}
    for i, cell in enumerate(cells):
        value = _unquoted(cell.strip())
        if i >= len(columns):
            if value:
                return RowError(row, "-", f"{len(cells)} cells but {len(columns)} headings; "
                                          f"quote cells that contain {_DELIMITER_NAMES.get(delimiter, delimiter)}")
            continue
        col = columns[i]
        if col is None:
            continue
        if col.name == "":
            if value:
                return RowError(row, col.heading, "a value under no heading; name the column or clear the cell")
            continue
        if value and _DOTNET_TYPE.match(value):
            if col.heading not in noted:
                noted.add(col.heading)
                notes.append(f"column {col.heading} holds {value!r}, PowerShell's text for a list or an object, "
                             "not a value; ignored (export lists with -join)")
            continue
        record[col] = value
    return record


# What this tool's CSV output writes before a cell that would start a spreadsheet formula (see
# provisioner.output.spreadsheet_cell): read back, the quote goes, so exported files feed straight in.
_FORMULA_QUOTED = re.compile(r"^'[=+\-@\t\r]")


def _unquoted(value: str) -> str:
    return value[1:] if _FORMULA_QUOTED.match(value) else value


def _json_records(path: Path, how: Decoding, options: ReadOptions, notes: list[str]) -> Iterator[Item]:
    text = read_text(path, how)
    if isinstance(text, FileProblem):
        yield text.row, text
        return
    try:
        data = json.loads(text.lstrip("\ufeff"), parse_int=Number, parse_float=Number, parse_constant=Number)
    except json.JSONDecodeError as e:
        yield 0, file_problem(f"not valid JSON ({e.msg}); fix the file", f"line {e.lineno}, column {e.colno}")
        return
    except RecursionError:
        yield 0, file_problem('nested too deeply; a user file is a list of flat objects: [{"userPrincipalName": '
                              '"...", "displayName": "..."}]')
        return
    if not isinstance(data, list):
        yield 0, file_problem("expected a JSON list of user objects: [{...}, {...}]")
        return
    keys = sorted({k for item in data if isinstance(item, dict) for k in item})
    columns, problems = heading_columns(keys, 0, options.strict_columns, notes, noun="key")
    for p in problems:
        yield 0, p
    if problems:
        return
    by_key = dict(zip(keys, columns, strict=True))
    for row, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            yield row, RowError(row, "-", "expected an object with keys like userPrincipalName")
            continue
        yield row, {col: (v.strip() if isinstance(v, str) else v)
                    for k, v in item.items() if (col := by_key[k]) is not None}


def heading_columns(headings: list[str], row: int, strict: bool, notes: list[str],
                    noun: str = "column") -> tuple[list[Column | None], list[RowError]]:
    """The column each heading names (None for an unknown one, ``Column("")`` for an empty one),
    and the heading problems."""
    columns: list[Column | None] = []
    problems: list[RowError] = []
    unknown: list[str] = []
    seen: dict[str, str] = {}
    for heading in headings:
        text = heading.strip()
        if not text and noun == "column":
            # Excel keeps empty columns after the last heading; a value under one is a row problem.
            columns.append(Column("", f"{_letter(len(columns))} (no heading)"))
            continue
        match = _HEADING_PROPERTY.search(text)
        name = _KNOWN.get((match.group(1) if match else text).lower()) if text else None
        if name is None:
            unknown.append(text)
            columns.append(None)
            continue
        if name in seen:
            problems.append(HeadingProblem(row, text, f"names {name}, as {seen[name]!r} does; keep one of them"))
        seen.setdefault(name, text)
        columns.append(Column(name, text, inverted=name == "accountEnabled" and "block" in text.lower()))
    if unknown and strict:
        accepted = ", ".join(KNOWN_COLUMNS)
        problems += [HeadingProblem(row, text, f"unknown {noun} (--strict-columns); accepted: {accepted}, "
                                               "or the Entra admin center template's") for text in unknown]
    elif unknown:
        notes.append(f"ignored {len(unknown)} {noun}(s) this tool does not read: {', '.join(unknown)} "
                     "(--strict-columns makes them an error)")
    return columns, problems


def _heading(columns: list[Column | None], index: int) -> str:
    col = columns[index] if index < len(columns) else None
    return col.heading if col is not None else _letter(index)


def _letter(index: int) -> str:
    """The spreadsheet letter of a 0-based column index: A, B, ... Z, AA ..."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _sniff(line: str) -> str:
    """The delimiter of a heading row: whichever of , ; and tab occurs most outside quotes."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","
