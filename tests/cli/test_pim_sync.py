"""Manifests with role kinds (`{ role = "global", eligible = true, duration = "P180D" }`): sync
converges the kind a role is held as (PIM, graph-pim-baseline P§A1-A2)."""

from __future__ import annotations

from pathlib import Path

from cli_tenant import DOMAIN, Tenant

ALICE = f"alice@{DOMAIN}"


def _manifest(tenant: Tenant, roles: str) -> str:
    path = Path(tenant.root) / "team.toml"
    path.write_text(f'[scope]\ndomains = ["{DOMAIN}"]\n\n[[users]]\nuserPrincipalName = "{ALICE}"\n'
                    f'displayName = "Alice"\nroles = {roles}\n', encoding="utf-8")
    return str(path)


def _held(tenant: Tenant, role: str) -> list[str]:
    return [r["assignment"] for r in tenant.json("roles", "members", role) if r["userPrincipalName"] == ALICE]


def test_sync_creates_with_kinds_then_converges_them(tenant: Tenant) -> None:
    manifest = _manifest(tenant, '["billing", { role = "global", eligible = true, duration = "P180D" }]')
    result = tenant.ok("sync", manifest, "--yes")
    assert '        assignment = "eligible, for P180D"' in result.stdout
    assert _held(tenant, "billing") == ["active permanent"]
    [eligible] = _held(tenant, "global")
    assert eligible.startswith("eligible until ")
    # Again: nothing to do.
    assert "No changes" in tenant.ok("sync", manifest, "--yes").stderr
    # Billing becomes eligible: the eligibility is added and the active assignment removed.
    manifest = _manifest(tenant, '[{ role = "billing", eligible = true }, { role = "global", eligible = true, '
                                 'duration = "P180D" }]')
    result = tenant.ok("sync", manifest, "--yes")
    assert "Plan: 1 role assignment to add, 1 role assignment to remove." in result.stdout
    assert _held(tenant, "billing") == ["permanently eligible"]
    # A managed role left out of the list: its eligibility goes too.
    tenant.ok("sync", _manifest(tenant, '[{ role = "billing", eligible = true }]'), "--yes")
    assert _held(tenant, "global") == []


def test_a_bad_role_table_is_one_line_naming_the_key(tenant: Tenant) -> None:
    result = tenant.run("sync", _manifest(tenant, '[{ role = "global", eligible = true, duration = "180 days" }]'),
                        "--yes")
    assert result.exit_code != 0
    assert ("role 'global': duration '180 days' is not a positive ISO 8601 duration, like P180D or PT8H"
            in result.stderr)
    # No duration at all would be a permanent grant: zero is refused, a fraction of a second rounded up.
    for zero in ("PT0S", "P0D"):
        result = tenant.run("sync", _manifest(tenant, f'[{{ role = "global", duration = "{zero}" }}]'), "--dry-run")
        assert result.exit_code == 64, result.stderr
        assert f"duration '{zero}' is not a positive ISO 8601 duration" in result.stderr
    result = tenant.run("sync", _manifest(tenant, '[{ role = "billing", duration = "PT0.5S" }]'), "--dry-run")
    assert 'for PT1S' in result.stdout, result.output
