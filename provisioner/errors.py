"""The project's own errors and the exit codes they map to.

Every error a user can see is one of these: the CLI prints ``Error: <message>`` on one line and
exits with the error's code. Messages say what to do next, and never carry a password or secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Documented exit codes. ``USAGE`` is deliberately not 2, which means "changes present"."""

    SUCCESS = 0
    ERROR = 1
    CHANGES_PRESENT = 2  # only with --detailed-exitcode
    PARTIAL = 3  # some changes applied, some failed
    REFUSED = 4  # a guardrail refused the plan before any write
    FINDINGS = 5  # audit --fail-on: findings reached the given severity
    USAGE = 64
    INTERRUPTED = 130


class ProvisionerError(Exception):
    exit_code = ExitCode.ERROR


class ConfigError(ProvisionerError):
    """A config file problem; the message names the file, the key and the fix."""


class NotFound(ProvisionerError):
    """A user, deleted user or role that does not exist in the target tenant."""


class Refused(ProvisionerError):
    """A guardrail refused the whole plan before the first write."""

    exit_code = ExitCode.REFUSED


@dataclass(frozen=True)
class RowError:
    """One problem in one input row: ``row`` counts data rows from 1 as a spreadsheet shows them."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.message}"


class InputError(ProvisionerError):
    """Bad input rows; all of them are reported at once and nothing is written."""

    exit_code = ExitCode.USAGE

    def __init__(self, source: str, problems: list[RowError]):
        self.source = source
        self.problems = problems
        if len(problems) == 1:
            # One problem, one line: what a script's log and a terminal both show whole.
            super().__init__(f"{source}: {problems[0]} (nothing was written)")
            return
        lines = [f"{source}: {len(problems)} invalid row(s), nothing was written:"]
        lines += [f"  {p}" for p in problems]
        super().__init__("\n".join(lines))


class GraphError(ProvisionerError):
    """An error answered by Microsoft Graph (or the local tenant), with Graph's code and request-id."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        request_id: str | None = None,
        details: tuple[str, ...] = (),
    ):
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.details = details
        rid = f" (request-id {request_id})" if request_id else ""
        super().__init__(f"Graph {status} {code}: {message}{rid}")

    @property
    def is_conflict(self) -> bool:
        return "ObjectConflict" in self.details or self.code == "Request_MultipleObjectsWithSameKeyValue"

    @property
    def is_not_found(self) -> bool:
        return self.status == 404 or self.code == "Request_ResourceNotFound"
