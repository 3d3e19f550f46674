"""Declarative sync: a manifest becomes a plan; a saved plan is applied only to the tenant it was made from.

``plan_sync`` reads the whole tenant and diffs the manifest against it. ``save_plan`` /
``load_plan`` write and read plan files (``Plan.to_json``: no password, only "generate").
``check_fresh`` re-reads the tenant and recomputes the plan's fingerprint over the same changes:
a saved plan whose tenant has moved on is refused before anything is written.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from provisioner import plan as planning
from provisioner.directory import Directory
from provisioner.errors import ExitCode, ProvisionerError, Refused
from provisioner.model import Manifest, Plan, TenantState
from provisioner.operations import read_full_state
from provisioner.plan import Planned

STALE = "the tenant changed since this plan was made; run sync again"


class PlanFileError(ProvisionerError):
    """A plan file that cannot be read or is not a provisioner plan."""

    exit_code = ExitCode.USAGE


async def plan_sync(d: Directory, manifest: Manifest, *, prune: bool = False, tenant: str = "") -> tuple[
        TenantState, Planned]:
    """Read the tenant and plan the changes that make it match ``manifest``."""
    state = await read_full_state(d)
    planned = planning.diff(manifest, state, prune=prune)
    return state, Planned(replace(planned.plan, tenant=tenant), planned.notes)


async def check_fresh(d: Directory, plan: Plan, *, tenant: str = "") -> TenantState:
    """Re-read the tenant; refuse (exit 4) a plan made for another tenant or from a state that has changed."""
    if plan.tenant and tenant and plan.tenant != tenant:
        raise Refused(f"this plan was made for tenant {plan.tenant!r}, not {tenant!r}; apply it with --tenant "
                      f"{plan.tenant}, or run sync again against this tenant")
    state = await read_full_state(d)
    if not plan.fingerprint or planning.fingerprint(state, plan) != plan.fingerprint:
        raise Refused(STALE)
    return state


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
