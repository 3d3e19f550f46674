"""What a user field may hold, checked the same way for CSV/JSON rows, the manifest and the command
line: UPN, usage location (country), yes/no values, text properties (length, control characters)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from provisioner.errors import RowError

# Graph's allowed UPN characters before the @ (no accents), and `$`, which the documented list
# leaves out but the live service accepts (graph-quirks §4); a domain of dotted labels after it.
UPN = re.compile(
    r"^[A-Za-z0-9'.\-_!#^~$]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
COUNTRY = re.compile(r"^[A-Za-z]{2}$")
# Entra's length limits for the text properties a file can set (Graph's user resource page;
# businessPhones is per number). employeeType has no stated limit.
MAX_LENGTH = {
    "displayName": 256,
    "givenName": 64,
    "surname": 64,
    "jobTitle": 128,
    "department": 64,
    "companyName": 64,
    "employeeId": 16,
    "officeLocation": 128,
    "streetAddress": 1024,
    "city": 128,
    "state": 128,
    "postalCode": 40,
    "country": 128,
    "businessPhones": 64,
    "mobilePhone": 64,
}
# C0 controls, DEL and C1 controls: never part of a name or an address, and a terminal would act
# on some of them (ESC starts an escape sequence).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_NAMES = {"\x00": "NUL", "\x1b": "ESC", "\t": "a tab", "\n": "a line break", "\r": "a carriage return"}
# Longer values are shortened when a message quotes them, so a message stays one short line.
_SHOWN = 60
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


@dataclass(frozen=True)
class EntryError(RowError):
    """A problem in a manifest entry or a file as a whole, named by ``where`` instead of a row."""

    where: str = ""

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def shown(value: Any) -> str:
    """``value`` quoted for a message: control characters escaped, at most about 60 characters."""
    text = repr(value)
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 10]}...{text[-7:]} ({len(str(value)):,} characters)"


def control_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text (it holds a control character), or None."""
    found = _CONTROL.search(value)
    if found is None:
        return None
    char = found.group()
    name = _CONTROL_NAMES.get(char, f"the control character U+{ord(char):04X}")
    return f"has {name} at character {found.start() + 1}; remove it"


def text_problem(name: str, value: str) -> str | None:
    """Why ``value`` cannot be the user property ``name`` (control characters, Entra's length
    limit), or None when it can."""
    if problem := control_problem(value):
        return problem
    limit = MAX_LENGTH.get(name)
    if limit is not None and len(value) > limit:
        return f"is {len(value):,} characters long; Entra allows at most {limit} for {name}"
    return None


def upn_problem(upn: str) -> str | None:
    """Why ``upn`` is not a valid user principal name, or None when it is."""
    if UPN.match(upn):
        return None
    return (
        f"{shown(upn)} is not a valid user principal name: use letters, digits and ' . - _ ! # ^ ~ $ "
        "(at most 64) before the @ and a domain after it, like alice@contoso.com"
    )


def country_problem(code: str) -> str | None:
    """Why ``code`` is not a usage location (a two-letter country code), or None when it is."""
    if COUNTRY.match(code):
        return None
    return f"{shown(code)} is not a country code; use two letters (ISO 3166), like US or DE"


def boolean(value: Any) -> bool | None:
    """``value`` as a yes/no (true, yes, y, 1 / false, no, n, 0, any case), or None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None
