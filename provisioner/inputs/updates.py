"""Edits of existing users (``users update``), from command-line options or a CSV/JSON file, checked
as Entra checks them (L§1.2) before anything is read from the tenant.

In a file, one row per user: a blank cell leaves the property alone, ``-`` clears it. The same
``-`` clears a property given as an option. A ``manager`` cell names the manager (UPN or object
id), ``-`` removes it; a ``newUserPrincipalName`` cell renames the user. A ``licenses`` cell lists
the direct licenses the user ends up with (``;``-separated SKUs: the missing ones are added, the
other direct ones removed; licenses a group gives are kept); ``-`` removes every direct license.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from provisioner.errors import InputError, RowError
from provisioner.ids import is_guid
from provisioner.inputs.fields import country_problem, shown, text_problem, upn_problem
from provisioner.inputs.records import ATTRIBUTE_COLUMNS, HeadingProblem, ReadOptions, records
from provisioner.inputs.rows import license_cell
from provisioner.inputs.text import FileProblem
from provisioner.plan.lifecycle import UserEdit

CLEAR = "-"
_CULTURE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def edit_value(name: str, value: Any) -> tuple[Any, str | None]:
    """A property's new value as Graph takes it (None clears), or why it cannot be one."""
    if value == CLEAR:
        return ([] if name == "businessPhones" else None), None
    if not isinstance(value, str):
        return None, "must be text"
    if problem := text_problem(name, value):
        return None, problem
    if name == "usageLocation":
        return (None, problem) if (problem := country_problem(value)) else (value.upper(), None)
    if name == "businessPhones":
        return [value], None
    if name == "employeeHireDate":
        return _hire_date(value)
    if name == "preferredLanguage" and not _CULTURE.match(value):
        return None, f"{shown(value)} is not a language tag; use one like en-US or de-DE"
    return value, None


def _hire_date(value: str) -> tuple[str | None, str | None]:
    # Graph keeps a DateTimeOffset; a day is the hire date at midnight UTC.
    try:
        if len(value) == 10:
            return date.fromisoformat(value).strftime("%Y-%m-%dT00:00:00Z"), None
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise ValueError
        return parsed.strftime("%Y-%m-%dT%H:%M:%SZ"), None
    except ValueError:
        return None, f"{shown(value)} is not a date; use YYYY-MM-DD, like 2025-03-01"


def reference_problem(ref: str) -> str | None:
    """Why ``ref`` names no user (neither an object id nor a UPN), or None."""
    return None if is_guid(ref) else upn_problem(ref)


def read_edits(path: Path, options: ReadOptions | None = None, *, skip_invalid: bool = False
               ) -> tuple[list[UserEdit], list[RowError], list[str]]:
    """The edits of a user file, its problems and notes for the admin; ``InputError`` listing
    every problem unless ``skip_invalid`` (then the bad rows are left out and returned)."""
    notes: list[str] = []
    edits: list[UserEdit] = []
    problems: list[RowError] = []
    seen: dict[str, int] = {}
    for row, record in records(path, options or ReadOptions(), notes):
        if isinstance(record, RowError):
            problems.append(record)
            continue
        if record is None:
            continue
        values = {col.name: (col.heading, value) for col, value in record.items() if col.name}
        edit, found = _edit(row, values)
        if edit is not None and (first := seen.setdefault(edit.ref.lower(), row)) != row:
            found.append(RowError(row, "userPrincipalName", f"{edit.ref} is already in row {first}; list each "
                                                            "user once"))
        if found:
            problems += found
        elif edit is not None:
            edits.append(edit)
    if any(isinstance(p, HeadingProblem | FileProblem) for p in problems) or (problems and not skip_invalid):
        raise InputError(str(path), problems)
    return edits, problems, notes


def _edit(row: int, cells: dict[str, tuple[str, Any]]) -> tuple[UserEdit | None, list[RowError]]:
    problems: list[RowError] = []
    heading, ref = cells.get("userPrincipalName") or cells.get("objectId") or ("userPrincipalName", "")
    if not ref:
        return None, [RowError(row, heading, "missing; every row names its user (userPrincipalName or objectId)")]
    if not isinstance(ref, str) or (problem := reference_problem(ref)):
        return None, [RowError(row, heading, problem if isinstance(ref, str) else "must be text")]
    values: dict[str, Any] = {}
    for name in ATTRIBUTE_COLUMNS:
        heading, cell = cells.get(name, (name, ""))
        if cell in ("", None):
            continue
        value, problem = edit_value(name, cell)
        if problem:
            problems.append(RowError(row, heading, problem))
        else:
            values[name] = value
    manager, clear = None, False
    heading, cell = cells.get("manager", ("manager", ""))
    if cell == CLEAR:
        clear = True
    elif cell:
        if not isinstance(cell, str) or (problem := reference_problem(cell)):
            problems.append(RowError(row, heading, problem if isinstance(cell, str) else "must be text"))
        else:
            manager = cell
    licenses: tuple[str, ...] | None = None
    heading, cell = cells.get("licenses", ("licenses", ""))
    if cell == CLEAR:
        licenses = ()
    elif cell not in ("", None, []):
        licenses, found = license_cell(row, heading, cell)
        problems += found
    heading, new_upn = cells.get("newUserPrincipalName", ("newUserPrincipalName", ""))
    if new_upn and (not isinstance(new_upn, str) or (problem := upn_problem(new_upn))):
        problems.append(RowError(row, heading, problem if isinstance(new_upn, str) else "must be text"))
    if problems:
        return None, problems
    return UserEdit(ref, values, manager=manager, clear_manager=clear, new_upn=new_upn or None, row=row,
                    licenses=licenses), []
