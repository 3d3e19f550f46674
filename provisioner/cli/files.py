"""Files the admin names: the user rows a command reads (``--from`` with ``--encoding``,
``--delimiter``, ``--strict-columns`` and ``--skip-invalid``) and the file that receives generated
initial passwords (``--password-out``)."""

from __future__ import annotations

import codecs
import functools
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from provisioner.cli.app import ChangeOptions, err
from provisioner.errors import ProvisionerError

if TYPE_CHECKING:
    from provisioner.changes import Change
    from provisioner.inputs import UserRows

# More generated passwords than this in one run go to a file, not to the terminal.
MAX_PASSWORDS_SHOWN = 10

# Where the reading options of --from wait for read_rows, so every command gets them unchanged.
_READ_OPTIONS = "provisioner.read_options"
_DELIMITERS = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";"}


def _encoding(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        try:
            codecs.lookup(value)
        except LookupError:
            message = f"{value!r} is not an encoding; use a name like cp1252, latin-1 or utf-16"
            raise click.BadParameter(message) from None
    return value


def _delimiter(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    value = _DELIMITERS.get(value.lower(), value)
    if len(value) != 1 or value in "\"\r\n" or value.isalnum():
        raise click.BadParameter(f"{value!r}: give one character, like ';' or ',' (or tab)")
    return value


def from_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--from FILE`` and how to read it: ``--encoding``, ``--delimiter``, ``--strict-columns``.

    The reading options are kept on the click context for ``read_rows``, so the command's own
    signature only sees ``from_file``."""

    @functools.wraps(command)
    def wrapper(*args: Any, encoding: str | None, delimiter: str | None, strict_columns: bool,
                **kwargs: Any) -> Any:
        from provisioner.inputs import ReadOptions

        click.get_current_context().meta[_READ_OPTIONS] = ReadOptions(encoding, delimiter, strict_columns)
        return command(*args, **kwargs)

    for option in (
        click.option("--strict-columns", is_flag=True,
                     help="Refuse --from files with columns this tool does not read (default: ignore them)."),
        click.option("--delimiter", metavar="CHAR", callback=_delimiter,
                     help="Cell separator of --from (default: sniffed among , ; and tab; 'tab' names tab)."),
        click.option("--encoding", metavar="NAME", callback=_encoding,
                     help="Encoding of --from, like cp1252 (default: UTF-8, or UTF-16 with a BOM)."),
        click.option("--from", "from_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
                     metavar="FILE", help="Read the users from a CSV or JSON file (every row validated first)."),
    ):
        wrapper = option(wrapper)
    return wrapper


skip_invalid_option = click.option("--skip-invalid", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
                                   help="Go on without the bad rows of --from; write them to FILE.")
password_out_option = click.option("--password-out", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
                                   help="Write generated passwords to FILE (mode 0600) instead of showing them.")


def read_options() -> Any:
    """The reading options ``from_option`` kept for this command (None outside a command)."""
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(_READ_OPTIONS) if ctx is not None else None


def read_rows(path: Path, action: str, skip_invalid: Path | None) -> UserRows:
    """The valid rows of a user file; with ``skip_invalid`` the bad ones are listed there, else any
    bad row stops the command (every one reported)."""
    from provisioner.inputs import ReadOptions, read_users

    ctx = click.get_current_context(silent=True)
    options = ctx.meta.get(_READ_OPTIONS) if ctx is not None else None
    rows, problems = read_users(path, for_action=action, skip_invalid=skip_invalid is not None,
                                options=options or ReadOptions())
    for note in rows.notes:
        err(f"Note: {path.name}: {note}.")
    if problems and skip_invalid is not None:
        skip_invalid.write_text("".join(f"{p}\n" for p in problems), encoding="utf-8")
        err(f"{len(problems)} invalid row problem(s) skipped; listed in {skip_invalid}.")
    return rows


class PasswordKeeper:
    """Supplies each created user's password and gives it to the admin once: into the file they
    named (mode 0600), or on stderr at the end for a handful of users. Never into logs or plans.

    The file is written ahead: a generated password is on disk (status ``pending``) before the
    create that sets it is sent, and a second row says what became of it (``created``, or
    ``unknown`` when the create's answer was lost and the user turned out to exist: someone else's
    create may have set another password). A crash at any moment leaves every created user's
    password on record, or the user listed as unknown.
    """

    HEADER = "userPrincipalName,password,status\n"

    def __init__(self, supplied: dict[str, str], out: Path | None, opts: ChangeOptions, *, reset: bool = False,
                 force_change: bool = True):
        # A reset words its rows and lines as one (a saved plan may hold creates and resets); the file
        # format is the same.
        self.reset = reset
        self.force_change = force_change
        self.supplied = supplied
        self.out = out = None if opts.dry_run else out
        self.shown: list[tuple[str, str, bool]] = []  # UPN, password, whether a reset
        self.unknown: list[tuple[str, bool]] = []
        self._kinds: set[bool] = set()  # whether the passwords given were resets, creates or both
        self._handed: dict[str, str] = {}  # generated, not settled yet: UPN -> password
        self._file = None
        if out is not None:
            self._file = _private_file(out)
            if self._file.tell() == 0:
                self._file.write(self.HEADER)

    def password(self, change: Change) -> str:
        from provisioner.passwords import generate

        supplied = self.supplied.get(change.upn.lower())
        if supplied:
            return supplied
        password = self._handed[change.upn] = generate()
        self._row(change.upn, password, "pending")
        return password

    def checkpoint(self) -> None:
        """Every password handed out is with the operating system before the creates that set them are
        sent: a killed or interrupted run loses none (as the journal, flushed, not synced: an fsync per
        batch would cost more than the batch; a power cut is not covered)."""
        if self._file is not None:
            try:
                self._file.flush()
            except OSError as e:
                raise self._failed(e) from None

    def created(self, change: Change, object_id: str, password: str | None) -> None:
        if change.upn.lower() in self.supplied:
            return
        from provisioner.changes import Action  # not at import: --help stays light

        self._handed.pop(change.upn, None)
        reset = self.reset or change.action is Action.PASSWORD
        self._kinds.add(reset)
        if password is None:
            self.unknown.append((change.upn, reset))
            self._row(change.upn, "", "unknown")
        elif self._file is not None:
            self._row(change.upn, password, "reset" if reset else "created")
        else:
            self.shown.append((change.upn, password, reset))

    def _row(self, upn: str, password: str, status: str) -> None:
        if self._file is not None:
            try:
                self._file.write(f"{upn},{password},{status}\n")
            except OSError as e:
                raise self._failed(e) from None

    def _failed(self, e: OSError) -> ProvisionerError:
        return ProvisionerError(f"the password file {self.out} could not be written ({e.strerror or e}); stopped "
                                "before the next create, so no user gets a password that is not on record. Make "
                                "room, then re-run the same command: it converges")

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError:  # already reported: the run stopped on it
                pass
        for upn, password, reset in self.shown:
            must = f"; it must be changed at {'next' if reset else 'first'} sign-in" if self.force_change else ""
            err(f"{'New' if reset else 'Initial'} password for {upn}: {password}  (shown once{must})")
        if self.out is not None and self._file is not None:
            kind = {frozenset({True}): "New passwords", frozenset({False}): "Initial passwords"}
            err(f"{kind.get(frozenset(self._kinds), 'Passwords')} written to {self.out} (mode 0600).")
        if self._handed and self.out is not None:
            err(f"{len(self._handed)} {'reset' if self.reset else 'create'}(s) did not finish: their passwords stay "
                f"in {self.out} as 'pending' (a user that exists after all has that password).")
        for reset in (False, True):
            upns = [upn for upn, was_reset in self.unknown if was_reset == reset]
            if upns:
                what = ("New", "reset") if reset else ("Initial", "created")
                err(f"{what[0]} password unknown for {len(upns)} user(s), {what[1]} but the answer was lost and "
                    f"another writer may have set it: {', '.join(upns)}. Set one in the Entra admin center "
                    "(Users > the user > Reset password) or with: Update-MgUser -UserId UPN -PasswordProfile "
                    "@{Password='...'; ForceChangePasswordNextSignIn=$true}")


def _private_file(path: Path) -> IO[str]:
    """The password file: a regular file of ours, mode 0600, never through a symbolic link."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as e:
        raise click.UsageError(f"--password-out {path}: cannot write it ({e.strerror or e}); name a regular "
                               "file, not a link or a directory") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise click.UsageError(f"--password-out {path}: not a regular file; name a regular file")
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "a", encoding="utf-8")


def check_password_out(generated: int, out: Path | None, opts: ChangeOptions) -> None:
    """More than a handful of generated passwords go to a file, never to the terminal."""
    if generated > MAX_PASSWORDS_SHOWN and out is None and not opts.dry_run:
        raise click.UsageError(f"{generated} users get generated passwords: name a --password-out FILE to keep them")
