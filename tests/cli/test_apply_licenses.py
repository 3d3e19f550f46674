"""A saved plan with license changes, applied later: the seats are counted again (another user may
have taken them since), a license removed by hand makes the plan stale, the SKU and plan names it
shows are the tenant's names for its ids, and the unchanged plan applies and converges. Also a
saved password reset: its object id must name the user it shows, and a protected account's is
refused, as any other change's."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from cli_tenant import DOMAIN, TARGET, Tenant, make_tenant, timeless
from plan_editor import DISAGREE, STALE, read_state, redigest, signed, write

from provisioner.changes import Action, Change, PasswordSource, Plan
from provisioner.local.tenant import init_tenant
from provisioner.plan import fingerprint

ANN = f"ann@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
CARL = f"carl@{DOMAIN}"
E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
O365E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
MFA = "8a256a2b-b617-496d-b51b-e76466e88db0"  # MFA_PREMIUM, a service plan of SPE_E5


@pytest.fixture
def licensed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tenant:
    """A tenant with exactly SPE_E5 (1 seat) and ENTERPRISEPACK (2 seats); ann and bob with a usage
    location, bob a protected account. The environment names it, for reads made outside the CLI."""
    t = make_tenant(tmp_path)
    init_tenant(t.state, skus={"SPE_E5": 1, "ENTERPRISEPACK": 2})
    with t.config.open("a", encoding="utf-8") as f:
        f.write(f'\n[safety]\nprotected_accounts = ["{BOB}"]\n')
    t.export(monkeypatch)
    for name in ("ann", "bob", "carl"):
        t.ok("users", "create", f"{name}@{DOMAIN}", "--display-name", name.title(), "--usage-location", "GB", "--yes")
    return t


def licenses_of(t: Tenant) -> dict[str, list[str]]:
    """Each user's licenses (part numbers), and the seats consumed of each SKU."""
    held = {u: t.json("users", "show", u)["licenses"] for u in (ANN, BOB, CARL)}
    return {**held, **{s["skuPartNumber"]: s["consumed"] for s in t.json("licenses", "list")}}


def saved(t: Tenant, **licenses: list[str]) -> Path:
    """``sync --out``: a manifest listing ann, bob and carl, with the licenses given by name."""
    manifest = t.root / "users.toml"
    manifest.write_text(f'[scope]\ndomains = ["{DOMAIN}"]\n' + "".join(
        f'[[users]]\nuserPrincipalName = "{name}@{DOMAIN}"\n'
        + (f"licenses = {json.dumps(licenses[name])}\n" if name in licenses else "")
        for name in ("admin", "ann", "bob", "carl")), encoding="utf-8")
    plan = t.root / "plan.json"
    t.ok("sync", str(manifest), "--out", str(plan))
    return plan


def refused(t: Tenant, plan: Path) -> str:
    """``apply --yes`` refuses the plan (exit 4) and nothing changes, not even the journal."""
    before, held, journal = t.snapshot(), licenses_of(t), t.journal_lines()
    result = t.run("apply", str(plan), "--yes")
    assert (result.exit_code, result.stdout) == (4, ""), result.output
    assert (t.snapshot(), licenses_of(t), t.journal_lines()) == (before, held, journal)
    return result.stderr


def test_seats_taken_since_the_plan_was_made_refuse_it_with_the_numbers(licensed: Tenant) -> None:
    plan = saved(licensed, ann=["SPE_E5"])
    # Someone else takes the only SPE_E5 seat: carl is not in the plan's changes, so it is not stale.
    licensed.ok("licenses", "assign", CARL, "SPE_E5", "--yes")
    assert refused(licensed, plan) == TARGET + (
        "Error: refused (1 problem); nothing was written:\n"
        "  - SPE_E5 (Microsoft 365 E5): 1 seat(s) needed, 0 free (1 enabled, 1 consumed); free seats first or buy "
        "more\n")
    # The seat is free again: the same plan applies, shows the names, and the tenant then matches.
    licensed.ok("licenses", "revoke", CARL, "SPE_E5", "--yes")
    applied = licensed.ok("apply", str(plan), "--yes")
    assert applied.stdout.endswith(
        f"  # the licenses of user {ANN} will change (in the manifest)\n"
        f"  ~ user {ANN} ({licensed.users()[ANN]['id']})\n"
        "      + license SPE_E5\n\n"
        "Plan: 1 user to change licenses of.\n")
    assert timeless(applied.stderr).endswith("Applied 1 of 1 change(s) in 0.0s.\n")
    assert licenses_of(licensed) == {ANN: ["SPE_E5"], BOB: [], CARL: [], "SPE_E5": 1, "ENTERPRISEPACK": 0}
    check = licensed.ok("sync", str(licensed.root / "users.toml"), "--dry-run")
    assert check.stderr.endswith("No changes. The tenant already matches.\n")


def test_a_license_removed_by_hand_since_the_plan_was_made_makes_it_stale(licensed: Tenant) -> None:
    licensed.ok("licenses", "assign", ANN, "ENTERPRISEPACK", "--yes")
    plan = saved(licensed, ann=["SPE_E5", "ENTERPRISEPACK"])
    [change] = json.loads(plan.read_text(encoding="utf-8"))["changes"]
    assert (change["updates"], change["properties"]) == ({E5: [None, []]}, {E5: "SPE_E5"})
    licensed.ok("licenses", "revoke", ANN, "ENTERPRISEPACK", "--yes")
    assert refused(licensed, plan) == TARGET + f"Error: {STALE}\n"
    assert licenses_of(licensed)[ANN] == []


def resave(plan: Path, edit: dict) -> None:
    """Replace the plan's only change's license keys and recompute the digest, as someone with this
    code would; the fingerprint still fits (the same user, holding the same licenses)."""
    data = json.loads(plan.read_text(encoding="utf-8"))
    data["changes"][0].update(edit)
    write(plan, redigest(data))


@pytest.mark.parametrize(("edit", "problem"), [
    ({"updates": {O365E3: [None, []]}, "properties": {O365E3: "SPE_E5"}},
     f"license {O365E3} is ENTERPRISEPACK, not SPE_E5"),
    ({"updates": {E5: [None, [MFA]]}, "properties": {E5: "SPE_E5", MFA: "INTUNE_A"}},
     f"service plan {MFA} is MFA_PREMIUM, not INTUNE_A"),
    ({"updates": {"00000000-0000-0000-0000-0000000000e5": [None, []]},
      "properties": {"00000000-0000-0000-0000-0000000000e5": "SPE_E5"}},
     "license 00000000-0000-0000-0000-0000000000e5 (SPE_E5) is not a license of this tenant (see: provisioner "
     "licenses list)"),
], ids=["sku-swap", "plan-swap", "unknown-sku"])
def test_license_names_that_do_not_name_the_ids_are_refused(licensed: Tenant, edit: dict, problem: str) -> None:
    plan = saved(licensed, ann=["SPE_E5"])
    resave(plan, edit)
    assert refused(licensed, plan) == TARGET + f"Error: {DISAGREE}\n" + f"  - change the licenses of {ANN}: {problem}\n"


def reset_plan(t: Tenant, upn: str, object_id: str) -> Path:
    """A saved plan resetting one password, with the fingerprint and digest ``sync --out`` would give it."""
    change = Change(Action.PASSWORD, upn, object_id, properties={"forceChangePasswordNextSignIn": True},
                    password=PasswordSource.GENERATE, reason="requested")
    plan = Plan((change,), tenant="local")
    path = t.root / "reset.json"
    saved_plan = Plan(plan.changes, "local", fingerprint(read_state(), plan))
    path.write_text(json.dumps(saved_plan.to_json()), encoding="utf-8")
    return path


def test_a_saved_password_reset_is_checked_like_an_update(licensed: Tenant) -> None:
    ids = {upn: u["id"] for upn, u in licensed.users().items()}
    # Its object id must name the user it shows.
    assert refused(licensed, reset_plan(licensed, CARL, ids[ANN])) == TARGET + (
        "Error: this plan's names and ids disagree (1 problem): it was edited after it was made; nothing was "
        "written. Make the plan again: provisioner sync MANIFEST --out PLAN.json\n"
        f"  - reset the password of {CARL}: object id {ids[ANN]} is {ANN}, not {CARL}\n")
    # A protected account's password is not reset, whatever the plan.
    assert refused(licensed, reset_plan(licensed, BOB, ids[BOB])) == TARGET + (
        "Error: refused (1 problem); nothing was written:\n"
        f"  - resetting the password of {BOB} is not allowed: it is a protected account (safety.protected_accounts); "
        "remove it from that list in the config if this is really intended\n")
    # The user changed since: stale.
    plan = reset_plan(licensed, CARL, ids[CARL])
    licensed.ok("users", "update", CARL, "--job-title", "Clerk", "--yes")
    assert refused(licensed, plan) == TARGET + f"Error: {STALE}\n"
    # Unchanged: applied, the new password written where the admin asked.
    plan = reset_plan(licensed, CARL, ids[CARL])
    out = licensed.root / "passwords.csv"
    applied = licensed.run("apply", str(plan), "--yes", "--password-out", str(out))
    assert applied.exit_code == 0, applied.output
    assert applied.stdout == (
        "Changes are marked: ~ reset password\n\n"
        f"  # the password of user {CARL} will be reset (requested)\n"
        f"  ~ user {CARL} ({ids[CARL]})\n"
        "        passwordProfile               = (generated)\n"
        "        forceChangePasswordNextSignIn = true\n\n"
        "Plan: 1 password to reset.\n")
    assert timeless(applied.stderr).endswith(
        f"New passwords written to {out} (mode 0600).\nApplied 1 of 1 change(s) in 0.0s.\n")
    with out.open(encoding="utf-8", newline="") as f:
        [row] = [r for r in csv.DictReader(f) if r["status"] == "reset"]
    assert row["userPrincipalName"] == CARL and row["password"] not in plan.read_text(encoding="utf-8")


def test_a_new_users_license_needs_its_seat_and_usage_location_when_applied(licensed: Tenant) -> None:
    dan = f"dan@{DOMAIN}"
    manifest = licensed.root / "dan.toml"
    manifest.write_text(f'[scope]\ndomains = ["{DOMAIN}"]\n[[users]]\nuserPrincipalName = "{dan}"\n'
                        'displayName = "Dan"\nusageLocation = "GB"\nlicenses = ["SPE_E5"]\n', encoding="utf-8")
    plan = licensed.root / "plan.json"
    licensed.ok("sync", str(manifest), "--out", str(plan))
    data = json.loads(plan.read_text(encoding="utf-8"))
    assert [c["action"] for c in data["changes"]] == ["create", "license"]
    # The create's usage location taken out (the digest recomputed): the license would fail at Graph.
    create = data["changes"][0]
    create["properties"].pop("usageLocation")
    edited = licensed.root / "edited.json"
    write(edited, signed(data))
    assert refused(licensed, edited) == TARGET + (
        "Error: refused (1 problem); nothing was written:\n"
        f"  - {dan} has no usage location, which a license needs; give it one where the plan came from "
        "(usageLocation in the file or manifest: two letters, like US) and make the plan again\n")
    # Unedited, but the only seat went to carl meanwhile.
    licensed.ok("licenses", "assign", CARL, "SPE_E5", "--yes")
    assert refused(licensed, plan) == TARGET + (
        "Error: refused (1 problem); nothing was written:\n"
        "  - SPE_E5 (Microsoft 365 E5): 1 seat(s) needed, 0 free (1 enabled, 1 consumed); free seats first or buy "
        "more\n")
    assert dan not in licensed.users()
