"""licenses list / assign / revoke: exact plans, guardrails before the first write, the tenant after."""

from __future__ import annotations

import csv
import io

import pytest
from cli_tenant import DOMAIN, Tenant, timeless
from test_lifecycle import _get

from provisioner.local.tenant import init_tenant

ANN = f"ann@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
TARGET = "Target: local (local tenant, simulated)\n"
E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
O365E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
MFA = "8a256a2b-b617-496d-b51b-e76466e88db0"


@pytest.fixture
def licensed(tenant: Tenant) -> Tenant:
    """The CLI tenant with exactly SPE_E5 (1 seat) and ENTERPRISEPACK (2 seats), and ann and bob."""
    init_tenant(tenant.state, skus={"SPE_E5": 1, "ENTERPRISEPACK": 2})
    tenant.create("ann")
    tenant.create("bob")
    return tenant


def _licenses(tenant: Tenant, upn: str) -> list[dict]:
    return _get(tenant, upn, "assignedLicenses")["assignedLicenses"] or []


def test_list_shows_seats_and_plans(licensed: Tenant) -> None:
    result = licensed.ok("licenses", "list", "--plans", "-o", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["skuPartNumber", "productName", "enabled", "consumed", "free", "suspended", "warning",
                             "capabilityStatus", "skuId", "servicePlans"]  # the columns JSON has
    assert [(r["skuPartNumber"], r["free"], r["servicePlans"]) for r in rows] == [
        ("ENTERPRISEPACK", "2", "EXCHANGE_S_ENTERPRISE"),
        ("SPE_E5", "1", "AAD_PREMIUM AAD_PREMIUM_P2 MFA_PREMIUM EXCHANGE_S_ENTERPRISE INTUNE_A")]
    rows = licensed.json("licenses", "list")
    assert [(r["skuPartNumber"], r["skuId"], r["free"]) for r in rows] == [("ENTERPRISEPACK", O365E3, 2),
                                                                           ("SPE_E5", E5, 1)]


def test_default_tenant_has_a_p2_bearing_sku(tenant: Tenant) -> None:
    rows = tenant.json("licenses", "list")
    assert [r["skuPartNumber"] for r in rows] == ["ENTERPRISEPACK", "FLOW_FREE", "SPE_E5"]


def test_assign_sets_usage_location_first_exact_plan(licensed: Tenant) -> None:
    oid = _get(licensed, ANN, "id")["id"]
    result = licensed.run("licenses", "assign", ANN, "SPE_E5", "Office 365 E3", "--disable-plan", "MFA_PREMIUM",
                          "--usage-location", "gb", "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "Changes are marked: ~ update, change licenses\n\n"
        f"  # user {ANN} will be updated in-place (requested; a license needs a usage location)\n"
        f"  ~ user {ANN} ({oid})\n"
        '      ~ usageLocation = null -> "GB"\n\n'
        f"  # the licenses of user {ANN} will change (requested)\n"
        f"  ~ user {ANN} ({oid})\n"
        "      + license SPE_E5 (disabled plans: MFA_PREMIUM)\n"
        "      + license ENTERPRISEPACK\n\n"
        "Plan: 1 to update, 1 user to change licenses of.\n")
    assert timeless(result.stderr) == TARGET + "Applied 2 of 2 change(s) in 0.0s.\n"
    assert sorted(_licenses(licensed, ANN), key=lambda a: a["skuId"]) == [
        {"disabledPlans": [MFA], "skuId": E5}, {"disabledPlans": [], "skuId": O365E3}]
    # Re-running converges; GUID names the same SKU.
    again = licensed.ok("licenses", "assign", ANN, E5, "--disable-plan", MFA, "--yes")
    assert again.stderr == TARGET + (f"{ANN} already has SPE_E5; nothing to add\n"
                                     "No changes. The tenant already matches.\n")
    journal = [(line["action"], line["status"]) for line in licensed.journal_lines()]
    assert journal[-2:] == [("update", "ok"), ("license", "ok")]


def test_guardrails_refuse_before_any_write(licensed: Tenant) -> None:
    licensed.ok("users", "update", BOB, "--usage-location", "GB", "--yes")
    licensed.ok("licenses", "assign", BOB, "SPE_E5", "--yes")
    before = licensed.snapshot(), _licenses(licensed, ANN)
    result = licensed.run("licenses", "assign", ANN, "SPE_E5", "--yes")
    assert result.exit_code == 4
    assert result.stderr == TARGET + (
        "Error: refused (2 problems); nothing was written:\n"
        f"  - {ANN} has no usage location, which a license needs; give one with --usage-location CC (a two-letter "
        "country code)\n"
        "  - SPE_E5 (Microsoft 365 E5): 1 seat(s) needed, 0 free (1 enabled, 1 consumed); free seats first or buy "
        "more\n")
    assert (licensed.snapshot(), _licenses(licensed, ANN)) == before
    # A seat freed by revoking it is free for the next plan.
    revoked = licensed.ok("licenses", "revoke", BOB, "Microsoft 365 E5", "--yes")
    assert "      - license SPE_E5\n" in revoked.stdout
    assert licensed.json("licenses", "list")[1]["free"] == 1


def test_unknown_sku_or_plan_and_usage_errors(licensed: Tenant) -> None:
    result = licensed.run("licenses", "assign", ANN, "NOPE", "--yes")
    assert result.exit_code == 1
    assert result.stderr == TARGET + ("Error: the tenant has no license 'NOPE'; it has: ENTERPRISEPACK, SPE_E5 "
                                      "(see: provisioner licenses list)\n")
    result = licensed.run("licenses", "assign", ANN, "ENTERPRISEPACK", "--disable-plan", "MFA_PREMIUM", "--yes")
    assert result.exit_code == 1
    assert "ENTERPRISEPACK has no service plan 'MFA_PREMIUM'; its plans: EXCHANGE_S_ENTERPRISE" in result.stderr
    result = licensed.run("licenses", "assign", ANN, "SPE_E5", "--usage-location", "USA", "--yes")
    assert result.exit_code == 64 and "--usage-location: 'USA' is not a country code" in result.stderr
    assert licensed.run("licenses", "assign", ANN, "--yes").exit_code == 64


def test_seats_come_back_on_restore_past_the_limit(licensed: Tenant) -> None:
    licensed.ok("licenses", "assign", ANN, "SPE_E5", "--usage-location", "GB", "--yes")
    licensed.ok("users", "delete", ANN, "--yes")
    assert licensed.json("licenses", "list")[1]["consumed"] == 0
    licensed.ok("licenses", "assign", BOB, "SPE_E5", "--usage-location", "GB", "--yes")
    licensed.ok("users", "restore", ANN, "--yes")
    e5 = licensed.json("licenses", "list")[1]
    assert (e5["enabled"], e5["consumed"], e5["free"]) == (1, 2, 0)


def test_users_show_lists_licenses(licensed: Tenant) -> None:
    assert licensed.json("users", "show", ANN)["licenses"] == []
    licensed.ok("licenses", "assign", ANN, "SPE_E5", "ENTERPRISEPACK", "--usage-location", "GB", "--yes")
    assert licensed.json("users", "show", ANN)["licenses"] == ["ENTERPRISEPACK", "SPE_E5"]
    table = licensed.ok("users", "show", ANN).stdout
    assert "Licenses" in table and "SPE_E5" in table
