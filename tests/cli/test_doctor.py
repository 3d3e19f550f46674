"""doctor on the local tenant and with a broken config."""

from __future__ import annotations

from cli_tenant import Tenant


def test_doctor_local_tenant_is_healthy(tenant: Tenant) -> None:
    result = tenant.ok("doctor")
    lines = result.stdout.splitlines()
    assert lines[0] == f"[ok ] config: {tenant.config}; target local (local tenant, simulated)"
    assert lines[1] == "[ok ] reachable: local tenant answered (users readable: yes)" or \
        lines[1].startswith("[ok ] reachable:")
    assert lines[-1] == "[ok ] permissions: the local tenant grants every permission"


def test_doctor_bad_config_names_file_and_key(tenant: Tenant) -> None:
    tenant.config.write_text('[execution]\nconcurrency = "lots"\n', encoding="utf-8")
    result = tenant.run("doctor")
    assert result.exit_code == 1
    assert result.stdout.startswith("[FAIL] config: ")
    assert str(tenant.config) in result.stdout
    assert "concurrency" in result.stdout
    assert "Error: the config is not usable" in result.stderr


def test_missing_config_file_is_an_error_for_every_command(tenant: Tenant) -> None:
    tenant.config.unlink()
    result = tenant.run("users", "list")
    assert result.exit_code == 1
    assert f"Error: {tenant.config}: config file not found" in result.stderr


def test_unknown_tenant_profile(tenant: Tenant) -> None:
    result = tenant.run("--tenant", "nosuch", "users", "list")
    assert result.exit_code == 1
    assert "nosuch" in result.stderr
