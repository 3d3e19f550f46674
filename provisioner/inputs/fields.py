"""What a user field may hold, checked the same way for CSV/JSON rows, the manifest and the command
line: UPN, usage location (country), yes/no values, role lists."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from provisioner.errors import RowError

# Graph's allowed UPN characters before the @ (no accents); a domain of dotted labels after it.
UPN = re.compile(
    r"^[A-Za-z0-9'.\-_!#^~]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
COUNTRY = re.compile(r"^[A-Za-z]{2}$")
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


@dataclass(frozen=True)
class EntryError(RowError):
    """A problem in a manifest entry or a file as a whole, named by ``where`` instead of a row."""

    where: str = ""

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def upn_problem(upn: str) -> str | None:
    """Why ``upn`` is not a valid user principal name, or None when it is."""
    if UPN.match(upn):
        return None
    return (
        f"{upn!r} is not a valid user principal name: use letters, digits and ' . - _ ! # ^ ~ "
        "(at most 64) before the @ and a domain after it, like alice@contoso.com"
    )


def country_problem(code: str) -> str | None:
    """Why ``code`` is not a usage location (a two-letter country code), or None when it is."""
    if COUNTRY.match(code):
        return None
    return f"{code!r} is not a country code; use two letters (ISO 3166), like US or DE"


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
