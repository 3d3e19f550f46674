"""Licenses as the product sees them: the tenant's SKUs (from ``GET /subscribedSkus``), their
names, and naming a SKU or a service plan the way admins do (L§6.1, L§6.2).

Part numbers and GUIDs never change; product names do, so the names here only label a SKU and
resolve a name an admin typed. A SKU not in the table is shown by its part number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from provisioner.errors import NotFound

# skuPartNumber -> product name (Microsoft's licensing table, L§6.2).
PRODUCT_NAMES = {
    "SPE_E3": "Microsoft 365 E3",
    "SPE_E5": "Microsoft 365 E5",
    "ENTERPRISEPACK": "Office 365 E3",
    "ENTERPRISEPREMIUM": "Office 365 E5",
    "O365_BUSINESS_PREMIUM": "Microsoft 365 Business Standard",
    "SPB": "Microsoft 365 Business Premium",
    "O365_BUSINESS_ESSENTIALS": "Microsoft 365 Business Basic",
    "EXCHANGESTANDARD": "Exchange Online (Plan 1)",
    "AAD_PREMIUM": "Microsoft Entra ID P1",
    "AAD_PREMIUM_P2": "Microsoft Entra ID P2",
    "FLOW_FREE": "Microsoft Power Automate Free",
    "POWER_BI_STANDARD": "Microsoft Fabric (Free)",
}


@dataclass(frozen=True)
class Plan:
    id: str
    name: str
    status: str


@dataclass(frozen=True)
class Sku:
    """One subscribed SKU. ``free`` never goes below 0: consumed can exceed enabled after a restore."""

    id: str  # skuId (lower case)
    part_number: str
    enabled: int
    consumed: int
    suspended: int
    warning: int
    status: str
    applies_to: str
    plans: tuple[Plan, ...]

    @property
    def product_name(self) -> str:
        return PRODUCT_NAMES.get(self.part_number, self.part_number)

    @property
    def free(self) -> int:
        return max(0, self.enabled - self.consumed)

    @classmethod
    def from_graph(cls, d: Mapping[str, Any]) -> Sku:
        units = d.get("prepaidUnits") or {}
        plans = tuple(Plan(str(p.get("servicePlanId", "")).lower(), str(p.get("servicePlanName", "")),
                           str(p.get("provisioningStatus", ""))) for p in d.get("servicePlans") or [])
        return cls(str(d.get("skuId", "")).lower(), str(d.get("skuPartNumber", "")), int(units.get("enabled") or 0),
                   int(d.get("consumedUnits") or 0), int(units.get("suspended") or 0), int(units.get("warning") or 0),
                   str(d.get("capabilityStatus", "")), str(d.get("appliesTo", "")), plans)

    def to_row(self, *, plans: bool = False) -> dict[str, Any]:
        row = {"skuPartNumber": self.part_number, "productName": self.product_name, "enabled": self.enabled,
               "consumed": self.consumed, "free": self.free, "suspended": self.suspended, "warning": self.warning,
               "capabilityStatus": self.status, "skuId": self.id}
        if plans:
            row["servicePlans"] = " ".join(p.name for p in self.plans)
        return row

    def plan(self, ref: str) -> Plan:
        """A service plan of this SKU, by name (MFA_PREMIUM) or id."""
        for p in self.plans:
            if ref.lower() in (p.id, p.name.lower()):
                return p
        names = ", ".join(p.name for p in self.plans) or "none"
        raise NotFound(f"{self.part_number} has no service plan {ref!r}; its plans: {names}")


def resolve_sku(ref: str, skus: Iterable[Sku]) -> Sku:
    """A SKU the tenant has, named by part number (SPE_E5), product name (Microsoft 365 E5) or skuId."""
    skus = list(skus)
    key = ref.strip().lower()
    for sku in skus:
        if key in (sku.id, sku.part_number.lower(), sku.product_name.lower()):
            return sku
    have = ", ".join(sorted(s.part_number for s in skus)) or "none"
    raise NotFound(f"the tenant has no license {ref!r}; it has: {have} (see: provisioner licenses list)")
