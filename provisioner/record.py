"""``--record FILE``: every Graph exchange of a command as one JSON line, for a bug report.

A line holds the method, URL, request headers and body, status, response headers and body, with
every secret removed before it reaches the file: the Authorization header is dropped, and any
header, body property or `$batch` item property whose name contains "password" or "secret" has
its value replaced by ``REDACTED`` (nested objects such as ``passwordProfile`` keep their shape,
so a replay can put a fresh password back where one was).

The recorder is switched on for the duration of a command (``recording``) and found by the
composition root when it builds the client (``active``); nothing else needs to know about it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provisioner.errors import ConfigError

if TYPE_CHECKING:
    import httpx

REDACTED = "<redacted>"
_SECRET_NAME = re.compile(r"password|secret", re.IGNORECASE)
# Headers that carry credentials themselves, whatever their value looks like.
_DROPPED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
# A body that is not JSON is kept as text, with the value after a secret-looking name blanked
# (`"password": "..."` in a truncated JSON document, `client_secret=...` in a form).
_SECRET_IN_TEXT = re.compile(
    r"""(?P<name>["']?[\w.-]*(?:password|secret)[\w.-]*["']?\s*[:=]\s*)(?P<value>"(?:[^"\\]|\\.)*"|[^&\s,}]+)""",
    re.IGNORECASE)

_active: ContextVar[Recorder | None] = ContextVar("provisioner_recorder", default=None)


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def scrub(value: Any, secret: bool = False) -> Any:
    """``value`` with every secret replaced: objects and arrays keep their shape; a scalar under a
    secret-looking name (or inside one) becomes ``REDACTED``, except a boolean or null, which says
    nothing secret (``forceChangePasswordNextSignIn``)."""
    if isinstance(value, dict):
        return {k: _scrub_member(k, v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, secret) for v in value]
    if secret and value is not None and not isinstance(value, bool):
        return REDACTED
    return value


def _scrub_member(name: str, value: Any, secret: bool) -> Any:
    if name.lower() in _DROPPED_HEADERS and isinstance(value, str):
        return REDACTED  # a `$batch` item's own headers
    return scrub(value, secret or is_secret_name(name))


def scrub_headers(headers: httpx.Headers) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name, value in headers.multi_items():
        lowered = name.lower()
        if lowered in _DROPPED_HEADERS:
            continue
        kept[lowered] = REDACTED if is_secret_name(lowered) else value
    return kept


def scrub_body(content: bytes) -> Any:
    """The body as JSON with secrets replaced, or as text with secret-looking values blanked."""
    if not content:
        return None
    try:
        return scrub(json.loads(content))
    except ValueError:
        text = content.decode("utf-8", errors="replace")
        return _SECRET_IN_TEXT.sub(lambda m: m.group("name") + json.dumps(REDACTED), text)


class Recorder:
    """Appends one JSON line per exchange to a file opened once, owner-readable only."""

    def __init__(self, path: Path):
        self.path = path
        try:
            # O_NOFOLLOW: a link planted at the path cannot redirect tenant data elsewhere.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError as e:
            reason = "it is a symbolic link" if os.path.islink(path) else (e.strerror or str(e))
            raise ConfigError(f"--record: cannot write {path}: {reason}; name a regular file you can write") from None
        self._file = os.fdopen(fd, "a", encoding="utf-8")
        self._sent = 0
        self._pending: dict[int, dict[str, Any]] = {}

    async def on_request(self, request: httpx.Request) -> None:
        self._sent += 1
        request.extensions["provisioner_record"] = self._sent
        body = await request.aread()
        self._pending[self._sent] = {
            "seq": self._sent, "method": request.method, "url": str(request.url),
            "requestHeaders": scrub_headers(request.headers), "requestBody": scrub_body(body)}

    async def on_response(self, response: httpx.Response) -> None:
        entry = self._pending.pop(response.request.extensions.get("provisioner_record", 0), None)
        if entry is None:
            return
        body = await response.aread()  # cached by httpx: the SDK reads the same bytes afterwards
        entry.update(status=response.status_code, responseHeaders=scrub_headers(response.headers),
                     responseBody=scrub_body(body))
        self._write(entry)

    def _write(self, entry: dict[str, Any]) -> None:
        self._file.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._file.flush()  # a command that dies half-way still leaves what it exchanged

    def close(self) -> None:
        # Requests that never got an answer (connection lost, interrupted) are part of the story.
        for entry in self._pending.values():
            entry.update(status=None, responseHeaders={}, responseBody=None)
            self._write(entry)
        self._pending.clear()
        self._file.close()


@contextmanager
def recording(path: Path) -> Iterator[Recorder]:
    recorder = Recorder(path)
    token = _active.set(recorder)
    try:
        yield recorder
    finally:
        _active.reset(token)
        recorder.close()


def active() -> Recorder | None:
    """The recorder of the command running now, if it asked for one."""
    return _active.get()
