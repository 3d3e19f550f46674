"""``provisioner sync`` and ``provisioner apply`` against the local tenant, through Click's runner."""

from __future__ import annotations

import asyncio
import json
import stat

import click
import pytest
from click.testing import CliRunner
from plan_editor import STALE, signed

from provisioner.bootstrap import connected
from provisioner.cli import ProvisionerGroup
from provisioner.cli.app import App
from provisioner.cli.sync import apply_command, sync_command
from provisioner.cli.users import users
from provisioner.config import load_config
from provisioner.services.reads import full_state

DOMAIN = "contoso.onmicrosoft.com"


@click.group(cls=ProvisionerGroup)
@click.pass_context
def root(ctx: click.Context) -> None:
    ctx.obj = App()


for _command in (sync_command, apply_command, users):
    root.add_command(_command)


@pytest.fixture
def tenant(tmp_path, monkeypatch):
    """A fresh local tenant and a config whose journal lives in tmp_path."""
    config = tmp_path / "config.toml"
    config.write_text(f'[execution]\njournal = "{tmp_path / "journal.jsonl"}"\n\n[safety]\nmax_deletes = 2\n')
    monkeypatch.setenv("PROVISIONER_CONFIG", str(config))
    monkeypatch.setenv("PROVISIONER_LOCAL_STATE", str(tmp_path / "tenant.db"))
    for var in ("THROTTLE", "LATENCY_MS", "FAULT_RATE", "REPLICATION_LAG", "DROP_RATE"):
        monkeypatch.delenv(f"PROVISIONER_LOCAL_{var}", raising=False)
    return tmp_path


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(root, list(args), input=input, catch_exceptions=False)


def snapshot() -> dict[str, tuple]:
    """Every active user (UPN -> display name, job title, sorted role names), read through the gateway."""

    async def read():
        async with connected(load_config().profile(None)) as d:
            state = await full_state(d)
        names = {r.id: r.display_name for r in state.roles}
        held: dict[str, list[str]] = {}
        for a in state.assignments:
            held.setdefault(a.principal_id, []).append(names.get(a.role_definition_id, a.role_definition_id))
        return {upn: (u.display_name, u.job_title, tuple(sorted(held.get(u.id, [])))) for upn, u in state.users.items()}

    return asyncio.run(read())


def manifest(path, *users: str, extra: str = "") -> str:
    body = f'[scope]\ndomains = ["{DOMAIN}"]\n{extra}\n' + "".join(users)
    path.write_text(body)
    return str(path)


ADMIN = f'[[users]]\nuserPrincipalName = "admin@{DOMAIN}"\nroles = ["global"]\n'
ALICE = f'[[users]]\nuserPrincipalName = "alice@{DOMAIN}"\ndisplayName = "Alice Archer"\njobTitle = "Engineer"\n' \
        'roles = ["billing"]\n'
BOB = f'[[users]]\nuserPrincipalName = "bob@{DOMAIN}"\ndisplayName = "Bob Baker"\n'

PLAN_TEXT = f"""\
Changes are marked: + create, assign role

  # user alice@{DOMAIN} will be created (in the manifest, not in the tenant)
  + user alice@{DOMAIN}
        userPrincipalName = "alice@{DOMAIN}"
        displayName       = "Alice Archer"
        accountEnabled    = true
        mailNickname      = "alice"
        jobTitle          = "Engineer"
        passwordProfile   = (generated)

  # user bob@{DOMAIN} will be created (in the manifest, not in the tenant)
  + user bob@{DOMAIN}
        userPrincipalName = "bob@{DOMAIN}"
        displayName       = "Bob Baker"
        accountEnabled    = true
        mailNickname      = "bob"
        passwordProfile   = (generated)

  # role Billing Administrator will be assigned to alice@{DOMAIN} (in the manifest)
  + role Billing Administrator -> alice@{DOMAIN}

Plan: 2 to create, 1 role assignment to add.
"""


def test_dry_run_shows_the_plan_and_writes_nothing(tenant):
    path = manifest(tenant / "m.toml", ADMIN, ALICE, BOB)
    before = snapshot()
    result = invoke("sync", path, "--dry-run")
    assert result.exit_code == 0
    assert result.stdout == PLAN_TEXT
    assert result.stderr.endswith("Dry run: nothing was written.\n")
    assert snapshot() == before
    assert not (tenant / "journal.jsonl").exists()


def test_detailed_exitcode_is_2_with_changes_and_0_without(tenant):
    path = manifest(tenant / "m.toml", ADMIN, BOB)
    assert invoke("sync", path, "--dry-run", "--detailed-exitcode").exit_code == 2
    assert invoke("sync", path, "--yes", "--detailed-exitcode").exit_code == 0
    again = invoke("sync", path, "--dry-run", "--detailed-exitcode")
    assert again.exit_code == 0
    assert again.stdout == ""
    assert again.stderr.endswith("No changes. The tenant already matches.\n")


def test_without_a_terminal_a_sync_that_only_adds_runs_and_one_that_deletes_writes_nothing(tenant):
    assert invoke("sync", manifest(tenant / "m.toml", ADMIN, BOB)).exit_code == 0
    before = snapshot()
    result = invoke("sync", manifest(tenant / "m2.toml", ADMIN), "--prune")
    assert result.exit_code == 64
    assert result.stderr.endswith(
        "Error: not applied: no terminal to confirm on; re-run with --yes to apply this plan\n")
    assert snapshot() == before


def test_yes_applies_and_a_second_run_has_nothing_to_do(tenant):
    path = manifest(tenant / "m.toml", ADMIN, ALICE, BOB)
    result = invoke("sync", path, "--yes", "--password-out", str(tenant / "pw.csv"), "--results",
                    str(tenant / "results.jsonl"))
    assert result.exit_code == 0, result.output
    assert "Applied 3 of 3 change(s)" in result.stderr
    state = snapshot()
    assert state[f"alice@{DOMAIN}"] == ("Alice Archer", "Engineer", ("Billing Administrator",))
    assert state[f"bob@{DOMAIN}"] == ("Bob Baker", None, ())
    results = [json.loads(line) for line in (tenant / "results.jsonl").read_text().splitlines()]
    assert [(r["action"], r["userPrincipalName"], r["status"]) for r in results] == [
        ("create", f"alice@{DOMAIN}", "ok"), ("create", f"bob@{DOMAIN}", "ok"), ("assign", f"alice@{DOMAIN}", "ok")]
    lines = (tenant / "pw.csv").read_text().splitlines()
    assert lines[0] == "userPrincipalName,password,status"
    settled = sorted(line.split(",")[0] for line in lines[1:] if line.endswith(",created"))
    assert settled == [f"alice@{DOMAIN}", f"bob@{DOMAIN}"]
    assert stat.S_IMODE((tenant / "pw.csv").stat().st_mode) == 0o600
    journal = (tenant / "journal.jsonl").read_text()
    for line in lines[1:]:
        assert line.split(",")[1] not in journal
    again = invoke("sync", path, "--yes")
    assert again.exit_code == 0
    assert again.stderr.endswith("No changes. The tenant already matches.\n")


def test_update_and_managed_role_revoke(tenant):
    path = manifest(tenant / "m.toml", ADMIN, ALICE)
    assert invoke("sync", path, "--yes").exit_code == 0
    changed = ALICE.replace('"Engineer"', '"Lead"').replace('["billing"]', '["user"]')
    manifest(tenant / "m.toml", ADMIN, changed)
    result = invoke("sync", path, "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("Plan: 1 to update, 1 role assignment to add, 1 role assignment to remove.\n")
    assert snapshot()[f"alice@{DOMAIN}"] == ("Alice Archer", "Lead", ("User Administrator",))


def test_out_saves_the_plan_without_passwords_and_apply_applies_it_once(tenant):
    path = manifest(tenant / "m.toml", ADMIN, ALICE, BOB)
    plan_file = tenant / "plan.json"
    before = snapshot()
    saved = invoke("sync", path, "--out", str(plan_file), "--detailed-exitcode")
    assert saved.exit_code == 2
    assert saved.stdout == PLAN_TEXT
    assert saved.stderr.endswith(
        f"Plan saved to {plan_file}; nothing was written. Apply it with: provisioner apply {plan_file}\n")
    assert snapshot() == before
    data = json.loads(plan_file.read_text())
    assert data["formatVersion"] == 2 and data["tenant"] == "local" and len(data["fingerprint"]) == 64
    assert len(data["digest"]) == 64
    assert [c["password"] for c in data["changes"] if c["action"] == "create"] == ["generate", "generate"]
    applied = invoke("apply", str(plan_file), "--yes")
    assert applied.exit_code == 0, applied.output
    assert "Applied 3 of 3 change(s)" in applied.stderr
    after = snapshot()
    assert after[f"alice@{DOMAIN}"] == ("Alice Archer", "Engineer", ("Billing Administrator",))
    # Applying the same plan again: the tenant is no longer the one it was made from.
    again = invoke("apply", str(plan_file), "--yes")
    assert again.exit_code == 4
    assert again.stderr.endswith(f"Error: {STALE}\n")
    assert snapshot() == after


def test_apply_refuses_a_plan_the_tenant_moved_away_from(tenant):
    path = manifest(tenant / "m.toml", ADMIN, ALICE, BOB)
    plan_file = tenant / "plan.json"
    assert invoke("sync", path, "--out", str(plan_file)).exit_code == 0
    created = invoke("users", "create", f"bob@{DOMAIN}", "--display-name", "Someone Else", "--yes")
    assert created.exit_code == 0, created.output
    before = snapshot()
    result = invoke("apply", str(plan_file), "--yes")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr.endswith(f"Error: {STALE}\n")
    assert snapshot() == before


def test_apply_refuses_a_plan_for_another_tenant_and_a_file_that_is_no_plan(tenant):
    path = manifest(tenant / "m.toml", ADMIN, BOB)
    plan_file = tenant / "plan.json"
    assert invoke("sync", path, "--out", str(plan_file)).exit_code == 0
    data = json.loads(plan_file.read_text())
    data["tenant"] = "prod"
    plan_file.write_text(json.dumps(signed(data)))
    other = invoke("apply", str(plan_file), "--yes")
    assert other.exit_code == 4
    assert "Error: this plan was made for tenant 'prod', not 'local'" in other.stderr
    bogus = tenant / "bogus.json"
    bogus.write_text('{"changes": []}')
    result = invoke("apply", str(bogus), "--yes")
    assert result.exit_code == 64
    assert result.stderr == (f"Error: {bogus}: not a provisioner plan (formatVersion 2 expected); make it with: "
                             "provisioner sync MANIFEST --out PLAN.json\n")
    assert f"bob@{DOMAIN}" not in snapshot()


def test_prune_deletes_only_unlisted_in_scope_users_and_respects_max_deletes(tenant):
    path = manifest(tenant / "m.toml", ADMIN, ALICE, BOB)
    assert invoke("sync", path, "--yes", "--password-out", str(tenant / "pw.csv")).exit_code == 0
    extra = [f'[[users]]\nuserPrincipalName = "u{i}@{DOMAIN}"\ndisplayName = "U {i}"\n' for i in range(3)]
    manifest(tenant / "m.toml", ADMIN, ALICE, BOB, *extra)
    assert invoke("sync", path, "--yes", "--password-out", str(tenant / "pw.csv")).exit_code == 0
    manifest(tenant / "m.toml", ADMIN, ALICE)
    before = snapshot()
    # Without --prune nothing is deleted.
    assert invoke("sync", path, "--dry-run", "--detailed-exitcode").exit_code == 0
    refused = invoke("sync", path, "--prune", "--yes")
    assert refused.exit_code == 4
    assert refused.stdout == ""
    assert refused.stderr.endswith(
        "Error: refused (1 problem); nothing was written:\n"
        "  - this plan deletes 4 users, more than safety.max_deletes (2); check the plan, then rerun with --force "
        "or raise safety.max_deletes in the config\n")
    assert snapshot() == before
    forced = invoke("sync", path, "--prune", "--yes", "--force")
    assert forced.exit_code == 0, forced.output
    assert sorted(snapshot()) == [f"admin@{DOMAIN}", f"alice@{DOMAIN}"]


def test_prune_never_removes_the_last_global_administrator(tenant):
    path = manifest(tenant / "m.toml", BOB)
    result = invoke("sync", path, "--prune", "--yes", "--password-out", str(tenant / "pw.csv"))
    assert result.exit_code == 4
    assert f"this plan would leave the tenant without an active Global Administrator (delete admin@{DOMAIN})" \
        in result.stderr
    assert f"bob@{DOMAIN}" not in snapshot()


def test_json_and_markdown_plan_output(tenant):
    path = manifest(tenant / "m.toml", ADMIN, BOB)
    as_json = invoke("sync", path, "--dry-run", "--plan-output", "json")
    assert as_json.exit_code == 0
    data = json.loads(as_json.stdout)
    assert [(c["action"], c["userPrincipalName"]) for c in data["changes"]] == [("create", f"bob@{DOMAIN}")]
    as_md = invoke("sync", path, "--dry-run", "--plan-output", "markdown")
    assert as_md.exit_code == 0
    assert as_md.stdout.splitlines()[:5] == [
        "### Plan: 1 to create.", "", "#### Users to create (1)", "", "| User | Attributes | Reason |"]


def test_a_bad_manifest_is_reported_entry_by_entry_and_nothing_is_read(tenant):
    path = manifest(tenant / "m.toml", ADMIN, '[[users]]\nuserPrincipalName = "not a upn"\n',
                    f'[[users]]\nuserPrincipalName = "x@{DOMAIN}"\npassword = "Secret-123"\n')
    result = invoke("sync", path, "--dry-run")
    assert result.exit_code == 64
    assert result.stderr == (
        f"Error: {path}: 2 invalid row(s), nothing was written:\n"
        "  [[users]] entry 2 (not a upn), key userPrincipalName: not a valid user principal name, "
        "like alice@contoso.com\n"
        f"  [[users]] entry 3 (x@{DOMAIN}), key password: passwords do not belong in a manifest; new users get a "
        "generated one\n")


def test_usage_errors_exit_64(tenant):
    path = manifest(tenant / "m.toml", ADMIN)
    assert invoke("sync", path, "--bogus").exit_code == 64
    assert invoke("sync", str(tenant / "missing.toml")).exit_code == 64
    many = [f'[[users]]\nuserPrincipalName = "n{i}@{DOMAIN}"\ndisplayName = "N {i}"\n' for i in range(11)]
    manifest(tenant / "m.toml", ADMIN, *many)
    result = invoke("sync", path, "--yes")
    assert result.exit_code == 64
    assert "11 users get generated passwords: name a --password-out FILE to keep them" in result.stderr
    assert f"n0@{DOMAIN}" not in snapshot()
