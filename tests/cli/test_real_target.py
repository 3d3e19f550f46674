"""The real-tenant code path without the internet: a kind = "graph" profile with a static bearer
token, pointed at `provisioner local serve` on loopback."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_tenant import ADMIN, DOMAIN, Tenant, make_tenant
from served import serving

ALICE = f"alice@{DOMAIN}"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Tenant]:
    # Every command below goes to the served profile, named by the environment, not the config.
    with serving(make_tenant(tmp_path), default="local", token="any-token-the-local-tenant-accepts") as t:
        t.extra_env["PROVISIONER_TENANT"] = "served"
        yield t


def test_lifecycle_through_served_profile(served: Tenant) -> None:
    listed = served.ok("users", "list", "-o", "json")
    target = listed.stderr.splitlines()[0]
    assert target.startswith("Target: served")
    assert "simulated" not in target
    assert [u["userPrincipalName"] for u in served.json("users", "list")] == [ADMIN]

    created = served.ok("users", "create", ALICE, "--display-name", "Alice", "--role", "billing", "--yes")
    assert "Applied 2 of 2 change(s)" in created.stderr
    assert re.search(r"Initial password for alice@\S+: \S+", created.stderr)
    assert sorted(served.users()) == [ADMIN, ALICE]
    assert served.members("billing") == [ALICE]

    served.ok("roles", "assign", ALICE, "user", "--yes")
    holders = {r["alias"]: r["holders"] for r in served.json("roles", "list")}
    assert holders == {"global": 1, "billing": 1, "password": 0, "service": 0, "user": 1}

    served.ok("users", "delete", ALICE, "--yes")
    assert list(served.deleted()) == [ALICE]

    restored = served.ok("users", "restore", ALICE, "--yes")
    assert (f"Restored {ALICE}; its roles came back: Billing Administrator, User Administrator"
            in restored.stderr)
    assert sorted(served.users()) == [ADMIN, ALICE]
    assert served.members("user") == [ALICE]

    refused = served.run("roles", "revoke", ADMIN, "global", "--yes")
    assert refused.exit_code == 4
    journal = served.journal_lines()
    assert [j["action"] for j in journal] == ["create", "assign", "assign", "delete", "restore"]
    assert {j["tenant"] for j in journal} == {"served"}
    assert all(j["requestId"] for j in journal)


def test_missing_token_variable(served: Tenant) -> None:
    del served.extra_env["TEST_GRAPH_TOKEN"]
    served.extra_env["TEST_GRAPH_TOKEN"] = None  # type: ignore[assignment]
    result = served.run("users", "list")
    assert result.exit_code == 1
    assert "TEST_GRAPH_TOKEN" in result.stderr


def test_doctor_without_the_token_variable_fails_at_the_credential(served: Tenant) -> None:
    served.extra_env["TEST_GRAPH_TOKEN"] = None  # type: ignore[assignment]
    result = served.run("doctor")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[1].startswith("[FAIL] credential (token): ConfigError: ") and "TEST_GRAPH_TOKEN" in lines[1]
    assert len(lines) == 2


def _jwt(claims: dict[str, object]) -> str:
    def part(d: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.sig"


def test_doctor_through_served_profile(served: Tenant) -> None:
    served.extra_env["TEST_GRAPH_TOKEN"] = _jwt({
        "tid": "00000000-0000-0000-0000-000000000000", "app_displayname": "provisioner-tests",
        "roles": ["User.ReadWrite.All", "User.DeleteRestore.All", "RoleManagement.ReadWrite.Directory",
                  "Organization.Read.All"],
        "wids": ["fe930be7-5e62-47db-91af-98c3a49a38b1"]})  # User Administrator: an app resets passwords with it
    result = served.ok("doctor")
    lines = result.stdout.splitlines()
    assert lines[1].startswith("[ok ] token: for provisioner-tests, tenant 00000000-0000-0000-0000-000000000000, "
                               "application permissions: ")
    assert any(line.startswith("[ok ] reachable:") for line in lines)
    assert not [line for line in lines if line.startswith("[FAIL]")]


def test_doctor_names_the_missing_permission(served: Tenant) -> None:
    served.extra_env["TEST_GRAPH_TOKEN"] = _jwt({"tid": "t", "appid": "a", "roles": ["User.Read.All"]})
    result = served.run("doctor")
    assert result.exit_code == 1
    fails = [line for line in result.stdout.splitlines() if line.startswith("[FAIL]")]
    assert fails
    assert any(line.startswith("[FAIL] users create: ") and "User.ReadWrite.All" in line for line in fails)
    assert "Error: doctor found problems (see FAIL lines)" in result.stderr
