"""Saved plans on disk: ``save_plan`` / ``load_plan`` write and read plan files (format 2,
``provisioner.planfile``: no password, only where it comes from; a file whose content does not
match its digest is refused). The checks against the tenant are ``services.check_plan``'s.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from provisioner.changes import Plan
from provisioner.errors import ExitCode, ProvisionerError, Refused
from provisioner.planfile import DigestMismatch, OldPlanFormat

REMAKE = "make it with: provisioner sync MANIFEST --out PLAN.json"


class PlanFileError(ProvisionerError):
    """A plan file that cannot be read or is not a provisioner plan."""

    exit_code = ExitCode.USAGE


def save_plan(plan: Plan, path: Path) -> None:
    """Write the plan as JSON, atomically (a half-written plan file never exists)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(plan.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def load_plan(path: Path) -> Plan:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise PlanFileError(f"{path}: cannot read the plan file ({e.strerror})") from None
    try:
        # A plan is written as UTF-8; an editor may have added a byte-order mark.
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise PlanFileError(f"{path}: not a plan written by provisioner (byte 0x{raw[e.start]:02X} at offset "
                            f"{e.start:,} is not UTF-8: binary data, or re-saved in another encoding); "
                            f"{REMAKE}") from None
    except json.JSONDecodeError as e:
        raise PlanFileError(f"{path}: not valid JSON ({e.msg}: line {e.lineno}, column {e.colno}); {REMAKE}") from None
    except RecursionError:
        raise PlanFileError(f"{path}: not a provisioner plan (nested too deeply); {REMAKE}") from None
    except ValueError:  # int() refuses more than 4,300 digits
        raise PlanFileError(f"{path}: not a provisioner plan (a number over 4,300 digits); {REMAKE}") from None
    try:
        return Plan.from_json(data)
    except OldPlanFormat as e:
        raise PlanFileError(f"{path}: {e}") from None
    except DigestMismatch as e:
        raise Refused(f"{path}: {e}; nothing was written. Make the plan again: provisioner sync MANIFEST "
                      "--out PLAN.json") from None
    except ValueError as e:
        raise PlanFileError(f"{path}: {e}; {REMAKE}") from None
