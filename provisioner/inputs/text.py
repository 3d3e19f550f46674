"""Opening a user file as text. UTF-8 (with or without a byte-order mark) and UTF-16 (with one) are
recognised from the first bytes, as Excel writes them ("CSV UTF-8" and "Unicode Text"); any other
encoding (Excel's "CSV (Comma delimited)" is Windows-1252) is named by the admin (``--encoding``).

A file that is not text (a workbook, binary data) or whose bytes do not decode is refused with one
problem naming the byte, its offset and row, and the fix; nothing of it is used.
"""

from __future__ import annotations

import codecs
import io
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from provisioner.inputs.fields import EntryError

SAVE_AS = 'or in Excel use Save As "CSV UTF-8 (Comma delimited)"'
_HEAD = 4096
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_WORKBOOKS = ((b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook?)"),
              (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 workbook (.xls)"))


@dataclass(frozen=True)
class FileProblem(EntryError):
    """A problem that stops the reading of a file: from there on it cannot be decoded or parsed."""


@dataclass(frozen=True)
class Decoding:
    codec: str  # the Python codec that reads the bytes after the byte-order mark
    skip: int = 0  # the byte-order mark's length
    named: bool = False  # named by the admin (--encoding), not recognised


def file_problem(message: str, where: str = "file", row: int = 0) -> FileProblem:
    return FileProblem(row, "-", message, where)


def decoding(path: Path, encoding: str | None) -> Decoding | FileProblem:
    """How to decode ``path``: the named ``encoding``, else what its first bytes say."""
    try:
        with path.open("rb") as f:
            head = f.read(_HEAD)
    except OSError as e:
        return file_problem(f"cannot be read ({e.strerror or e}); check the path and its permissions")
    for magic, what in _WORKBOOKS:
        if head.startswith(magic):
            return file_problem(f"is {what}, not a CSV or JSON file; export it as CSV, {SAVE_AS}")
    bom = next(((len(mark), codec) for mark, codec in _BOMS if head.startswith(mark)), None)
    if encoding is not None:
        try:
            codec = codecs.lookup(encoding).name
        except LookupError:
            return file_problem(f"--encoding {encoding!r} is not an encoding Python knows; use a name like "
                                "cp1252, latin-1, utf-16 or utf-8")
        if bom is not None and codec.replace("-sig", "") in ("utf-8", "utf-16"):
            return Decoding(bom[1], bom[0], named=True)
        return Decoding(codec, 0, named=True)
    if bom is not None:
        return Decoding(bom[1], bom[0])
    if head.count(0) * 4 > len(head):
        return file_problem("holds NUL bytes throughout: UTF-16 without a byte-order mark? name it with "
                            f"--encoding utf-16-le, {SAVE_AS}")
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 13))
    if controls * 20 > len(head):
        return file_problem(f"holds binary data, not text; give a CSV or JSON file ({SAVE_AS})")
    return Decoding("utf-8")


def open_text(path: Path, how: Decoding) -> IO[str]:
    """The file as a text stream for the csv module (lines as written, no newline translation)."""
    raw = path.open("rb")
    raw.seek(how.skip)
    return io.TextIOWrapper(raw, encoding=how.codec, errors="strict", newline="")


def read_text(path: Path, how: Decoding) -> str | FileProblem:
    """The whole file as text (a JSON document is parsed whole anyway)."""
    data = path.read_bytes()
    try:
        return data[how.skip :].decode(how.codec)
    except UnicodeDecodeError as e:
        return _undecodable(data, how, e)


def decode_problem(path: Path, how: Decoding) -> FileProblem:
    """Where the bytes of ``path`` stop decoding; read again only once decoding has failed."""
    data = path.read_bytes()
    try:
        data[how.skip :].decode(how.codec)
    except UnicodeDecodeError as e:
        return _undecodable(data, how, e)
    return file_problem(f"could not be decoded as {how.codec}; name its encoding with --encoding")


def _undecodable(data: bytes, how: Decoding, e: UnicodeDecodeError) -> FileProblem:
    offset = how.skip + e.start
    row = data[how.skip : offset].decode(how.codec, "replace").count("\n") + 1
    what = {"utf-8": "UTF-8", "utf-16-le": "UTF-16", "utf-16-be": "UTF-16"}.get(how.codec, how.codec)
    if e.reason == "truncated data" or offset >= len(data):
        found = f"the file ends inside a character: it is not {what}"
    else:
        found = f"byte 0x{data[offset]:02X} (offset {offset:,}) is not {what}"
    if how.named:
        fix = f"name the file's encoding with --encoding, {SAVE_AS}"
    else:
        fix = f"name the file's encoding, like --encoding cp1252 (Excel's \"CSV (Comma delimited)\"), {SAVE_AS}"
    return file_problem(f"{found}; {fix}", f"row {row}", row)
