"""Checking a parsed TOML table against the fields it may hold: one style for config.toml and the
manifest.

Each table is described by data: its keys, each with a kind (a string, an integer, a list of
strings, a table ...), whether it is required, and optionally the exact words for a wrong value.
A problem is one line naming the key, what is wrong and the fix; the caller adds the file and the
table (config.toml stops at its first problem, a manifest lists them all).
"""

from __future__ import annotations

import codecs
import difflib
import math
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SAVE_UTF8 = "a TOML file is UTF-8: save it as UTF-8 (in Notepad: Save as, Encoding UTF-8)"


class Unreadable(Exception):
    """A TOML file that cannot be read as TOML text at all; the message is one line, without the path."""


def read(path: Path) -> dict[str, Any]:
    """The parsed TOML of ``path``. A file that is not UTF-8 text (UTF-16, latin-1, binary), nests
    too deeply or holds a number too long to convert raises :class:`Unreadable`; a syntax error
    stays ``tomllib.TOMLDecodeError`` and an unreadable file ``OSError``, for the caller to word.
    A UTF-8 byte-order mark (Notepad writes one) is skipped."""
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    head = data[:4096]
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):  # a workbook or another archive
        raise Unreadable("holds binary data, not TOML text; give a TOML file")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or head.count(0) * 4 > len(head):
        raise Unreadable(f"is UTF-16 text; {_SAVE_UTF8}")
    if sum(1 for b in head if b < 32 and b not in (9, 10, 13)) * 20 > len(head):
        raise Unreadable("holds binary data, not TOML text; give a TOML file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        problem = f"line {line}: byte 0x{data[e.start]:02X} (offset {e.start:,}) is not UTF-8; {_SAVE_UTF8}"
        raise Unreadable(problem) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        raise
    except RecursionError:
        raise Unreadable("nested too deeply to read; tables and lists here nest a few levels at most") from None
    except ValueError:  # int() refuses more than 4,300 digits
        raise Unreadable("holds a number too long to read (over 4,300 digits); no setting is that large") from None


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
    if isinstance(value, float) and not math.isfinite(value) and field.kind is NUM:
        # TOML has inf and nan; no count, limit or duration is either (a nan window divides by zero).
        return Problem(key, f"must be a finite number, got {value}", f"write it like {NUM.example}")
    if isinstance(value, str) and "\x00" in value and field.kind is PATH:
        return Problem(key, "a path cannot hold a NUL character (\\u0000)", "remove it")
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
