"""Licensing in the local tenant (L§6, L§8.5-8.9): the tenant's subscribed SKUs and a user's
direct license assignments.

The SKUs carry Microsoft's real skuIds, part numbers and service plans (L§6.2). A tenant made
without `--sku` gets DEFAULT_SKUS (SPE_E5 among them: it carries the Entra ID P2 plan). The SKU
set lives in the `meta` table as JSON; a tenant file made before licensing existed gets the
default set on first use.

`consumedUnits` is never stored: it is the number of users that are not deleted and hold the SKU,
so a soft delete frees the seat and a restore takes it back even past `prepaidUnits.enabled`
(L§6.9). A disabled user keeps its seat.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid

from . import users
from .store import Store, iso
from .wire import bad_request

PLANS = {
    "AAD_PREMIUM": "41781fb2-bc02-4b7c-bd55-b576c07bb09d",
    "AAD_PREMIUM_P2": "eec0eb4f-6444-4f95-aba0-50c24d67f998",
    "MFA_PREMIUM": "8a256a2b-b617-496d-b51b-e76466e88db0",
    "EXCHANGE_S_ENTERPRISE": "efb87545-963c-4e0d-99df-69c6916d9eb0",
    "EXCHANGE_S_STANDARD": "9aaf7827-d63c-4b61-89c3-182f06f82e5c",
    "FLOW_P2_VIRAL": "50e68c76-46c6-4674-81f9-75456511b170",
    "BI_AZURE_P0": "2049e525-b859-401b-b2a0-e0a31c4b1fe4",
    "EXCHANGE_S_FOUNDATION": "113feb6c-3fe4-4440-bddc-54d774bf0318",
    "INTUNE_A": "c1ec4a95-1f05-45b3-a911-aa3fa01094f5",
    "ADALLOM_S_DISCOVERY": "932ad362-64a8-4783-9106-97849a1a30b9",
    "ADALLOM_S_O365": "8c098270-9dd4-4350-9b30-ba4703f3b36b",
    "INTUNE_O365": "882e1d05-acd1-4ccb-8708-6ee03664b117",
    "BPOS_S_TODO_1": "5e62787c-c316-451f-b873-1d05acd4d12c",
    "DYN365_CDS_VIRAL": "17ab22cd-a0b3-4536-910a-cb6eb12696c0",
    "PURVIEW_DISCOVERY": "c948ea65-2053-4a5a-8a62-9eaaaf11b522",
    "Entra_Identity_Governance": "e866a266-3cff-43a3-acca-0c90a7e00c8b",  # P§A6.2
}
_ENTRA_P1 = ("AAD_PREMIUM", "MFA_PREMIUM", "ADALLOM_S_DISCOVERY", "EXCHANGE_S_FOUNDATION")
# Part number -> (skuId, service plans). The big suites list the plans L§6.2 names, not all of them.
CATALOG: dict[str, tuple[str, tuple[str, ...]]] = {
    "SPE_E3": ("05e9a617-0261-4cee-bb44-138d3ef5d965", ("AAD_PREMIUM", "MFA_PREMIUM", "EXCHANGE_S_ENTERPRISE",
                                                         "INTUNE_A")),
    "SPE_E5": ("06ebc4ee-1bb5-47dd-8120-11324bc54e06", ("AAD_PREMIUM", "AAD_PREMIUM_P2", "MFA_PREMIUM",
                                                         "EXCHANGE_S_ENTERPRISE", "INTUNE_A")),
    "ENTERPRISEPACK": ("6fd2c87f-b296-42f0-b197-1e91e994b900", ("EXCHANGE_S_ENTERPRISE",)),
    "ENTERPRISEPREMIUM": ("c7df2760-2c81-4ef7-b578-5b5392b571df", ("EXCHANGE_S_ENTERPRISE", "ADALLOM_S_O365")),
    "O365_BUSINESS_PREMIUM": ("f245ecc8-75af-4f8e-b61f-27d8114de5f3", ("EXCHANGE_S_STANDARD",)),
    "SPB": ("cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46", ("AAD_PREMIUM", "MFA_PREMIUM", "EXCHANGE_S_STANDARD",
                                                      "INTUNE_A")),
    "O365_BUSINESS_ESSENTIALS": ("3b555118-da6a-4418-894f-7df1e2096870", ("EXCHANGE_S_STANDARD",)),
    "EXCHANGESTANDARD": ("4b9405b0-7788-4568-add1-99614e613b69", ("EXCHANGE_S_STANDARD", "INTUNE_O365",
                                                                   "BPOS_S_TODO_1")),
    "AAD_PREMIUM": ("078d2b04-f1bd-4111-bbd4-b4b1b354cef4", _ENTRA_P1),
    "AAD_PREMIUM_P2": ("84a661c4-e949-4bd2-a560-ed7766fcaf2b", (*_ENTRA_P1, "AAD_PREMIUM_P2")),
    # PIM without P2 (P§A3, A6.3): ScubaGear still reports such a tenant as unlicensed.
    "Microsoft_Entra_ID_Governance": ("cf6b0d46-4093-4546-a0ab-0b1546dcc10e", ("Entra_Identity_Governance",)),
    "FLOW_FREE": ("f30db892-07e9-47e9-837c-80727f46fd3d", ("FLOW_P2_VIRAL", "DYN365_CDS_VIRAL",
                                                            "EXCHANGE_S_FOUNDATION")),
    "POWER_BI_STANDARD": ("a403ebcc-fae0-4ca2-8c8c-7a907fd6c235", ("BI_AZURE_P0", "PURVIEW_DISCOVERY",
                                                                    "EXCHANGE_S_FOUNDATION")),
}
DEFAULT_SKUS = {"SPE_E5": 25, "ENTERPRISEPACK": 25, "FLOW_FREE": 10000}
_KEY = "subscribed_skus"
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
NO_USAGE_LOCATION = "License assignment cannot be done for user with invalid usage location."


def parse_skus(values: list[str]) -> dict[str, int]:
    """`PART=N` strings (as `local init --sku` takes them) -> {part number: enabled seats}."""
    skus: dict[str, int] = {}
    for value in values:
        part, _, count = value.partition("=")
        part = part.strip().upper()
        if part not in CATALOG:
            raise ValueError(f"{value!r}: unknown SKU part number; known: {', '.join(sorted(CATALOG))}")
        if not count.strip().isdigit():
            raise ValueError(f"{value!r}: give the number of seats, like {part}=25")
        skus[part] = int(count)
    return skus


def seed_skus(store: Store, skus: dict[str, int]) -> None:
    """Give the tenant exactly these SKUs (part number -> enabled seats)."""
    with store.write() as db:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (_KEY, json.dumps(skus)))


def enabled_seats(db: sqlite3.Connection) -> dict[str, int]:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (_KEY,)).fetchone()
    return json.loads(row[0]) if row else dict(DEFAULT_SKUS)


def _consumed(db: sqlite3.Connection) -> dict[str, int]:
    rows = db.execute(
        "SELECT lower(json_extract(j.value, '$.skuId')), COUNT(DISTINCT u.id) FROM users u,"
        " json_each(u.props, '$.assignedLicenses') j WHERE u.deleted IS NULL GROUP BY 1").fetchall()
    return {sku: n for sku, n in rows}


def subscribed_skus(store: Store) -> list[dict]:
    """GET /subscribedSkus: every SKU as Graph shapes it (L§6.1, L§8.5)."""
    tenant = store.tenant_id()
    with store.read() as db:
        seats, consumed = enabled_seats(db), _consumed(db)
    out = []
    for part, enabled in seats.items():
        sku_id, plans = CATALOG[part]
        out.append({
            "accountId": tenant,
            "accountName": "Contoso",
            "appliesTo": "User",
            "capabilityStatus": "Enabled",
            "consumedUnits": consumed.get(sku_id, 0),
            "id": f"{tenant}_{sku_id}",
            "prepaidUnits": {"enabled": enabled, "lockedOut": 0, "suspended": 0, "warning": 0},
            "servicePlans": [{"servicePlanId": PLANS[p], "servicePlanName": p, "provisioningStatus": "Success",
                              "appliesTo": "User"} for p in plans],
            "skuId": sku_id,
            "skuPartNumber": part,
            "subscriptionIds": [str(uuid.uuid5(uuid.UUID(tenant), part))],
        })
    return out


def _guid(value: object) -> str:
    if not isinstance(value, str) or not _GUID.fullmatch(value):
        raise bad_request("Cannot convert a primitive value to the expected type 'Edm.Guid'. See the inner "
                          "exception for more details.")
    return value.lower()


def assign_license(store: Store, key: str, body: dict) -> dict:
    """POST /users/{id}/assignLicense, checked in the order of L§8.6; nothing is applied on failure.
    Returns the user (the route answers with the default projection)."""
    missing = [name for name in ("addLicenses", "removeLicenses") if name not in body]
    with store.write() as db:
        user = users.require_user(db, key)
        if missing:
            raise bad_request("One or more parameters of the operation 'assignLicense' are missing from the "
                              f"request payload. The missing parameters are: {', '.join(missing)}.")
        adds, removes = body.get("addLicenses") or [], body.get("removeLicenses") or []
        if not isinstance(adds, list) or not isinstance(removes, list) or not all(isinstance(a, dict) for a in adds):
            raise bad_request("Invalid request body: addLicenses and removeLicenses must be arrays.")
        added = {_guid(a.get("skuId")): [_guid(p) for p in a.get("disabledPlans") or []] for a in adds}
        removed = [_guid(r) for r in removes]
        seats = enabled_seats(db)
        by_id = {CATALOG[p][0]: p for p in seats}
        for sku in [*added, *removed]:
            if sku not in by_id:
                raise bad_request(f"License {sku} does not correspond to a valid company License.")
        for sku, disabled in added.items():
            plans = {PLANS[p] for p in CATALOG[by_id[sku]][1]}
            for plan in disabled:
                if plan not in plans:
                    raise bad_request(f"Service plan {plan} does not belong to subscription {sku}.")
        held = {str(a["skuId"]).lower(): a for a in user.get("assignedLicenses") or []}
        for sku in removed:
            if sku not in held:
                raise bad_request("User does not have a corresponding license")
        if added and not user.get("usageLocation"):
            raise bad_request(NO_USAGE_LOCATION)
        # Counting seats reads every user: only a SKU the user does not hold yet needs it (a removal,
        # as offboarding sends, or a change of disabled plans takes no seat).
        consumed = _consumed(db) if any(sku not in held for sku in added) else {}
        for sku in added:
            if sku not in held and consumed.get(sku, 0) >= seats[by_id[sku]]:
                raise bad_request(f"Subscription {sku} does not have any available licenses.")
        for sku in removed:
            held.pop(sku)
        for sku, disabled in added.items():
            held[sku] = {"disabledPlans": disabled, "skuId": sku}
        _store_licenses(user, list(held.values()), iso(store.now()), by_id)
        users._save(db, user)
    return user


def _store_licenses(user: dict, assigned: list[dict], now: str, by_id: dict[str, str]) -> None:
    user["assignedLicenses"] = assigned
    user["licenseAssignmentStates"] = [
        {"assignedByGroup": None, "disabledPlans": a["disabledPlans"], "error": "None", "lastUpdatedDateTime": now,
         "skuId": a["skuId"], "state": "Active"} for a in assigned]
    user["assignedPlans"] = [
        {"assignedDateTime": now, "capabilityStatus": "Enabled", "service": name, "servicePlanId": PLANS[name]}
        for a in assigned for name in CATALOG[by_id[a["skuId"]]][1] if PLANS[name] not in a["disabledPlans"]]

