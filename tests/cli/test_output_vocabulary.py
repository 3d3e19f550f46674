"""One output vocabulary: -o on mutating commands gives each change's result as data on stdout, the
plan on stderr; --results - is stdout; --quiet is the summary alone; -o is case-insensitive."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from cli_tenant import DOMAIN, Tenant, make_tenant, timeless

ALICE = f"alice@{DOMAIN}"


@pytest.fixture
def tenant(tmp_path: Path) -> Tenant:
    return make_tenant(tmp_path)


def test_create_with_o_json_prints_each_result_and_the_new_id(tenant: Tenant) -> None:
    result = tenant.ok("users", "create", ALICE, "--display-name", "Alice", "--role", "billing", "-o", "json")
    results = json.loads(result.stdout)
    oid = tenant.users()[ALICE]["id"]
    assert [(r["action"], r["userPrincipalName"], r["objectId"], r["roleName"], r["status"]) for r in results] == [
        ("create", ALICE, oid, None, "ok"), ("assign", ALICE, oid, "Billing Administrator", "ok")]
    assert f"+ user {ALICE}" in result.stderr  # the plan went to stderr


def test_delete_with_o_csv_and_results_dash(tenant: Tenant) -> None:
    tenant.create("alice")
    rows = list(csv.DictReader(io.StringIO(tenant.ok("users", "delete", ALICE, "--yes", "-o", "CSV").stdout)))
    assert [(r["action"], r["status"], r["httpStatus"]) for r in rows] == [("delete", "ok", "204")]
    tenant.ok("users", "restore", ALICE)
    lines = tenant.ok("users", "delete", ALICE, "--yes", "--results", "-").stdout.splitlines()
    assert json.loads(lines[-1])["action"] == "delete"


def test_quiet_prints_only_the_summary(tenant: Tenant) -> None:
    result = tenant.ok("users", "create", ALICE, "--display-name", "Alice", "--password-out",
                       str(tenant.root / "pw.csv"), "--quiet")
    assert result.stdout == ""
    lines = timeless(result.stderr).splitlines()
    assert [line for line in lines if not line.startswith(("Target:", "Initial passwords"))] == [
        "Applied 1 of 1 change(s) in 0.0s."]


def test_a_dry_run_with_o_json_prints_the_plan_as_data(tenant: Tenant) -> None:
    plan = json.loads(tenant.ok("users", "create", ALICE, "--display-name", "Alice", "--dry-run", "-o", "json").stdout)
    assert [(c["action"], c["userPrincipalName"]) for c in plan["changes"]] == [("create", ALICE)]
