"""Review findings on licenses and leavers, each reproduced first: exact output, exit codes, the tenant after."""

from __future__ import annotations

import pytest
from cli_tenant import DOMAIN, Tenant, timeless
from test_lifecycle import _get

from provisioner.local.tenant import init_tenant

ALEX = f"alex@{DOMAIN}"
TARGET = "Target: local (local tenant, simulated)\n"
E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
O365E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"


@pytest.fixture
def licensed(tenant: Tenant) -> Tenant:
    """The CLI tenant with exactly SPE_E5 (2 seats) and ENTERPRISEPACK (2 seats); alex holds SPE_E5."""
    init_tenant(tenant.state, skus={"SPE_E5": 2, "ENTERPRISEPACK": 2})
    tenant.create("alex")
    tenant.ok("licenses", "assign", ALEX, "SPE_E5", "--usage-location", "US", "--yes")
    return tenant


def _skus(tenant: Tenant, upn: str) -> list[str]:
    return sorted(a["skuId"] for a in _get(tenant, upn, "assignedLicenses")["assignedLicenses"] or [])


def test_create_of_an_existing_user_never_takes_its_licenses_away(licensed: Tenant) -> None:
    oid = _get(licensed, ALEX, "id")["id"]
    result = licensed.run("users", "create", ALEX, "--display-name", "Alex", "--license", "ENTERPRISEPACK",
                          "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""  # nothing to do: before the fix, + ENTERPRISEPACK and - SPE_E5
    assert result.stderr == TARGET + (
        f"user {ALEX} already exists (object id {oid}); not created\n"
        f"{ALEX} already exists: its licenses are left as they are (add them with provisioner licenses assign, "
        "or --update-existing)\n"
        "No changes. The tenant already matches.\n")
    assert _skus(licensed, ALEX) == [E5]
    result = licensed.run("users", "create", ALEX, "--display-name", "Alex", "--license", "ENTERPRISEPACK",
                          "--update-existing", "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "Changes are marked: ~ change licenses\n\n"
        f"  # the licenses of user {ALEX} will change (requested)\n"
        f"  ~ user {ALEX} ({oid})\n"
        "      + license ENTERPRISEPACK\n\n"
        "Plan: 1 user to change licenses of.\n")
    assert _skus(licensed, ALEX) == [E5, O365E3]


def test_reassign_reports_never_makes_a_user_its_own_manager(tenant: Tenant) -> None:
    lead, boss = f"lead@{DOMAIN}", f"boss@{DOMAIN}"
    tenant.create("lead")
    tenant.create("boss")
    tenant.ok("users", "update", lead, "--manager", boss, "--yes")
    tenant.ok("users", "update", boss, "--manager", lead, "--yes")  # a loop: each manages the other
    ids = {u: _get(tenant, u, "id")["id"] for u in (lead, boss)}
    result = tenant.run("users", "offboard", lead, "--reassign-reports", "--yes")
    assert result.exit_code == 0, result.stderr
    assert (f"  # the manager of user {boss} will be removed (offboarding {lead}, their manager)\n"
            f"  ~ user {boss} ({ids[boss]})\n"
            f'      ~ manager = "{lead}" -> null\n\n') in result.stdout
    assert (f"{boss} manages {lead} and reports to {lead} (a loop): it cannot become its own manager, so its "
            f"manager is removed; give it one with: provisioner users update {boss} --manager UPN\n") in result.stderr
    assert f'-> "{boss}"' not in result.stdout
    assert [_get(tenant, u, "manager")["manager"] for u in (lead, boss)] == [None, None]
    again = tenant.ok("users", "offboard", lead, "--reassign-reports", "--yes")
    assert "manager" not in again.stdout


def test_offboard_removes_eligible_role_assignments_too(tenant: Tenant) -> None:
    ann = f"ann@{DOMAIN}"
    tenant.create("ann", "billing")
    tenant.ok("roles", "assign", ann, "user", "--eligible", "--yes")
    result = tenant.run("users", "offboard", ann, "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith(
        f"  # role Billing Administrator will be revoked from {ann} (offboarding)\n"
        f"  - role Billing Administrator -> {ann}\n\n"
        f"  # role User Administrator will be revoked from {ann} (offboarding)\n"
        f"  - role User Administrator -> {ann}\n"
        '        assignment = "eligible"\n\n'
        "Plan: 1 to update, 1 user to sign out, 1 password to reset, 2 role assignments to remove.\n")
    assert timeless(result.stderr) == TARGET + "Applied 5 of 5 change(s) in 0.0s.\n"
    assert tenant.members("billing") == [] and tenant.members("user") == []
    assert tenant.json("users", "show", ann)["roles"] == []
    again = tenant.ok("users", "offboard", ann, "--yes")
    assert "- role" not in again.stdout
    assert [(r["alias"], r["holders"], r["eligibleHolders"]) for r in tenant.json("roles", "list")
            if r["alias"] in ("billing", "user")] == [("billing", 0, 0), ("user", 0, 0)]


def test_seats_a_restore_takes_back_count_before_the_first_write(licensed: Tenant, tmp_path) -> None:
    carlos, new2 = f"carlos@{DOMAIN}", f"new2@{DOMAIN}"
    licensed.create("carlos")
    licensed.ok("users", "delete", ALEX, "--yes")  # alex's E5 seat is free while alex is deleted
    licensed.ok("licenses", "assign", carlos, "SPE_E5", "--usage-location", "US", "--yes")
    manifest = tmp_path / "users.toml"
    manifest.write_text(f"""[scope]
domains = ["{DOMAIN}"]

[[users]]
userPrincipalName = "{ALEX}"
displayName = "Alex"

[[users]]
userPrincipalName = "{carlos}"
displayName = "carlos"

[[users]]
userPrincipalName = "{new2}"
displayName = "New2"
usageLocation = "US"
licenses = ["SPE_E5"]
""", encoding="utf-8")
    before = licensed.snapshot()
    result = licensed.run("sync", str(manifest), "--yes")
    assert result.exit_code == 4, result.stderr
    assert result.stderr == TARGET + (
        "Error: refused (1 problem); nothing was written:\n"
        "  - SPE_E5 (Microsoft 365 E5): 2 seat(s) needed (1 of them taken back by restored users), 1 free "
        "(2 enabled, 1 consumed); free seats first or buy more\n")
    assert licensed.snapshot() == before
    # With a second seat bought, the same manifest goes through.
    init_tenant(licensed.state, skus={"SPE_E5": 3, "ENTERPRISEPACK": 2})
    plan = tmp_path / "plan.json"
    licensed.ok("sync", str(manifest), "--out", str(plan))
    # A saved plan counts them again when applied: a seat taken since by someone else refuses it.
    licensed.create("dora")
    licensed.ok("licenses", "assign", f"dora@{DOMAIN}", "SPE_E5", "--usage-location", "US", "--yes")
    before = licensed.snapshot()
    result = licensed.run("apply", str(plan), "--yes")
    assert result.exit_code == 4, result.stderr
    assert result.stderr.endswith(
        "Error: refused (1 problem); nothing was written:\n"
        "  - SPE_E5 (Microsoft 365 E5): 2 seat(s) needed (1 of them taken back by restored users), 1 free "
        "(3 enabled, 2 consumed); free seats first or buy more\n")
    assert licensed.snapshot() == before
    licensed.ok("licenses", "revoke", f"dora@{DOMAIN}", "SPE_E5", "--yes")
    result = licensed.run("apply", str(plan), "--yes")
    assert result.exit_code == 0, result.stderr
    assert (_skus(licensed, ALEX), _skus(licensed, new2)) == ([E5], [E5])


def test_removing_a_license_asks_first_adding_does_not(licensed: Tenant) -> None:
    before = licensed.snapshot()
    result = licensed.run("licenses", "revoke", ALEX, "SPE_E5")
    assert result.exit_code == 64
    assert result.stderr.endswith(
        "Error: not applied: no terminal to confirm on; re-run with --yes to apply this plan\n")
    assert licensed.snapshot() == before and _skus(licensed, ALEX) == [E5]
    # Adding needs no confirmation; removing with --yes goes through.
    licensed.ok("licenses", "assign", ALEX, "ENTERPRISEPACK")
    assert _skus(licensed, ALEX) == [E5, O365E3]
    assert licensed.run("licenses", "revoke", ALEX, "ENTERPRISEPACK", "--yes").exit_code == 0
    assert _skus(licensed, ALEX) == [E5]


def test_a_licenses_column_reports_every_problem_at_once(licensed: Tenant, tmp_path) -> None:
    # SPE_E5: 2 seats, alex holds one. Row 2 names an unknown SKU, row 3 has no usage location, rows 3-4
    # need two E5 seats where one is free; a trailing ';' (as spreadsheets leave it) is no empty entry.
    joiners = tmp_path / "joiners.csv"
    names = [f"{n}@{DOMAIN}" for n in ("dee", "eli", "fay")]
    joiners.write_text("userPrincipalName,displayName,usageLocation,licenses\n"
                       f"{names[0]},Dee,GB,NOPE;ENTERPRISEPACK\n{names[1]},Eli,,SPE_E5;\n{names[2]},Fay,US,SPE_E5;\n",
                       encoding="utf-8")
    before = licensed.snapshot()
    result = licensed.run("users", "create", "--from", str(joiners), "--yes")
    assert result.exit_code == 64
    assert result.stderr == TARGET + (
        "Error: refused (3 problems); nothing was written:\n"
        f"  - {names[0]} (row 2): the tenant has no license 'NOPE'; it has: ENTERPRISEPACK, SPE_E5 (see: provisioner "
        "licenses list)\n"
        f"  - {names[1]} (row 3) has no usage location, which a license needs; give one with it (usageLocation in a "
        "file or manifest, --usage-location on the command line: two letters, like US)\n"
        "  - SPE_E5 (Microsoft 365 E5): 2 seat(s) needed, 1 free (2 enabled, 1 consumed); free seats first or buy "
        "more\n")
    assert licensed.snapshot() == before
    # The rows fixed, the trailing ';' reads as the SKU alone.
    joiners.write_text("userPrincipalName,displayName,usageLocation,licenses\n"
                       f"{names[0]},Dee,GB,ENTERPRISEPACK\n{names[1]},Eli,GB,SPE_E5;\n", encoding="utf-8")
    assert licensed.run("users", "create", "--from", str(joiners), "--yes").exit_code == 0
    assert (_skus(licensed, names[0]), _skus(licensed, names[1])) == ([O365E3], [E5])


def test_an_unknown_or_empty_license_option_is_a_usage_error(licensed: Tenant) -> None:
    new = f"new@{DOMAIN}"
    result = licensed.run("users", "create", new, "--display-name", "New", "--usage-location", "US",
                          "--license", "NOPE", "--yes")
    assert result.exit_code == 64
    assert result.stderr == TARGET + (
        "Error: refused (1 problem); nothing was written:\n"
        f"  - {new} (requested): the tenant has no license 'NOPE'; it has: ENTERPRISEPACK, SPE_E5 (see: provisioner "
        "licenses list)\n")
    result = licensed.run("users", "create", new, "--display-name", "New", "--license", "", "--yes")
    assert result.exit_code == 64
    assert result.stderr.endswith("Error: --license: give a license (part number like SPE_E5, product name or "
                                  "skuId), not an empty value (see: provisioner licenses list)\n")
    assert new not in licensed.users()


def test_a_restore_past_the_seats_says_so_and_restores(licensed: Tenant) -> None:
    carlos, bea = f"carlos@{DOMAIN}", f"bea@{DOMAIN}"
    licensed.create("carlos")
    licensed.create("bea")
    licensed.ok("users", "delete", ALEX, "--yes")  # alex's E5 seat is free while alex is deleted
    for upn in (carlos, bea):
        licensed.ok("licenses", "assign", upn, "SPE_E5", "--usage-location", "US", "--yes")
    result = licensed.run("users", "restore", ALEX, "--yes")
    assert result.exit_code == 0, result.stderr
    assert ("the restore takes back 1 SPE_E5 seat(s) but 0 are free: the tenant will use 3 of its 2 until you free "
            "seats or buy more (Graph restores licenses even past the limit)\n") in result.stderr
    assert _skus(licensed, ALEX) == [E5]
    # Within the seats, nothing is said.
    licensed.ok("users", "delete", ALEX, "--yes")
    licensed.ok("licenses", "revoke", carlos, "SPE_E5", "--yes")
    assert "seat" not in licensed.ok("users", "restore", ALEX, "--yes").stderr
