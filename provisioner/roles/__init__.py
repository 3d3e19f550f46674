"""Admin roles: the catalog of names (aliases, classic, legacy, Entra) and the rules around them."""

from __future__ import annotations

from provisioner.roles.catalog import (
    CLASSIC_ROLES,
    GLOBAL_ADMIN_ID,
    ClassicRole,
    classic_for,
    is_privileged,
    resolve_role,
)
from provisioner.roles.rules import global_admin_holders, removes_last_global_admin

__all__ = [
    "CLASSIC_ROLES",
    "GLOBAL_ADMIN_ID",
    "ClassicRole",
    "classic_for",
    "global_admin_holders",
    "is_privileged",
    "removes_last_global_admin",
    "resolve_role",
]
