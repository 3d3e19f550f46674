"""Planning: what to change, refused or not, and whether a saved plan can be trusted. Pure: no
I/O, deterministic.

- ``imperative`` / ``declarative``: the planners; each returns ``Planned`` (the plan and notes).
- ``guardrails``: refuses a whole plan before the first write, deciding on ids only.
- ``fingerprint``: the tenant state a plan depends on, and the digest of a plan's own content.
- ``trust``: re-derives a saved plan's labels from its ids and lists every disagreement.

Rendering lives in ``provisioner.render``; the plan file format in ``provisioner.planfile``.
"""

from __future__ import annotations

from provisioner.plan.declarative import diff
from provisioner.plan.fingerprint import digest, fingerprint
from provisioner.plan.guardrails import guardrails, protected_ids
from provisioner.plan.imperative import (
    Planned,
    plan_assign,
    plan_assign_rows,
    plan_create,
    plan_delete,
    plan_purge,
    plan_restore,
    plan_revoke,
    plan_revoke_rows,
)
from provisioner.plan.lifecycle import UserEdit, plan_update
from provisioner.plan.trust import check_labels

__all__ = [
    "Planned",
    "UserEdit",
    "check_labels",
    "diff",
    "digest",
    "fingerprint",
    "guardrails",
    "plan_assign",
    "plan_assign_rows",
    "plan_create",
    "plan_delete",
    "plan_purge",
    "plan_restore",
    "plan_update",
    "plan_revoke",
    "plan_revoke_rows",
    "protected_ids",
]
