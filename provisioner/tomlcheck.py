"""Checking a parsed TOML table against the fields it may hold: one style for config.toml and the
manifest.

Each table is described by data: its keys, each with a kind (a string, an integer, a list of
strings, a table ...), whether it is required, and optionally the exact words for a wrong value.
A problem is one line naming the key, what is wrong and the fix; the caller adds the file and the
table (config.toml stops at its first problem, a manifest lists them all).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Kind:
    name: str  # as in "expected a string"
    example: str  # how to write one, as in "write it like key = 10"
    test: Callable[[Any], bool]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


STR = Kind("a string", 'key = "text"', lambda v: isinstance(v, str))
# Non-empty text: a manifest value that would set a property to nothing.
TEXT = Kind("a string", 'key = "text"', lambda v: isinstance(v, str) and bool(v.strip()))
PATH = Kind("a path", 'key = "path/to/file"', lambda v: isinstance(v, str))
INT = Kind("an integer", "key = 10", _is_int)
NUM = Kind("a number", "key = 150", lambda v: _is_int(v) or isinstance(v, float))
BOOL = Kind("a boolean", "key = true", lambda v: isinstance(v, bool))
STRLIST = Kind("a list of strings", 'key = ["a@contoso.com", "b@contoso.com"]',
               lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v))
TABLE = Kind("a table", "[section]", lambda v: isinstance(v, dict))


@dataclass(frozen=True)
class Field:
    kind: Kind
    required: bool = False
    wrong: str | None = None  # the whole message for a wrong value, when the generic one is too vague
    missing: str | None = None  # the whole message when a required key is absent


@dataclass(frozen=True)
class Problem:
    key: str
    problem: str
    fix: str = ""

    @property
    def message(self) -> str:
        return f"{self.problem}; {self.fix}" if self.fix else self.problem


def type_name(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
             dict: "a table"}
    return names.get(type(value), type(value).__name__)


def value_problem(key: str, value: Any, field: Field) -> Problem | None:
    """Why ``value`` does not fit ``field``, or None."""
    if field.kind.test(value):
        return None
    if field.wrong is not None:
        return Problem(key, field.wrong)
    return Problem(key, f"expected {field.kind.name}, got {type_name(value)}", f"write it like {field.kind.example}")


def unknown_key(key: str, known: Iterable[str], prefix: str = "", hint: str | None = None) -> Problem:
    """An unknown key: with ``hint`` (what the table holds) as the fix, else the known keys and the
    closest one."""
    known = list(known)
    if hint is not None:
        return Problem(key, "unknown key", hint)
    close = difflib.get_close_matches(key, known, n=1)
    fix = f"did you mean {prefix}{close[0]}?" if close else "remove it"
    return Problem(key, f"unknown key (known keys here: {', '.join(known)})", fix)


def check(table: Mapping[str, Any], fields: Mapping[str, Field], *, prefix: str = "",
          hint: str | None = None) -> list[Problem]:
    """Every problem of ``table``: unknown keys (sorted), then each field in ``fields`` order."""
    problems = [unknown_key(k, fields, prefix, hint) for k in sorted(set(table) - set(fields))]
    for key, field in fields.items():
        if key in table:
            if (p := value_problem(key, table[key], field)) is not None:
                problems.append(p)
        elif field.required:
            problems.append(Problem(key, field.missing or "missing", "" if field.missing else f"add {key} = ..."))
    return problems
