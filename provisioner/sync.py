"""Declarative sync: a manifest becomes a plan; a saved plan is applied only to the tenant it was made from.

``plan_sync`` reads the whole tenant and diffs the manifest against it. ``save_plan`` /
``load_plan`` write and read plan files (``Plan.to_json``: no password, only "generate").
``check_fresh`` re-reads the tenant and recomputes the plan's fingerprint over the same changes:
a saved plan whose tenant has moved on is refused before anything is written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from provisioner.errors import ExitCode, ProvisionerError
from provisioner.model import Plan

STALE = "the tenant changed since this plan was made; run sync again"


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
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise PlanFileError(f"{path}: cannot read the plan file ({e.strerror})") from None
    except json.JSONDecodeError as e:
        raise PlanFileError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}); make it with: "
                            "provisioner sync MANIFEST --out PLAN.json") from None
    try:
        if not isinstance(data, dict):
            raise ValueError("not a provisioner plan (a JSON object expected)")
        return Plan.from_json(data)
    except (KeyError, ValueError, TypeError) as e:
        detail = str(e) if not isinstance(e, KeyError) else f"a change lacks {e}"
        raise PlanFileError(f"{path}: {detail}; make it with: provisioner sync MANIFEST --out PLAN.json") from None
