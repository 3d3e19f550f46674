"""Files the admin names: the user rows a command reads (``--from``, ``--skip-invalid``) and the
file that receives generated initial passwords (``--password-out``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from provisioner.cli.app import ChangeOptions, err

if TYPE_CHECKING:
    from provisioner.inputs import UserRows
    from provisioner.model import Change

# More generated passwords than this in one run go to a file, not to the terminal.
MAX_PASSWORDS_SHOWN = 10

from_option = click.option("--from", "from_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
                           metavar="FILE", help="Read the users from a CSV or JSON file (every row validated first).")
skip_invalid_option = click.option("--skip-invalid", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
                                   help="Go on without the bad rows of --from; write them to FILE.")
password_out_option = click.option("--password-out", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
                                   help="Write generated passwords to FILE (mode 0600) instead of showing them.")


def read_rows(path: Path, action: str, skip_invalid: Path | None) -> UserRows:
    """The valid rows of a user file; with ``skip_invalid`` the bad ones are listed there, else any
    bad row stops the command (every one reported)."""
    from provisioner.inputs import read_users

    rows, problems = read_users(path, for_action=action, skip_invalid=skip_invalid is not None)
    if problems and skip_invalid is not None:
        skip_invalid.write_text("".join(f"{p}\n" for p in problems), encoding="utf-8")
        err(f"{len(problems)} invalid row problem(s) skipped; listed in {skip_invalid}.")
    return rows


class PasswordKeeper:
    """Supplies each created user's password and gives it to the admin once: into the file they
    named (mode 0600), or on stderr at the end for a handful of users. Never into logs or plans."""

    def __init__(self, supplied: dict[str, str], out: Path | None, opts: ChangeOptions):
        self.supplied = supplied
        self.out = out = None if opts.dry_run else out
        self.shown: list[tuple[str, str]] = []
        self._file = None
        if out is not None:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.chmod(out, 0o600)
            self._file = os.fdopen(fd, "a", encoding="utf-8")
            if self._file.tell() == 0:
                self._file.write("userPrincipalName,password\n")

    def password(self, change: Change) -> str:
        from provisioner.passwords import generate

        return self.supplied.get(change.upn.lower()) or generate()

    def created(self, change: Change, object_id: str, password: str) -> None:
        if change.upn.lower() in self.supplied:
            return
        if self._file is not None:
            self._file.write(f"{change.upn},{password}\n")
            self._file.flush()
        else:
            self.shown.append((change.upn, password))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        for upn, password in self.shown:
            err(f"Initial password for {upn}: {password}  (shown once; it must be changed at first sign-in)")
        if self.out is not None and self._file is not None:
            err(f"Initial passwords written to {self.out} (mode 0600).")


def check_password_out(generated: int, out: Path | None, opts: ChangeOptions) -> None:
    """More than a handful of generated passwords go to a file, never to the terminal."""
    if generated > MAX_PASSWORDS_SHOWN and out is None and not opts.dry_run:
        raise click.UsageError(f"{generated} users get generated passwords: name a --password-out FILE to keep them")
