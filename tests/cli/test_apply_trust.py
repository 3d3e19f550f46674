"""A saved plan someone edited: ``apply --yes`` refuses it (exit 4) and the tenant is untouched.

Two ways to edit: by hand, leaving the digest stale (refused as edited), or the way an attacker
with this code would, recomputing the fingerprint and the digest (refused because the plan's
names and ids disagree). Edits: a role swap (Billing shown, Global Administrator's id written)
and an object swap ("delete alex" carrying a protected or another ordinary user's object id).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_tenant import DOMAIN, GA, Tenant, make_tenant
from plan_editor import DISAGREE, EDITED, refingerprint, write


@pytest.fixture
def tenant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tenant:
    t = make_tenant(tmp_path)
    with t.config.open("a", encoding="utf-8") as f:
        f.write(f'\n[safety]\nprotected_accounts = ["bob@{DOMAIN}"]\n')
    # The attacker's own reads (to recompute the fingerprint) go to the same tenant.
    t.export(monkeypatch)
    return t


def saved_plan(t: Tenant, *users: str, prune: bool = False) -> Path:
    manifest = t.root / "m.toml"
    entries = "".join(f'[[users]]\nuserPrincipalName = "{u}@{DOMAIN}"\n{extra}\n' for u, extra in
                      (u.split(":", 1) if ":" in u else (u, "") for u in users))
    manifest.write_text(f'[scope]\ndomains = ["{DOMAIN}"]\n\n' + entries, encoding="utf-8")
    plan_file = t.root / "plan.json"
    args = ["sync", str(manifest), "--out", str(plan_file)] + (["--prune"] if prune else [])
    t.ok(*args)
    return plan_file


def edit(plan_file: Path, key: str, value: str, *, like_an_attacker: bool) -> None:
    """Set ``key`` in the plan's only change; an attacker also recomputes fingerprint and digest."""
    data = json.loads(plan_file.read_text(encoding="utf-8"))
    [change] = data["changes"]
    change[key] = value
    if like_an_attacker:
        # With the roles' PIM policies, as sync reads them: a grant's expiry rule is fingerprinted.
        refingerprint(data, policies=("global", "billing"))
    write(plan_file, data, indent=2)


def refused(t: Tenant, plan_file: Path) -> str:
    before, journal = t.snapshot(), t.journal_lines()
    result = t.run("apply", str(plan_file), "--yes")
    assert (result.exit_code, result.stdout) == (4, ""), result.output
    assert t.snapshot() == before
    assert t.journal_lines() == journal
    return result.stderr


@pytest.mark.parametrize("like_an_attacker", [False, True], ids=["stale-digest", "recomputed-digest"])
def test_role_swap_is_refused(tenant: Tenant, like_an_attacker: bool) -> None:
    alice = tenant.create("alice")
    plan_file = saved_plan(tenant, 'alice:roles = ["billing"]')
    [change] = json.loads(plan_file.read_text())["changes"]
    assert (change["action"], change["roleName"]) == ("assign", "Billing Administrator")
    edit(plan_file, "roleDefinitionId", GA, like_an_attacker=like_an_attacker)
    stderr = refused(tenant, plan_file)
    if like_an_attacker:
        assert stderr.endswith(
            f"Error: {DISAGREE}\n"
            f"  - assign Billing Administrator to {alice}: role id {GA} is Global Administrator, not Billing "
            "Administrator\n")
    else:
        assert stderr == f"Error: {plan_file}: {EDITED}\n"
    assert tenant.members("global") == [f"admin@{DOMAIN}"]
    assert tenant.members("billing") == []


@pytest.mark.parametrize("like_an_attacker", [False, True], ids=["stale-digest", "recomputed-digest"])
@pytest.mark.parametrize("victim", ["bob", "carl"], ids=["protected", "ordinary"])
def test_object_swap_is_refused(tenant: Tenant, victim: str, like_an_attacker: bool) -> None:
    for name in ("alex", "bob", "carl"):
        tenant.create(name)
    plan_file = saved_plan(tenant, 'admin:roles = ["global"]', "bob", "carl", prune=True)
    [change] = json.loads(plan_file.read_text())["changes"]
    assert (change["action"], change["userPrincipalName"]) == ("delete", f"alex@{DOMAIN}")
    victim_id = tenant.users()[f"{victim}@{DOMAIN}"]["id"]
    edit(plan_file, "objectId", victim_id, like_an_attacker=like_an_attacker)
    stderr = refused(tenant, plan_file)
    if like_an_attacker:
        assert stderr.endswith(
            f"Error: {DISAGREE}\n"
            f"  - delete alex@{DOMAIN}: object id {victim_id} is {victim}@{DOMAIN}, not alex@{DOMAIN}\n")
    else:
        assert stderr == f"Error: {plan_file}: {EDITED}\n"
    assert sorted(tenant.users()) == [f"{n}@{DOMAIN}" for n in ("admin", "alex", "bob", "carl")]


def test_the_unedited_plan_still_applies(tenant: Tenant) -> None:
    tenant.create("alex")
    plan_file = saved_plan(tenant, 'admin:roles = ["global"]', prune=True)
    result = tenant.run("apply", str(plan_file), "--yes")
    assert result.exit_code == 0, result.output
    assert sorted(tenant.users()) == [f"admin@{DOMAIN}"]


def test_a_format_1_plan_is_refused_with_the_way_forward(tenant: Tenant) -> None:
    plan_file = tenant.root / "old.json"
    plan_file.write_text(json.dumps({"formatVersion": 1, "tenant": "local", "fingerprint": "0" * 64, "changes": [
        {"action": "delete", "userPrincipalName": f"admin@{DOMAIN}", "objectId": GA, "attributes": {}}]}))
    result = tenant.run("apply", str(plan_file), "--yes")
    assert result.exit_code == 64
    assert result.stderr == (
        f"Error: {plan_file}: this plan was made by an older version of provisioner (format 1); make the plan "
        "again with this version: provisioner sync MANIFEST --out PLAN.json\n")
