"""A determined editor of saved plans: someone with this code who edits a plan file and recomputes its
digest, or its fingerprint and digest (re-reading the tenant the environment names, as sync would), so
that only apply's own checks of names, ids and the tenant stand between the edit and a write. Also the
refusals such a plan gets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from provisioner.bootstrap import connected
from provisioner.changes import Plan
from provisioner.config import load_config
from provisioner.model import TenantState
from provisioner.plan import fingerprint
from provisioner.planfile import digest
from provisioner.services.reads import full_state

REMAKE = "Make the plan again: provisioner sync MANIFEST --out PLAN.json"
EDITED = ("this plan was edited after it was made (its content does not match its digest); nothing was written. "
          f"{REMAKE}")
# A saved plan comes from sync --out or audit --fix-plan: the refusal names both ways to make it again.
STALE = ("the tenant changed since this plan was made; make the plan again (provisioner sync MANIFEST --out PLAN.json, "
         "or provisioner audit --fix-plan PLAN.json)")


def disagree(problems: int = 1) -> str:
    """The refusal of a plan whose names and ids disagree (without its "Error: ")."""
    count = "1 problem" if problems == 1 else f"{problems} problems"
    return (f"this plan's names and ids disagree ({count}): it was edited after it was made; nothing was written. "
            f"{REMAKE}")


DISAGREE = disagree()


def read_state(policies: Iterable[str] = ()) -> TenantState:
    """The tenant the environment names, as sync reads it (with ``policies``, those roles' PIM policies:
    a grant's expiry rule is fingerprinted)."""
    async def read() -> TenantState:
        async with connected(load_config().profile(None)) as d:
            return await full_state(d, policies=policies)

    return asyncio.run(read())


def redigest(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (a plan file's JSON) with its digest recomputed in place, as anyone with this code can."""
    data["digest"] = digest({k: v for k, v in data.items() if k != "digest"})
    return data


def signed(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` with its digest recomputed."""
    return redigest(dict(data))


def refingerprint(data: dict[str, Any], *, policies: Iterable[str] = (),
                  changes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``data`` with its fingerprint (of the tenant as it is now) and its digest recomputed in place;
    ``changes``, when given, are what the fingerprint is worked out on instead of the plan's own."""
    content = {k: v for k, v in data.items() if k != "digest"}
    if changes is not None:
        content["changes"] = changes
    data["fingerprint"] = fingerprint(read_state(policies), Plan.from_json({**content, "digest": digest(content)}))
    return redigest(data)


def write(plan_file: Path, data: dict[str, Any], *, indent: int | None = None) -> None:
    plan_file.write_text(json.dumps(data, indent=indent), encoding="utf-8")
