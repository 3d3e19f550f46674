"""Manifests with role end dates (`until`, `duration`, neither): sync moves the end of the assignment
held through PIM (`adminUpdate`, graph-pim-baseline P§A1.1) instead of planning nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_tenant import ADMIN, BILLING, DOMAIN, GA, Tenant, make_tenant
from plan_editor import DISAGREE, EDITED, refingerprint, write

from provisioner.bootstrap import connected
from provisioner.config import load_config
from provisioner.graph import Request
from provisioner.local.pim import licence_at

ALICE = f"alice@{DOMAIN}"
PIM = "/roleManagement/directory"


@pytest.fixture
def tenant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tenant:
    t = make_tenant(tmp_path)
    # This module's own reads of the tenant (instances, a recomputed fingerprint) go to the same tenant.
    t.export(monkeypatch)
    return t


def _manifest(tenant: Tenant, roles: str, upn: str = ALICE) -> str:
    path = Path(tenant.root) / "team.toml"
    path.write_text(f'[scope]\ndomains = ["{DOMAIN}"]\n\n[[users]]\nuserPrincipalName = "{upn}"\n'
                    f'roles = {roles}\n', encoding="utf-8")
    return str(path)


def _read(*paths: str) -> list[list[dict[str, Any]]]:
    async def read() -> list[list[dict[str, Any]]]:
        async with connected(load_config().profile(None)) as d:
            answers = await d.read([Request(str(n), "GET", p) for n, p in enumerate(paths)])
            return [await d.collect(answers[str(n)]) for n in range(len(paths))]

    return asyncio.run(read())


def _instances(upn: str) -> dict[str, tuple[str, str | None]]:
    """The user's PIM instances by kind: (instance id, end)."""
    found = {}
    oid = _oid(upn)
    eligible, active = _read(f"{PIM}/roleEligibilityScheduleInstances", f"{PIM}/roleAssignmentScheduleInstances")
    for kind, items in (("eligible", eligible), ("active", active)):
        for i in items:
            if i["principalId"] == oid:
                found[f"{kind} {i['roleDefinitionId']}"] = (i["id"], i["endDateTime"])
    return found


def _oid(upn: str) -> str:
    async def read() -> str:
        async with connected(load_config().profile(None)) as d:
            answers = await d.read([Request("u", "GET", f"/users/{upn}?$select=id")])
            return str(answers["u"].body["id"])

    return asyncio.run(read())


def test_until_moves_the_end_and_a_permanent_entry_makes_it_permanent(tenant: Tenant) -> None:
    tenant.create("alice")
    tenant.ok("roles", "assign", ALICE, "global", "--eligible", "--until", "2099-03-01", "--yes")
    tenant.ok("roles", "assign", ALICE, "billing", "--until", "2099-03-01", "--yes")
    before = _instances(ALICE)
    manifest = _manifest(tenant, '["billing", { role = "global", eligible = true, until = "2099-06-30" }]')
    result = tenant.ok("sync", manifest, "--yes")
    assert result.stdout == (
        "Changes are marked: ~ change a role's end\n"
        "\n"
        f"  # the end of role Billing Administrator for {ALICE} will change (held active until 2099-03-01; the "
        "manifest says permanent)\n"
        f"  ~ role Billing Administrator -> {ALICE}\n"
        "      ~ ends = 2099-03-01 -> permanent\n"
        '        assignment = "active"\n'
        "\n"
        f"  # the end of role Global Administrator for {ALICE} will change (held eligible until 2099-03-01; the "
        "manifest says until 2099-06-30)\n"
        f"  ~ role Global Administrator -> {ALICE}\n"
        "      ~ ends = 2099-03-01 -> 2099-06-30\n"
        '        assignment = "eligible"\n'
        "\n"
        "Plan: 2 role ends to change.\n")
    after = _instances(ALICE)
    # The same assignments (instance ids), new ends.
    assert after == {f"eligible {GA}": (before[f"eligible {GA}"][0], "2099-06-30T00:00:00Z"),
                     f"active {BILLING}": (before[f"active {BILLING}"][0], None)}
    assert [r["assignment"] for r in tenant.json("roles", "members", "billing")] == ["active permanent"]
    assert "No changes" in tenant.ok("sync", manifest, "--yes").stderr
    journal = [(j["action"], j["status"]) for j in tenant.journal_lines()][-2:]
    assert journal == [("reschedule", "ok"), ("reschedule", "ok")]


def test_duration_gives_an_end_shortens_and_never_renews(tenant: Tenant) -> None:
    tenant.create("alice")
    tenant.ok("roles", "assign", ALICE, "global", "--eligible", "--yes")  # permanently eligible
    manifest = _manifest(tenant, '[{ role = "global", eligible = true, duration = "P30D" }]')
    plan_file = tenant.root / "plan.json"
    tenant.ok("sync", manifest, "--out", str(plan_file))
    [change] = json.loads(plan_file.read_text(encoding="utf-8"))["changes"]
    end = change["updates"]["endDateTime"][1]
    now = datetime.now(UTC)
    assert now + timedelta(days=29, hours=23) < datetime.fromisoformat(end) <= now + timedelta(days=30)
    result = tenant.ok("sync", manifest, "--yes")
    assert f"      ~ ends = permanent -> {end[:10]}\n" in result.stdout
    assert "(held permanently eligible; the manifest says for P30D)" in result.stdout
    [(_, held_end)] = _instances(ALICE).values()
    assert held_end[:10] == end[:10]
    # Ten days on, it ends within 30 days from now: left alone, not renewed to now + 30 days.
    tenant.ok("local", "clock", "advance", "10d")
    assert "No changes" in tenant.ok("sync", manifest, "--yes").stderr
    assert _instances(ALICE)[f"eligible {GA}"][1] == held_end
    # A shorter duration shortens it to now + 7 days.
    result = tenant.ok("sync", _manifest(tenant, '[{ role = "global", eligible = true, duration = "P7D" }]'),
                       "--yes")
    assert "(held eligible until " in result.stdout and "the manifest says for P7D)" in result.stdout
    shortened = datetime.fromisoformat(_instances(ALICE)[f"eligible {GA}"][1])
    assert shortened < datetime.fromisoformat(held_end) - timedelta(days=10)


def test_an_assignment_made_outside_pim_is_noted_with_what_to_run(tenant: Tenant) -> None:
    manifest = _manifest(tenant, '[{ role = "global", until = "2099-06-30" }]', upn=ADMIN)
    result = tenant.ok("sync", manifest, "--yes")
    assert result.stderr == (
        "Target: local (local tenant, simulated)\n"
        f"{ADMIN} holds Global Administrator active outside PIM (made with the direct API), whose end PIM cannot "
        f"change; to make it end on 2099-06-30, revoke it and grant it again through PIM: provisioner roles revoke "
        f"{ADMIN} global --active, then provisioner roles assign {ADMIN} global --until 2099-06-30\n"
        "No changes. The tenant already matches.\n")
    assert [r["assignment"] for r in tenant.json("roles", "members", "global")] == ["active permanent, outside PIM"]


def test_an_until_in_the_past_is_one_line(tenant: Tenant) -> None:
    tenant.create("alice")
    tenant.ok("roles", "assign", ALICE, "global", "--eligible", "--yes")
    result = tenant.run("sync", _manifest(tenant, '[{ role = "global", eligible = true, until = "2020-06-30" }]'),
                        "--yes")
    assert result.exit_code == 1
    assert result.stderr.endswith(
        f"Error: role 'global' (Global Administrator) of {ALICE}: until = 2020-06-30 is not in the future; give a "
        "later date, or leave the role out of the manifest to revoke it\n")


def test_shortening_the_only_active_global_administrator_warns(tenant: Tenant) -> None:
    tenant.create("alice")
    tenant.ok("roles", "assign", ALICE, "global", "--yes")  # active, through PIM, permanent
    tenant.ok("roles", "revoke", ADMIN, "global", "--yes")
    soon = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%d")
    result = tenant.ok("sync", _manifest(tenant, f'[{{ role = "global", until = "{soon}" }}]'), "--yes")
    assert (f"warning: after this plan every active Global Administrator assignment ends within 7 days ({ALICE} on "
            f"{soon}); an eligible one can act only once activated.") in result.stderr


def test_a_protected_account_gets_no_end(tenant: Tenant) -> None:
    with tenant.config.open("a", encoding="utf-8") as f:
        f.write(f'\n[safety]\nprotected_accounts = ["{ALICE}"]\n')
    tenant.create("alice")
    tenant.ok("roles", "assign", ALICE, "global", "--yes")
    result = tenant.run("sync", _manifest(tenant, '[{ role = "global", until = "2099-06-30" }]'), "--yes")
    assert result.exit_code == 4
    assert (f"giving an end date to Global Administrator of {ALICE} is not allowed: it is a protected account"
            in result.stderr)
    assert _instances(ALICE)[f"active {GA}"][1] is None


def _saved(tenant: Tenant) -> Path:
    tenant.create("alice")
    tenant.ok("roles", "assign", ALICE, "global", "--eligible", "--until", "2099-03-01", "--yes")
    plan_file = tenant.root / "plan.json"
    tenant.ok("sync", _manifest(tenant, '[{ role = "global", eligible = true, until = "2099-06-30" }]'),
              "--out", str(plan_file))
    return plan_file


def test_a_saved_plan_applies(tenant: Tenant) -> None:
    plan_file = _saved(tenant)
    [change] = json.loads(plan_file.read_text(encoding="utf-8"))["changes"]
    instance = _instances(ALICE)[f"eligible {GA}"][0]
    assert change == {"action": "reschedule", "userPrincipalName": ALICE, "objectId": _oid(ALICE),
                      "roleDefinitionId": GA, "roleName": "Global Administrator", "assignmentId": instance,
                      "eligible": True, "updates": {"endDateTime": ["2099-03-01T00:00:00Z", "2099-06-30T00:00:00Z"]},
                      "reason": "held eligible until 2099-03-01; the manifest says until 2099-06-30"}
    result = tenant.ok("apply", str(plan_file), "--yes")
    assert "      ~ ends = 2099-03-01 -> 2099-06-30\n" in result.stdout
    assert _instances(ALICE) == {f"eligible {GA}": (instance, "2099-06-30T00:00:00Z")}


def _edit(plan_file: Path, edit: Any, *, like_an_attacker: bool) -> None:
    data = json.loads(plan_file.read_text(encoding="utf-8"))
    edit(data["changes"][0])
    if like_an_attacker:
        refingerprint(data)
    write(plan_file, data)


@pytest.mark.parametrize(("edit", "problem"), [
    (None, None),
    (lambda c: c["updates"].update(endDateTime=["2099-04-01T00:00:00Z", "2099-06-30T00:00:00Z"]),
     "role assignment {aid} ends 2099-03-01, not 2099-04-01 as the plan says"),
    (lambda c: c.pop("eligible"), "role assignment {aid} is not an active assignment in this tenant"),
    (lambda c: c.update(roleDefinitionId=BILLING),
     f"role id {BILLING} is Billing Administrator, not Global Administrator"),
], ids=["stale-digest", "old-end", "kind", "role"])
def test_an_edited_plan_is_refused(tenant: Tenant, edit: Any, problem: str | None) -> None:
    plan_file = _saved(tenant)
    aid = _instances(ALICE)[f"eligible {GA}"][0]
    if edit is None:
        _edit(plan_file, lambda c: c["updates"].update(endDateTime=["2099-03-01T00:00:00Z", None]),
              like_an_attacker=False)
    else:
        _edit(plan_file, edit, like_an_attacker=True)
    before = _instances(ALICE)
    result = tenant.run("apply", str(plan_file), "--yes")
    assert (result.exit_code, result.stdout) == (4, ""), result.output
    if problem is None:
        assert result.stderr == f"Error: {plan_file}: {EDITED}\n"
    else:
        assert result.stderr.endswith(f"Error: {DISAGREE}\n  - change the end of Global Administrator for {ALICE}: "
                                      f"{problem.format(aid=aid)}\n")
    assert _instances(ALICE) == before


def test_a_tenant_without_pim_refuses_an_end_naming_the_licence(tenant: Tenant) -> None:
    licence_at(tenant.state, False)
    tenant.create("alice", "billing")  # the direct API: permanent
    result = tenant.run("sync", _manifest(tenant, '[{ role = "billing", until = "2099-06-30" }]'), "--yes")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"Error: Billing Administrator for {ALICE}: a time-bound assignment needs Microsoft Entra ID P2 (or Entra "
        "ID Governance) and this tenant has neither; assign it as a permanent active role instead (a plain role "
        "name in the manifest)")
