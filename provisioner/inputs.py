"""Input files: user rows from CSV or JSON, and the desired-state manifest (TOML).

Everything is validated before anything is planned: every bad row is reported at once, with its
row number, its column and the fix. Row numbers count data rows from 1, the way a spreadsheet user
counts them below the heading line(s): the first row under the headings is row 1, for a plain CSV
(one heading line) and for the Entra admin center template (a ``version:v1.0`` line, then the
headings) alike. Blank lines count, as in a spreadsheet, but are otherwise skipped. Row 0 means
the heading line itself.

CSV files are read twice, streaming, so a file of any size costs memory for its user names only:
once to validate every row (keeping each row's reference), once (lazily, while planning) to yield
the specs. A file that changes in
between is refused, before anything is written.
"""

from __future__ import annotations

import csv
import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provisioner.errors import InputError, ProvisionerError, RowError
from provisioner.model import DEFAULT_MANAGED_ROLES, USER_WRITABLE, Manifest, UserSpec
from provisioner.passwords import check_policy

ACTIONS = ("create", "delete", "restore", "purge", "assign", "revoke")

# Graph's allowed UPN characters before the @ (no accents); a domain of dotted labels after it.
_UPN = re.compile(
    r"^[A-Za-z0-9'.\-_!#^~]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEADING_PROPERTY = re.compile(r"\[([A-Za-z]+)\]")
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")



def upn_problem(upn: str) -> str | None:
    """Why ``upn`` is not a valid user principal name, or None when it is."""
    if _UPN.match(upn):
        return None
    return (
        f"{upn!r} is not a valid user principal name: use letters, digits and ' . - _ ! # ^ ~ "
        "(at most 64) before the @ and a domain after it, like alice@contoso.com"
    )


def country_problem(code: str) -> str | None:
    """Why ``code`` is not a usage location (a two-letter country code), or None when it is."""
    if _COUNTRY.match(code):
        return None
    return f"{code!r} is not a country code; use two letters (ISO 3166), like US or DE"


# Columns the tool reads, by Graph name. ``password`` and ``passwordProfile`` are the same column.
_ATTRIBUTE_COLUMNS = ("displayName", "givenName", "surname", "jobTitle", "department", "usageLocation")
KNOWN_COLUMNS = (
    "userPrincipalName",
    "objectId",
    *_ATTRIBUTE_COLUMNS,
    "accountEnabled",
    "password",
    "roles",
)
_ALIASES = {"passwordprofile": "password", "id": "objectId"}
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


@dataclass(frozen=True)
class EntryError(RowError):
    """A problem in a manifest entry or a file as a whole, named by ``where`` instead of a row."""

    where: str = ""

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class _Column:
    name: str  # one of KNOWN_COLUMNS, or "" for an Entra template column the tool does not write
    heading: str
    inverted: bool = False  # "Block sign in (Yes/No)": Yes means accountEnabled false


class UserRows:
    """The valid rows of a user file, read lazily (and again on each iteration) as ``UserSpec``.

    For restore inputs a spec's ``upn`` holds the reference given: an object id or an original UPN.
    What a plan needs before it reads the rows is kept from validation: ``refs`` (each valid row's
    reference, in file order), ``passwords`` (supplied ones, by lower-cased UPN) and ``any_roles``.
    """

    def __init__(self, path: Path, for_action: str, stamp: tuple[int, int]):
        self._path = path
        self._for_action = for_action
        self._stamp = stamp
        self._skip: frozenset[int] = frozenset()  # the invalid rows, when they are skipped
        self.refs: list[str] = []
        self.passwords: dict[str, str] = {}
        self.any_roles = False

    def _keep(self, spec: UserSpec) -> None:
        self.refs.append(spec.upn)
        if spec.password:
            self.passwords[spec.upn.lower()] = spec.password
        self.any_roles = self.any_roles or bool(spec.roles)

    def __len__(self) -> int:
        return len(self.refs)

    def __iter__(self) -> Iterator[UserSpec]:
        # Read again, not held: the file must still be the one that was validated.
        if _stamp(self._path) != self._stamp:
            raise self._changed()
        for row, record in _records(self._path):
            if row in self._skip or record is None:
                continue
            spec = None if isinstance(record, RowError) else _parse_row(row, record, self._for_action)[0]
            if spec is None:
                raise self._changed()
            yield spec

    def _changed(self) -> ProvisionerError:
        return ProvisionerError(f"{self._path} changed while it was being read; nothing was written from it. "
                                "Run the command again once the file is complete.")


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def read_users(path: str | Path, *, for_action: str, skip_invalid: bool = False) -> tuple[UserRows, list[RowError]]:
    """Read and validate a CSV or JSON user file for one action; returns (valid rows, problems).

    CSV: UTF-8 with or without BOM; the delimiter (``,`` ``;`` or tab) is taken from the heading
    line. Headings may be the Entra admin center's (``User name [userPrincipalName] Required``,
    after a ``version:v1.0`` line) or plain Graph names (``userPrincipalName``, ``displayName``,
    ``accountEnabled``, ``password``, ``roles`` ...). A ``roles`` cell lists roles separated by
    ``;``. JSON: a list of objects with the same keys (``roles`` may be a list).

    What each action needs: create, a ``userPrincipalName`` and a ``displayName``; delete and
    purge, a ``userPrincipalName`` (or ``objectId``); restore, an ``objectId`` (the Entra bulk
    restore template) or the original ``userPrincipalName``; assign and revoke, a
    ``userPrincipalName`` and ``roles``. Other known columns are ignored by those actions.

    Raises ``InputError`` listing every problem, unless ``skip_invalid``: then the bad rows are
    left out and returned as problems.
    """
    if for_action not in ACTIONS:
        raise ValueError(f"unknown action {for_action!r}")
    path = Path(path)
    stamp = _stamp(path)
    problems: list[RowError] = []
    bad: set[int] = set()
    seen: dict[str, int] = {}
    rows = UserRows(path, for_action, stamp)
    for row, record in _records(path):
        if isinstance(record, RowError):
            problems.append(record)
            bad.add(row)
            continue
        if record is None:
            continue
        spec, row_problems = _parse_row(row, record, for_action)
        ref = _reference(record, for_action)
        if ref:
            # Counted for bad rows too, so a duplicate is reported along with the row's other faults.
            first = seen.setdefault(ref.lower(), row)
            if first != row:
                column = "objectId" if _GUID.match(ref) else "userPrincipalName"
                row_problems.append(RowError(row, column, f"{ref} is already in row {first}; list each user once"))
        if row_problems:
            problems.extend(row_problems)
            bad.add(row)
        elif spec is not None:
            rows._keep(spec)
    if any(p.row == 0 for p in problems):
        # A heading problem spoils every row: nothing is usable, whatever skip_invalid says.
        raise InputError(str(path), problems)
    if problems and not skip_invalid:
        raise InputError(str(path), problems)
    rows._skip = frozenset(bad)
    return rows, problems


# --- reading records --------------------------------------------------------------------------

Record = Mapping[_Column, Any]


def _records(path: Path) -> Iterator[tuple[int, Record | RowError | None]]:
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
        columns, heading_problems = _columns(headings, template)
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
    columns, problems = _columns(keys, template=False)
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


def _columns(headings: list[str], template: bool) -> tuple[list[_Column], list[RowError]]:
    known = {c.lower(): c for c in KNOWN_COLUMNS} | _ALIASES
    columns: list[_Column] = []
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
                columns.append(_Column("", text))
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
        columns.append(_Column(name, text, inverted))
    return columns, problems


def _reference(record: Record, for_action: str) -> str:
    values = {col.name: value for col, value in record.items() if col.name}
    upn, object_id = values.get("userPrincipalName") or "", values.get("objectId") or ""
    return _ref(upn, object_id, for_action) if isinstance(upn, str) and isinstance(object_id, str) else ""


def _ref(upn: str, object_id: str, for_action: str) -> str:
    """What a row names its user by: the object id for a restore (or a delete or purge without a
    UPN), else the UPN."""
    if object_id and (for_action == "restore" or (for_action in ("delete", "purge") and not upn)):
        return object_id
    return upn


# --- validating a row --------------------------------------------------------------------------


def _parse_row(row: int, record: Record, for_action: str) -> tuple[UserSpec | None, list[RowError]]:
    values: dict[str, Any] = {}
    problems: list[RowError] = []
    headings: dict[str, str] = {}
    inverted = False
    for col, value in record.items():
        if col.name == "":
            if value not in ("", None):
                problems.append(RowError(row, col.heading, "this tool does not set this property; clear the cell"))
            continue
        values[col.name] = value
        headings[col.name] = col.heading
        inverted = inverted or col.inverted

    def heading(name: str) -> str:
        return headings.get(name, name)

    upn = values.get("userPrincipalName") or ""
    object_id = values.get("objectId") or ""
    if not isinstance(upn, str) or not isinstance(object_id, str):
        return None, [RowError(row, "userPrincipalName", "must be text")]
    ref = _ref(upn, object_id, for_action)
    if for_action == "restore" and object_id and not _GUID.match(object_id):
        problems.append(RowError(row, heading("objectId"), f"{object_id!r} is not an object id (a GUID)"))
    if not ref:
        needed = (
            "userPrincipalName or objectId" if for_action in ("restore", "delete", "purge") else ("userPrincipalName")
        )
        problems.append(RowError(row, heading("userPrincipalName"), f"missing; every row needs a {needed}"))
    if upn and ref == upn and (problem := upn_problem(upn)):
        problems.append(RowError(row, heading("userPrincipalName"), problem))

    attributes: dict[str, Any] = {}
    password: str | None = None
    if for_action == "create":
        for name in _ATTRIBUTE_COLUMNS:
            value = values.get(name)
            if value in (None, ""):
                continue
            if not isinstance(value, str):
                problems.append(RowError(row, heading(name), "must be text"))
                continue
            attributes[name] = value
        if "displayName" not in attributes:
            problems.append(RowError(row, heading("displayName"), "missing; a new user needs a display name"))
        location = attributes.get("usageLocation")
        if location is not None:
            if problem := country_problem(location):
                problems.append(RowError(row, heading("usageLocation"), problem))
            else:
                attributes["usageLocation"] = location.upper()
        enabled = values.get("accountEnabled")
        if enabled not in (None, ""):
            parsed = _boolean(enabled)
            if parsed is None:
                fix = "Yes (blocked) or No" if inverted else "true or false"
                problems.append(RowError(row, heading("accountEnabled"), f"{enabled!r} is not {fix}"))
            else:
                attributes["accountEnabled"] = (not parsed) if inverted else parsed
        supplied = values.get("password")
        if supplied not in (None, ""):
            if not isinstance(supplied, str):
                problems.append(RowError(row, heading("password"), "must be text"))
            else:
                reason = check_policy(supplied)
                if reason:
                    problems.append(RowError(row, heading("password"), f"{reason}; or leave it empty to generate one"))
                password = supplied
    roles: tuple[str, ...] = ()
    if for_action in ("create", "assign", "revoke"):
        roles, role_problems = _roles(row, heading("roles"), values.get("roles"), for_action != "create")
        problems += role_problems

    if problems:
        return None, problems
    return UserSpec(upn=ref, attributes=attributes, roles=roles, password=password, row=row), []


def _roles(row: int, column: str, value: Any, required: bool) -> tuple[tuple[str, ...], list[RowError]]:
    if value in (None, "", []):
        if required:
            return (), [RowError(row, column, "missing; list the roles separated by ';', like global;user")]
        return (), []
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(";")]
    elif isinstance(value, list) and all(isinstance(p, str) for p in value):
        parts = [p.strip() for p in value]
    else:
        return (), [RowError(row, column, "must be text (roles separated by ';') or a list of role names")]
    if any(not p for p in parts):
        return (), [RowError(row, column, f"{value!r} has an empty entry; separate roles with a single ';'")]
    return tuple(dict.fromkeys(parts)), []


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


# --- the manifest -------------------------------------------------------------------------------

_MANIFEST_USER_KEYS = ("userPrincipalName", *USER_WRITABLE, "roles")


def read_manifest(path: str | Path) -> Manifest:
    """Read a desired-state manifest (TOML). Its shape::

        [scope]
        domains = ["contoso.onmicrosoft.com"]      # the UPN domains the manifest owns (required)
        managed_roles = ["global", "billing", "password", "service", "user"]   # the default

        [[users]]
        userPrincipalName = "alice@contoso.onmicrosoft.com"
        displayName = "Alice Archer"               # needed to create the user
        jobTitle = "Engineer"                      # any of USER_WRITABLE; unset keys are not managed
        accountEnabled = true
        roles = ["user"]                           # exactly these of the managed roles

    Raises ``InputError`` naming each bad entry and key with the fix.
    """
    path = Path(path)
    source = str(path)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise InputError(source, [EntryError(0, "-", f"not valid TOML: {e}", "file")]) from None
    problems: list[RowError] = []

    def problem(where: str, key: str, message: str, row: int = 0) -> None:
        problems.append(EntryError(row, key, message, f"{where}, key {key}" if key else where))

    for key in sorted(set(data) - {"scope", "users"}):
        problem("top level", key, "unknown key; a manifest has [scope] and [[users]]")
    scope = data.get("scope")
    domains: tuple[str, ...] = ()
    managed: tuple[str, ...] = DEFAULT_MANAGED_ROLES
    if not isinstance(scope, dict):
        problem("[scope]", "domains", 'missing; add [scope] with domains = ["contoso.onmicrosoft.com"]')
    else:
        for key in sorted(set(scope) - {"domains", "managed_roles"}):
            problem("[scope]", key, "unknown key; [scope] has domains and managed_roles")
        raw = scope.get("domains")
        if not _string_list(raw) or not raw:
            problem("[scope]", "domains", 'must be a non-empty list of domains, like ["contoso.onmicrosoft.com"]')
        else:
            domains = tuple(d.strip().lower() for d in raw)
        if "managed_roles" in scope:
            raw = scope["managed_roles"]
            if not _string_list(raw) or any(not r.strip() for r in raw):
                problem("[scope]", "managed_roles", 'must be a list of roles, like ["global", "user"]')
            else:
                managed = tuple(r.strip() for r in raw)

    users_raw = data.get("users", [])
    users: list[UserSpec] = []
    seen: dict[str, int] = {}
    if not isinstance(users_raw, list):
        problem("top level", "users", "must be an array of tables: write each user as [[users]]")
        users_raw = []
    for index, entry in enumerate(users_raw, start=1):
        where = f"[[users]] entry {index}"
        if not isinstance(entry, dict):
            problem(where, "", "must be a table of user properties", index)
            continue
        upn = entry.get("userPrincipalName")
        if isinstance(upn, str) and upn.strip():
            upn = upn.strip()
            where = f"{where} ({upn})"
        before = len(problems)
        for key in sorted(set(entry) - set(_MANIFEST_USER_KEYS)):
            if key.lower() in ("password", "passwordprofile"):
                problem(where, key, "passwords do not belong in a manifest; new users get a generated one", index)
            else:
                problem(where, key, "unknown key; use " + ", ".join(_MANIFEST_USER_KEYS), index)
        if not isinstance(upn, str) or not upn:
            problem(where, "userPrincipalName", "missing; every user needs one", index)
            continue
        if not _UPN.match(upn):
            problem(where, "userPrincipalName", "not a valid user principal name, like alice@contoso.com", index)
        elif domains and upn.rsplit("@", 1)[1].lower() not in domains:
            problem(
                where,
                "userPrincipalName",
                "its domain is outside [scope] domains (" + ", ".join(domains) + "); add the domain to "
                "the scope or remove the user",
                index,
            )
        first = seen.setdefault(upn.lower(), index)
        if first != index:
            problem(where, "userPrincipalName", f"already listed in entry {first}; list each user once", index)
        attributes: dict[str, Any] = {}
        for key in USER_WRITABLE:
            if key not in entry:
                continue
            value = entry[key]
            if key == "accountEnabled":
                if not isinstance(value, bool):
                    problem(where, key, "must be true or false (without quotes)", index)
                    continue
            elif not isinstance(value, str) or not value.strip():
                problem(where, key, 'must be non-empty text in quotes, like "Engineer"', index)
                continue
            else:
                value = value.strip()
                if key == "usageLocation":
                    if not _COUNTRY.match(value):
                        problem(where, key, "must be a two-letter country code (ISO 3166), like US", index)
                        continue
                    value = value.upper()
            attributes[key] = value
        roles: tuple[str, ...] = ()
        if "roles" in entry:
            raw = entry["roles"]
            if not _string_list(raw) or any(not r.strip() for r in raw):
                problem(where, "roles", 'must be a list of roles, like ["user", "billing"]', index)
            else:
                roles = tuple(dict.fromkeys(r.strip() for r in raw))
        if len(problems) == before:
            users.append(UserSpec(upn=upn, attributes=attributes, roles=roles, row=index))
    if problems:
        raise InputError(source, problems)
    return Manifest(users=tuple(users), scope_domains=domains, managed_roles=managed)


def _string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
