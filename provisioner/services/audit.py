"""The read-only audit as a use case: the whole tenant, read once, judged, and the drift from a manifest."""

from __future__ import annotations

from datetime import timedelta

from provisioner import audit as auditing
from provisioner import plan as planning
from provisioner.model import Manifest
from provisioner.services.reads import full_state
from provisioner.services.target import Target


async def audit(target: Target, *, expiring_within: timedelta, all_roles: bool = False,
                manifest: Manifest | None = None, manifest_name: str = "") -> auditing.AuditReport:
    """Who holds admin roles, what is wrong, what expires soon; and with ``manifest`` what a sync
    would change (never applied)."""
    state = await full_state(target.directory)
    drift = None
    if manifest is not None:
        planned = planning.diff(manifest, state)
        drift = auditing.Drift(manifest_name, planned.plan.changes, planned.notes)
    profile = target.profile
    return auditing.audit(state, protected=profile.safety.protected_accounts, expiring_within=expiring_within,
                          all_roles=all_roles, tenant=profile.name, drift=drift)
