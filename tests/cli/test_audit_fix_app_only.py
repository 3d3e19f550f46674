"""``audit --fix-plan`` and ``apply`` with an app-only credential, through a kind = "graph" profile
against `local serve` with a token minted by `provisioner local token`: a PIM rule PATCH is
delegated-only (graph-pim-baseline P§A4.3, A5), so the plan says its role settings need a signed-in
person, and apply refuses it before the first write instead of running the assignments and getting
403 for every rule."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_tenant import DOMAIN, Tenant, make_tenant
from served import serving, token

from provisioner.errors import ExitCode

SEC = "sec@contoso.com"
APP = ("User.Read.All", "RoleManagement.ReadWrite.Directory", "RoleManagementPolicy.ReadWrite.Directory",
       "Organization.Read.All")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Tenant]:
    t = make_tenant(tmp_path)
    t.create("helper", "user")
    with serving(t):
        yield t


def recipients(t: Tenant) -> list[list[str]]:
    """Every alert rule's recipients in the tenant, as Graph lists them."""
    rules = t.json("audit", "-o", "json")["baseline"]
    return [r["details"] for r in rules["results"] if r["policyId"] in ("MS.AAD.7.7v1", "MS.AAD.7.8v1")]


def test_an_app_only_plan_says_its_role_settings_need_a_person_and_apply_refuses_before_any_write(served):
    token(served, *[a for p in APP for a in ("--roles", p)], "--wids", "Privileged Role Administrator")
    plan = served.root / "plan.json"
    made = served.ok("audit", "--fix-plan", str(plan), "--notify", SEC)
    assert made.stdout.splitlines()[-1] == (
        "  - Its 24 PIM role setting change(s) need a signed-in person: Graph refuses them from an application (an "
        "app-only token), so apply refuses this plan with it; apply it with a profile where a Privileged Role "
        'Administrator signs in: auth = "device-code" or auth = "browser".')
    assert plan.exists()
    before, written = recipients(served), len(served.journal_lines())
    refused = served.run("apply", str(plan), "--yes")
    assert refused.exit_code == ExitCode.REFUSED
    assert refused.stderr.splitlines()[-1] == (
        "Error: this plan changes 24 PIM role setting(s), which Graph accepts only from a signed-in person, not from "
        "an application (an app-only token); nothing was written: apply it with a profile where a Privileged Role "
        'Administrator signs in: auth = "device-code" or auth = "browser"')
    assert len(served.journal_lines()) == written
    assert recipients(served) == before
    assert "User Administrator: active permanent" in served.ok("users", "show", f"helper@{DOMAIN}").stdout
    # A signed-in person's token: the same plan applies.
    token(served, *[a for p in APP for a in ("--scp", p)], "--wids", "Privileged Role Administrator",
          "--wids", "User Administrator")
    applied = served.ok("apply", str(plan), "--yes")
    assert "Applied 26 of 26 change(s)" in applied.stderr
    assert {(r["tenant"], r["status"]) for r in served.journal_lines()[written:]} == {("served", "ok")}
    assert recipients(served) != before


def test_a_signed_in_persons_plan_says_nothing_of_it(served):
    token(served, *[a for p in APP for a in ("--scp", p)], "--wids", "Privileged Role Administrator",
          "--wids", "User Administrator")
    made = served.ok("audit", "--fix-plan", str(served.root / "plan.json"), "--notify", SEC)
    assert "need a signed-in person" not in made.stdout
