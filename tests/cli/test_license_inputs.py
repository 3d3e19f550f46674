"""Licenses from inputs: users create --license, a licenses column in user files (create and update
--from), licenses = [...] in the manifest; sync --out then apply; guardrails before the first write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_tenant import DOMAIN, Tenant, timeless
from test_lifecycle import _get

from provisioner.local.tenant import init_tenant

ANN = f"ann@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
CAT = f"cat@{DOMAIN}"
TARGET = "Target: local (local tenant, simulated)\n"
E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
O365E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"


@pytest.fixture
def licensed(tenant: Tenant) -> Tenant:
    """The CLI tenant with exactly SPE_E5 (1 seat) and ENTERPRISEPACK (2 seats)."""
    init_tenant(tenant.state, skus={"SPE_E5": 1, "ENTERPRISEPACK": 2})
    return tenant


def _skus(tenant: Tenant, upn: str) -> list[str]:
    return sorted(a["skuId"] for a in _get(tenant, upn, "assignedLicenses")["assignedLicenses"] or [])


def test_joiner_created_with_licenses_then_refused_without_location_or_seats(licensed: Tenant) -> None:
    result = licensed.run("users", "create", ANN, "--display-name", "Ann", "--usage-location", "gb",
                          "--license", "SPE_E5", "--license", "Office 365 E3", "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith(
        f"  # the licenses of user {ANN} will change (requested)\n"
        f"  ~ user {ANN}\n"
        "      + license SPE_E5\n"
        "      + license ENTERPRISEPACK\n\n"
        "Plan: 1 to create, 1 user to change licenses of.\n")
    assert timeless(result.stderr).endswith("Applied 2 of 2 change(s) in 0.0s.\n")
    assert _skus(licensed, ANN) == [E5, O365E3]
    before = licensed.snapshot()
    result = licensed.run("users", "create", BOB, "--display-name", "Bob", "--license", "SPE_E5", "--yes")
    assert result.exit_code == 4
    assert result.stderr == TARGET + (
        "Error: refused (2 problems); nothing was written:\n"
        f"  - {BOB} has no usage location, which a license needs; give one with it (usageLocation in a file or "
        "manifest, --usage-location on the command line: two letters, like US)\n"
        "  - SPE_E5 (Microsoft 365 E5): 1 seat(s) needed, 0 free (1 enabled, 1 consumed); free seats first or buy "
        "more\n")
    assert licensed.snapshot() == before
    result = licensed.run("users", "create", BOB, "--display-name", "Bob", "--usage-location", "US",
                          "--license", "NOPE", "--yes")
    assert (result.exit_code, result.stderr) == (64, TARGET + (
        "Error: refused (1 problem); nothing was written:\n"
        f"  - {BOB} (requested): the tenant has no license 'NOPE'; it has: ENTERPRISEPACK, SPE_E5 (see: provisioner "
        "licenses list)\n"))


def test_license_column_on_create_and_update_from_files(licensed: Tenant, tmp_path: Path) -> None:
    joiners = tmp_path / "joiners.csv"
    joiners.write_text("userPrincipalName,displayName,usageLocation,licenses\n"
                       f"{ANN},Ann,GB,SPE_E5;ENTERPRISEPACK\n{BOB},Bob,US,\n", encoding="utf-8")
    result = licensed.run("users", "create", "--from", str(joiners), "--yes")
    assert result.exit_code == 0, result.stderr
    assert f"  # the licenses of user {ANN} will change (row 2)\n" in result.stdout
    assert (_skus(licensed, ANN), _skus(licensed, BOB)) == ([E5, O365E3], [])
    # A mover: the cell is the user's direct licenses (missing added, others removed); blank keeps; - clears.
    movers = tmp_path / "movers.json"
    movers.write_text(json.dumps([{"userPrincipalName": ANN, "department": "Sales", "licenses": ""},
                                  {"userPrincipalName": BOB, "licenses": ["Microsoft 365 E5"]}]), encoding="utf-8")
    result = licensed.run("users", "update", "--from", str(movers), "--yes")
    assert result.exit_code == 4 and "SPE_E5 (Microsoft 365 E5): 1 seat(s) needed, 0 free" in result.stderr
    movers.write_text(json.dumps([{"userPrincipalName": ANN, "department": "Sales", "licenses": "ENTERPRISEPACK"},
                                  {"userPrincipalName": BOB, "licenses": ["Microsoft 365 E5"]}]), encoding="utf-8")
    result = licensed.run("users", "update", "--from", str(movers), "--yes")
    assert result.exit_code == 0, result.stderr
    bob = _get(licensed, BOB, "id")["id"]
    assert result.stdout.endswith(
        f"  # the licenses of user {ANN} will change (row 1)\n"
        f"  ~ user {ANN} ({_get(licensed, ANN, 'id')['id']})\n"
        "      - license SPE_E5\n\n"
        f"  # the licenses of user {BOB} will change (row 2)\n"
        f"  ~ user {BOB} ({bob})\n"
        "      + license SPE_E5\n\n"
        "Plan: 1 to update, 2 users to change licenses of.\n")
    assert (_skus(licensed, ANN), _skus(licensed, BOB)) == ([O365E3], [E5])
    again = licensed.ok("users", "update", "--from", str(movers), "--yes")
    assert again.stderr.endswith("No changes. The tenant already matches.\n")
    movers = tmp_path / "movers.csv"
    movers.write_text(f"userPrincipalName,licenses\n{BOB},-\n", encoding="utf-8")
    licensed.ok("users", "update", "--from", str(movers), "--yes")
    assert _skus(licensed, BOB) == []
    movers.write_text(f"userPrincipalName,licenses\n{BOB},SPE_E5;;\n", encoding="utf-8")
    result = licensed.run("users", "update", "--from", str(movers), "--yes")
    assert result.exit_code == 64, result.stderr
    assert "row 2, column licenses: 'SPE_E5;;' has an empty entry; separate licenses with a single ';'" \
        in result.stderr


MANIFEST = f"""[scope]
domains = ["{DOMAIN}"]

[[users]]
userPrincipalName = "{ANN}"
displayName = "Ann"
usageLocation = "GB"
licenses = ["SPE_E5", "Office 365 E3"]

[[users]]
userPrincipalName = "{BOB}"
displayName = "Bob"
"""


def test_manifest_licenses_sync_out_apply_converges_and_edited_plan_refused(licensed: Tenant,
                                                                             tmp_path: Path) -> None:
    licensed.create("bob")
    licensed.ok("users", "update", BOB, "--usage-location", "US", "--yes")
    licensed.ok("licenses", "assign", BOB, "ENTERPRISEPACK", "--yes")
    manifest = tmp_path / "users.toml"
    manifest.write_text(MANIFEST, encoding="utf-8")
    plan = tmp_path / "plan.json"
    saved = licensed.ok("sync", str(manifest), "--out", str(plan))
    assert saved.stdout.endswith(
        f"  # the licenses of user {ANN} will change (in the manifest)\n"
        f"  ~ user {ANN}\n"
        "      + license SPE_E5\n"
        "      + license ENTERPRISEPACK\n\n"
        "Plan: 1 to create, 1 user to change licenses of.\n")  # no licenses key for bob: his are kept
    data = json.loads(plan.read_text(encoding="utf-8"))
    license = next(c for c in data["changes"] if c["action"] == "license")
    assert license == {"action": "license", "userPrincipalName": ANN,
                       "updates": {E5: [None, []], O365E3: [None, []]}, "reason": "in the manifest",
                       "properties": {E5: "SPE_E5", O365E3: "ENTERPRISEPACK"}}
    # An edited license change is refused before anything is read or written.
    edited = tmp_path / "edited.json"
    license["updates"][O365E3] = [None, ["8a256a2b-b617-496d-b51b-e76466e88db0"]]
    edited.write_text(json.dumps(data), encoding="utf-8")
    result = licensed.run("apply", str(edited), "--yes")
    assert result.exit_code == 4
    assert "this plan was edited after it was made (its content does not match its digest)" in result.stderr
    license["updates"] = {"SPE_E5": [None, []]}
    edited.write_text(json.dumps(data), encoding="utf-8")
    result = licensed.run("apply", str(edited), "--yes")
    assert result.exit_code == 64
    assert f"change 2 (license {ANN}): updates key 'SPE_E5' must be a license's skuId (a GUID" in result.stderr
    assert ANN not in licensed.users()

    applied = licensed.run("apply", str(plan), "--yes")
    assert applied.exit_code == 0, applied.stderr
    assert (_skus(licensed, ANN), _skus(licensed, BOB)) == ([E5, O365E3], [O365E3])
    assert licensed.ok("sync", str(manifest), "--dry-run").stderr.endswith("No changes. The tenant already matches.\n")
    # licenses = [] removes the direct ones; a listed SKU the tenant lacks is refused.
    manifest.write_text(MANIFEST + "licenses = []\n", encoding="utf-8")
    result = licensed.ok("sync", str(manifest), "--yes")
    assert "      - license ENTERPRISEPACK\n" in result.stdout and _skus(licensed, BOB) == []
    manifest.write_text(MANIFEST + 'licenses = ["SPE_E3"]\n', encoding="utf-8")
    result = licensed.run("sync", str(manifest), "--yes")
    assert result.exit_code == 64 and "the tenant has no license 'SPE_E3'" in result.stderr


def test_manifest_licenses_must_be_a_list_of_names(licensed: Tenant, tmp_path: Path) -> None:
    manifest = tmp_path / "users.toml"
    manifest.write_text(MANIFEST + 'licenses = "SPE_E5"\n', encoding="utf-8")
    result = licensed.run("sync", str(manifest), "--dry-run")
    assert result.exit_code == 64
    assert ('licenses: must be a list of licenses (part number, product name or skuId), like ["SPE_E5", '
            '"Office 365 E3"]') in result.stderr
