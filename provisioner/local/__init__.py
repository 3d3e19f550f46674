"""The local tenant: a file-backed Entra tenant that speaks Microsoft Graph v1.0.

Names are loaded on first use so that importing this package costs nothing.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Realism": "provisioner.local.realism",
    "create_app": "provisioner.local.app",
    "transport": "provisioner.local.app",
    "LOCAL_BASE_URL": "provisioner.local.app",
    "default_state_path": "provisioner.local.tenant",
    "init_tenant": "provisioner.local.tenant",
    "reset_tenant": "provisioner.local.tenant",
    "add_domain": "provisioner.local.tenant",
    "DEFAULT_DOMAIN": "provisioner.local.tenant",
    "advance_clock": "provisioner.local.tenant",
    "has_password": "provisioner.local.tenant",
    "tenant_now": "provisioner.local.tenant",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'provisioner.local' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
