"""Declarative sync: a manifest becomes a plan; a saved plan is applied only to the tenant it was made from.

``plan_sync`` reads the whole tenant and diffs the manifest against it. ``save_plan`` /
``load_plan`` write and read plan files (format 2, ``provisioner.planfile``: no password, only
where it comes from; a file whose content does not match its digest is refused). ``check_fresh``
re-reads the tenant, recomputes the plan's fingerprint over the same changes (a plan whose
tenant has moved on is refused) and re-derives every label from its id (a plan whose names and
ids disagree is refused), all before anything is written.
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
from provisioner.planfile import DigestMismatch, OldPlanFormat

STALE = "the tenant changed since this plan was made; run sync again"
REMAKE = "make it with: provisioner sync MANIFEST --out PLAN.json"


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
    problems = planning.check_labels(plan, state)
    if problems:
        head = (f"this plan's names and ids disagree ({len(problems)} problem{'s' if len(problems) > 1 else ''}): "
                "it was edited after it was made; nothing was written. Make the plan again: provisioner sync "
                "MANIFEST --out PLAN.json")
        raise Refused("\n".join([head, *(f"  - {p}" for p in problems)]))
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
        return Plan.from_json(data)
    except OldPlanFormat as e:
        raise PlanFileError(f"{path}: {e}") from None
    except DigestMismatch as e:
        raise Refused(f"{path}: {e}; nothing was written. Make the plan again: provisioner sync MANIFEST "
                      "--out PLAN.json") from None
    except ValueError as e:
        raise PlanFileError(f"{path}: {e}; {REMAKE}") from None
