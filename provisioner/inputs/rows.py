"""User rows from a CSV or JSON file, validated for one action and held as compact tuples.

Everything is validated before anything is planned: every bad row is reported at once, with its
row number, its column and the fix. The file is read once and its valid rows are kept, as compact
tuples, so what is planned is exactly what was validated, whatever happens to the file afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from provisioner.errors import InputError, RowError
from provisioner.ids import is_guid
from provisioner.inputs.fields import boolean, control_problem, country_problem, shown, text_problem, upn_problem
from provisioner.inputs.records import ATTRIBUTE_COLUMNS, HeadingProblem, ReadOptions, Record, records
from provisioner.inputs.text import FileProblem
from provisioner.model import UserSpec
from provisioner.passwords import check_policy

ACTIONS = ("create", "delete", "restore", "purge", "assign", "revoke")
# The attributes a row can set, in the order a held row stores them.
_KEYS = (*ATTRIBUTE_COLUMNS, "accountEnabled")
# A held row: (reference, attribute values in _KEYS order with None for unset, roles, password, row,
# licenses or None).
_Held = tuple[str, tuple[Any, ...], tuple[str, ...], str | None, int | None, tuple[str, ...] | None]


class UserRows:
    """The valid rows of a user file, as ``UserSpec`` on each iteration (in file order).

    For restore inputs a spec's ``upn`` holds the reference given: an object id or an original UPN.
    ``refs`` (each valid row's reference, in file order), ``passwords`` (supplied ones, by
    lower-cased UPN) and ``any_roles`` tell a plan what to read before it looks at the rows.
    ``notes`` are for the admin: columns ignored, example rows skipped.
    """

    def __init__(self) -> None:
        self._held: list[_Held] = []
        # One object per distinct value (a department, a role list ...): 100,000 rows of "Sales"
        # then hold one string, not 100,000.
        self._shared: dict[Any, Any] = {}
        self.refs: list[str] = []
        self.passwords: dict[str, str] = {}
        self.any_roles = False
        self.notes: list[str] = []

    def _share(self, value: Any) -> Any:
        return self._shared.setdefault(value, value)

    def _keep(self, spec: UserSpec) -> None:
        attributes = spec.attributes
        # Lists (businessPhones) are held as tuples, which can be shared.
        values = tuple(self._share(_frozen(attributes[k])) if k in attributes else None for k in _KEYS)
        licenses = None if spec.licenses is None else self._share(spec.licenses)
        self._held.append((spec.upn, values, self._share(spec.roles), spec.password, spec.row, licenses))
        self.refs.append(spec.upn)
        if spec.password:
            self.passwords[spec.upn.lower()] = spec.password
        self.any_roles = self.any_roles or bool(spec.roles)

    def __len__(self) -> int:
        return len(self._held)

    @property
    def rows(self) -> dict[str, int]:
        """Each reference's spreadsheet row (lower-cased reference -> row), for the problems a plan finds."""
        return {held[0].lower(): held[4] for held in self._held if held[4] is not None}

    def __iter__(self) -> Iterator[UserSpec]:
        for upn, values, roles, password, row, licenses in self._held:
            attributes = {k: list(v) if isinstance(v, tuple) else v
                          for k, v in zip(_KEYS, values, strict=True) if v is not None}
            yield UserSpec(upn=upn, attributes=attributes, roles=roles, password=password, row=row,
                           licenses=licenses)


def read_users(path: str | Path, *, for_action: str, skip_invalid: bool = False,
               options: ReadOptions | None = None) -> tuple[UserRows, list[RowError]]:
    """Read and validate a CSV or JSON user file for one action; returns (valid rows, problems).

    CSV: UTF-8 with or without BOM, UTF-16 with BOM, or ``options.encoding``; the delimiter
    (``,`` ``;`` or tab) is sniffed from the heading row unless ``options.delimiter`` names it.
    Headings may be the Entra admin center's (``User name [userPrincipalName] Required``, after a
    ``version:v1.0`` line), plain Graph names (``userPrincipalName``, ``displayName``,
    ``accountEnabled``, ``password``, ``roles``, ``city`` ...) in any case, or a PowerShell
    ``Export-Csv``'s. Unknown columns are ignored with a note (an error with
    ``options.strict_columns``). A ``roles`` cell lists roles separated by ``;``. JSON: a list of
    objects with the same keys (``roles`` and ``businessPhones`` may be lists).

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
    problems: list[RowError] = []
    seen: dict[str, int] = {}
    rows = UserRows()
    for row, record in records(path, options or ReadOptions(), rows.notes):
        if isinstance(record, RowError):
            problems.append(record)
            continue
        if record is None:
            continue
        spec, row_problems = _parse_row(row, record, for_action)
        ref = _reference(record, for_action)
        if ref:
            # Counted for bad rows too, so a duplicate is reported along with the row's other faults.
            first = seen.setdefault(ref.lower(), row)
            if first != row:
                column = "objectId" if is_guid(ref) else "userPrincipalName"
                named = ref if upn_problem(ref) is None or is_guid(ref) else shown(ref)
                row_problems.append(RowError(row, column, f"{named} is already in row {first}; list each user once"))
        if row_problems:
            problems.extend(row_problems)
        elif spec is not None:
            rows._keep(spec)
    if any(isinstance(p, HeadingProblem | FileProblem) for p in problems):
        # A heading or file problem spoils every row: nothing is usable, whatever skip_invalid says.
        raise InputError(str(path), problems)
    if problems and not skip_invalid:
        raise InputError(str(path), problems)
    return rows, problems


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
    if ref and ref == object_id and not is_guid(object_id):
        problems.append(RowError(row, heading("objectId"), f"{shown(object_id)} is not an object id (a GUID)"))
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
        for name in ATTRIBUTE_COLUMNS:
            value = values.get(name)
            if value in (None, "", []):
                continue
            if name == "businessPhones":
                value, problem = _phones(value)
            else:
                problem = None if isinstance(value, str) else "must be text"
            if problem is None:
                texts = [value] if isinstance(value, str) else value
                problem = next(filter(None, (text_problem(name, t) for t in texts)), None)
            if problem:
                problems.append(RowError(row, heading(name), problem))
                continue
            attributes[name] = value
        if values.get("displayName") in (None, ""):
            problems.append(RowError(row, heading("displayName"), "missing; a new user needs a display name"))
        location = attributes.get("usageLocation")
        if location is not None:
            if problem := country_problem(location):
                problems.append(RowError(row, heading("usageLocation"), problem))
            else:
                attributes["usageLocation"] = location.upper()
        enabled = values.get("accountEnabled")
        if enabled not in (None, ""):
            parsed = boolean(enabled)
            if parsed is None:
                fix = "Yes (blocked) or No" if inverted else "true or false"
                problems.append(RowError(row, heading("accountEnabled"), f"{shown(enabled)} is not {fix}"))
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
    licenses: tuple[str, ...] | None = None
    if for_action == "create" and values.get("licenses") not in (None, "", []):
        licenses, found = license_cell(row, heading("licenses"), values["licenses"])
        problems += found

    if problems:
        return None, problems
    return UserSpec(upn=ref, attributes=attributes, roles=roles, password=password, row=row, licenses=licenses), []


def _roles(row: int, column: str, value: Any, required: bool) -> tuple[tuple[str, ...], list[RowError]]:
    if value in (None, "", []):
        if required:
            return (), [RowError(row, column, "missing; list the roles separated by ';', like global;user")]
        return (), []
    return _names(row, column, value, "roles", "role names")


def license_cell(row: int, column: str, value: Any) -> tuple[tuple[str, ...], list[RowError]]:
    """A ``licenses`` cell: SKUs by part number, product name or skuId, separated by ``;`` (a JSON
    list too). The names are resolved against the tenant's SKUs when the plan is made."""
    return _names(row, column, value, "licenses", "SKU names, like SPE_E5")


def _names(row: int, column: str, value: Any, what: str, like: str) -> tuple[tuple[str, ...], list[RowError]]:
    if isinstance(value, str):
        # One trailing ';' ("SPE_E5;", as spreadsheets often leave it) ends the list; it adds no empty entry.
        trimmed = value.rstrip()
        parts = [p.strip() for p in (trimmed[:-1] if trimmed.endswith(";") else trimmed).split(";")]
    elif isinstance(value, list) and all(isinstance(p, str) for p in value):
        parts = [p.strip() for p in value]
    else:
        return (), [RowError(row, column, f"must be text ({what} separated by ';') or a list of {like}")]
    if any(not p for p in parts):
        return (), [RowError(row, column, f"{shown(value)} has an empty entry; separate {what} with a single ';'")]
    if problem := next(filter(None, map(control_problem, parts)), None):
        return (), [RowError(row, column, problem)]
    return tuple(dict.fromkeys(parts)), []


def _phones(value: Any) -> tuple[list[str] | None, str | None]:
    """An office phone cell (the template's one number) or list as Graph's businessPhones."""
    phones = [value] if isinstance(value, str) else value
    if not isinstance(phones, list) or not all(isinstance(p, str) for p in phones):
        return None, "must be text (one phone number)"
    if len(phones) > 1:
        return None, "Entra keeps one office phone number; give one"
    return phones, None


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
