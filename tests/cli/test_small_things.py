"""Completion, -v, local init/reset, restore --new-upn: the small things admins meet first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_tenant import ADMIN, DOMAIN, Tenant, make_tenant

ALICE = f"alice@{DOMAIN}"


@pytest.fixture
def tenant(tmp_path: Path) -> Tenant:
    return make_tenant(tmp_path)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_a_script_for_each_shell(tenant: Tenant, shell: str) -> None:
    result = tenant.ok("completion", shell)
    assert "_PROVISIONER_COMPLETE" in result.stdout


def test_completion_offers_role_aliases(tenant: Tenant) -> None:
    env = {**os.environ, "COMP_WORDS": f"provisioner roles assign {ALICE} bil", "COMP_CWORD": "4",
           "_PROVISIONER_COMPLETE": "bash_complete"}
    done = subprocess.run([sys.executable, "-m", "provisioner"], env=env, capture_output=True, text=True, timeout=30)
    assert done.stdout.splitlines() == ["plain,billing", "plain,Billing Administrator"]


def test_verbose_logs_each_request_once(tenant: Tenant) -> None:
    env = {k: v for k, v in {**os.environ, **tenant.env}.items() if v is not None}
    done = subprocess.run([sys.executable, "-m", "provisioner", "-v", "users", "show", ADMIN], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    logged = [line for line in done.stderr.splitlines() if "/v1.0/" in line]
    # The user, then its assignments and PIM instances together in one batch.
    assert [line.split(" -> ")[0] for line in logged] == [f"GET /v1.0/users/{ADMIN}", "POST /v1.0/$batch"]


def test_local_init_with_a_new_domain_adds_it_to_an_existing_tenant(tenant: Tenant) -> None:
    result = tenant.ok("local", "init", "--domain", "fabrikam.com")
    assert result.stderr.splitlines()[-1] == (
        "Added the verified domain fabrikam.com; the default domain stays contoso.onmicrosoft.com (a new tenant "
        "is made with: provisioner local reset --domain fabrikam.com).")
    tenant.ok("users", "create", "ann@fabrikam.com", "--display-name", "Ann")
    assert "ann@fabrikam.com" in tenant.users()


def test_local_reset_without_a_terminal_needs_yes(tenant: Tenant) -> None:
    tenant.create("alice")
    result = tenant.run("local", "reset")
    assert result.exit_code == 64
    assert result.stderr.splitlines()[-1] == (
        "Error: not reset: no terminal to confirm on; re-run with --yes to reset the tenant")
    assert ALICE in tenant.users()


def test_restore_under_a_new_name_says_the_new_name(tenant: Tenant) -> None:
    tenant.create("alice", "billing")
    tenant.ok("users", "delete", ALICE, "--yes")
    tenant.create("alice")
    result = tenant.ok("users", "restore", ALICE, "--new-upn", f"alice.old@{DOMAIN}")
    assert result.stderr.splitlines()[-1] == (
        f"Restored {ALICE} as alice.old@{DOMAIN}; its roles came back: Billing Administrator")
