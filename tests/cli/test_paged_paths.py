"""Past a threshold of users, reads switch from one request per user to one paged listing of the tenant:
the licenses of more than 50 users (``lic:all``), the licenses restored users take back (``dlic:all``),
the eligible (PIM) roles of more than 50 leavers (``el:all``), and the PIM instances of more than 50
users a role is revoked from (every instance listed). Each path end to end: the exact
summary line, the tenant after, and the requests sent (the listing, not a read per user). The users
are seeded on the local tenant itself, not one CLI call each, to keep the tests quick."""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest
from cli_tenant import DOMAIN, Tenant, timeless

from provisioner.local import pim
from provisioner.local.licenses import assign_license
from provisioner.local.roles import create_assignment
from provisioner.local.store import Store
from provisioner.local.tenant import init_tenant
from provisioner.local.users import create_user, delete_user
from provisioner.services.licenses import LIST_LICENSES_ABOVE
from provisioner.services.reads import ASSIGNMENTS_LIST_ALL_ABOVE

TARGET = "Target: local (local tenant, simulated)\n"
E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
O365E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
BILLING = "b0f54661-2d74-4c50-afa3-1ec803f12efe"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
MANY = 60
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

assert MANY > max(LIST_LICENSES_ABOVE, ASSIGNMENTS_LIST_ALL_ABOVE)  # else these tests take the per-user reads


def upn(n: int, prefix: str = "user") -> str:
    return f"{prefix}{n:02d}@{DOMAIN}"


def seed(tenant: Tenant, names: Iterable[str], *, licenses: dict[str, list[str]] | None = None,
         eligible: Iterable[str] = (), active: Iterable[str] = (), pim_active: Iterable[str] = (),
         delete: Iterable[str] = ()) -> dict[str, str]:
    """Users made on the tenant itself (upn -> object id), as its Graph routes make them: ``licenses``
    (upn -> SKU ids) assigned, Billing Administrator eligible (PIM) for ``eligible``, User Administrator
    assigned for ``active`` (a plain role assignment) and ``pim_active`` (through PIM), then ``delete``d."""
    licenses = licenses or {}
    store = Store(tenant.state)
    ids = {}
    try:
        for name in names:
            body = {"userPrincipalName": name, "displayName": name.split("@")[0].title(), "accountEnabled": True,
                    "mailNickname": name.split("@")[0], "usageLocation": "US",
                    "passwordProfile": {"password": "Seeded-Pa55word!", "forceChangePasswordNextSignIn": False}}
            ids[name] = create_user(store, body)["id"]
            if licenses.get(name):
                assign_license(store, ids[name], {"addLicenses": [{"skuId": s, "disabledPlans": []}
                                                                  for s in licenses[name]], "removeLicenses": []})
        grant = {"action": "adminAssign", "directoryScopeId": "/", "justification": "seeded",
                 "scheduleInfo": {"expiration": {"type": "noExpiration"}}}
        for name in eligible:
            pim.submit(store, "eligible", {**grant, "principalId": ids[name], "roleDefinitionId": BILLING}, None)
        for name in pim_active:
            pim.submit(store, "active", {**grant, "principalId": ids[name], "roleDefinitionId": USER_ADMIN}, None)
        for name in active:
            create_assignment(store, {"principalId": ids[name], "roleDefinitionId": USER_ADMIN,
                                      "directoryScopeId": "/"})
        for name in delete:
            delete_user(store, ids[name])
    finally:
        store.close()
    return ids


def sent(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The requests a command sent, as the gateway logs them: each HTTP request ("GET /v1.0/users") and
    each $batch item ("  $batch item GET /users"), without statuses and timings."""
    return [re.sub(r" -> .*", "", r.getMessage()) for r in caplog.records if r.name == "provisioner.graph"]


def run(tenant: Tenant, caplog: pytest.LogCaptureFixture, *args: str):
    """The command's result and the requests it sent."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="provisioner.graph"):
        result = tenant.run(*args)
    return result, sent(caplog)


def reads(requests: list[str]) -> list[str]:
    """The requests before the first write: what the command read to make its plan."""
    writes = [n for n, r in enumerate(requests) if r.startswith("  $batch item ") and " GET " not in r]
    # The $batch request is logged when it is answered, before its items: it carries the first write.
    return requests[:writes[0] - 1] if writes else requests


def per_user(requests: Iterable[str], path: str = "") -> list[str]:
    """The requests naming one object by id under ``path`` (a read per user, where a listing was due)."""
    return [r for r in requests if GUID.search(r) and path in r]


def seats(tenant: Tenant) -> dict[str, tuple[int, int]]:
    """skuPartNumber -> (enabled, consumed), as licenses list says."""
    return {s["skuPartNumber"]: (s["enabled"], s["consumed"]) for s in tenant.json("licenses", "list")}


def held(tenant: Tenant) -> dict[str, list[str]]:
    """upn -> the skuIds each active user holds (those holding any)."""
    store = Store(tenant.state)
    try:
        with store.read() as db:
            rows = db.execute("SELECT upn, props FROM users WHERE deleted IS NULL").fetchall()
    finally:
        store.close()
    found = {u: sorted(a["skuId"] for a in json.loads(p).get("assignedLicenses") or []) for u, p in rows}
    return {u: s for u, s in found.items() if s}


# --- 1. the licenses of more than 50 users: one listing (lic:all) -----------------------------------


def test_update_from_a_file_of_60_users_lists_everyones_licenses_once(tenant: Tenant, tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    init_tenant(tenant.state, skus={"SPE_E5": MANY, "ENTERPRISEPACK": MANY})
    names = [upn(n) for n in range(MANY)]
    # 20 hold Office 365 E3 (swapped for E5), 10 hold E5 already (nothing to do), 30 hold nothing.
    seed(tenant, names, licenses={n: [O365E3] for n in names[:20]} | {n: [E5] for n in names[20:30]})
    assert seats(tenant)["SPE_E5"] == (MANY, 10)
    movers = tmp_path / "movers.csv"
    movers.write_text("userPrincipalName,licenses\n" + "".join(f"{n},SPE_E5\n" for n in names), encoding="utf-8")
    result, requests = run(tenant, caplog, "users", "update", "--from", str(movers), "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith("\nPlan: 50 users to change licenses of.\n")
    assert result.stdout.count("      - license ENTERPRISEPACK\n") == 20
    assert result.stdout.count("      + license SPE_E5\n") == 50
    assert timeless(result.stderr) == TARGET + "Applied 50 of 50 change(s) in 0.0s.\n"
    assert seats(tenant)["SPE_E5"] == (MANY, MANY) and seats(tenant)["ENTERPRISEPACK"] == (MANY, 0)
    assert held(tenant) == {n: [E5] for n in names}
    # Two round trips of reads: the users (by UPN, 15 a request), then the SKUs with ONE listing of
    # every user's licenses, not 60 reads of one user's.
    assert reads(requests) == ["POST /v1.0/$batch", *["  $batch item GET /users"] * 4,
                               "POST /v1.0/$batch", "  $batch item GET /subscribedSkus", "  $batch item GET /users"]
    assert per_user(reads(requests)) == []
    assert len(requests) - len(reads(requests)) == 3 + 50  # the writes: three $batch of 20, 20 and 10
    again = tenant.run("users", "update", "--from", str(movers), "--yes")
    assert again.stderr.endswith("No changes. The tenant already matches.\n")


def _manifest(users: Iterable[str], *, licenses: str | None = None, extra: str = "") -> str:
    blocks = [f'''[[users]]
userPrincipalName = "{u}"
displayName = "{u.split("@")[0].title()}"
''' + (f"licenses = {licenses}\n" if licenses is not None else "") for u in users]
    return f'[scope]\ndomains = ["{DOMAIN}"]\n\n' + "\n".join(blocks) + extra


def test_sync_of_60_users_with_licenses_lists_everyones_licenses_once(tenant: Tenant, tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    init_tenant(tenant.state, skus={"SPE_E5": MANY, "ENTERPRISEPACK": MANY})
    names = [upn(n) for n in range(MANY)]
    seed(tenant, names, licenses={n: [O365E3] for n in names[:20]} | {n: [E5, O365E3] for n in names[20:30]})
    manifest = tmp_path / "users.toml"
    manifest.write_text(_manifest(names, licenses='["SPE_E5"]'), encoding="utf-8")
    result, requests = run(tenant, caplog, "sync", str(manifest), "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith("\nPlan: 60 users to change licenses of.\n")
    assert result.stdout.count("      - license ENTERPRISEPACK\n") == 30
    assert result.stdout.count("      + license SPE_E5\n") == 50
    assert timeless(result.stderr) == TARGET + "Applied 60 of 60 change(s) in 0.0s.\n"
    assert seats(tenant)["SPE_E5"] == (MANY, MANY) and seats(tenant)["ENTERPRISEPACK"] == (MANY, 0)
    assert held(tenant) == {n: [E5] for n in names}
    # The tenant's listings (read together, in any order), then the SKUs with ONE listing of every
    # user's licenses, not 60 reads of one user's.
    listings = ["GET /v1.0/users", "GET /v1.0/roleManagement/directory/roleDefinitions",
                "GET /v1.0/roleManagement/directory/roleAssignments",
                "GET /v1.0/directory/deletedItems/microsoft.graph.user",
                "GET /v1.0/roleManagement/directory/roleEligibilityScheduleInstances",
                "GET /v1.0/roleManagement/directory/roleAssignmentScheduleInstances"]
    assert sorted(reads(requests)[:-3]) == sorted(listings)
    assert reads(requests)[-3:] == ["POST /v1.0/$batch", "  $batch item GET /subscribedSkus",
                                    "  $batch item GET /users"]
    assert tenant.ok("sync", str(manifest), "--dry-run").stderr.endswith("No changes. The tenant already matches.\n")


# --- 2. restored users' licenses above the threshold: the deleted users' listing (dlic:all) ---------


def _restoring(tenant: Tenant, tmp_path: Path, enabled: int) -> tuple[Path, list[str]]:
    """60 deleted users who held SPE_E5 (their seats free while deleted), one active holder, and a
    manifest restoring the 60 and adding a joiner with SPE_E5."""
    init_tenant(tenant.state, skus={"SPE_E5": enabled, "ENTERPRISEPACK": 2})
    gone = [upn(n, "gone") for n in range(MANY)]
    seed(tenant, [*gone, f"keeper@{DOMAIN}"], licenses={n: [E5] for n in [*gone, f"keeper@{DOMAIN}"]}, delete=gone)
    assert seats(tenant)["SPE_E5"] == (enabled, 1)
    manifest = tmp_path / "users.toml"
    manifest.write_text(_manifest(gone, extra=f'''
[[users]]
userPrincipalName = "joiner@{DOMAIN}"
displayName = "Joiner"
usageLocation = "US"
licenses = ["SPE_E5"]
'''), encoding="utf-8")
    return manifest, gone


def test_sync_restoring_60_license_holders_past_the_seats_is_refused_before_any_write(
        tenant: Tenant, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    manifest, gone = _restoring(tenant, tmp_path, enabled=MANY + 1)
    before = tenant.snapshot()
    result, requests = run(tenant, caplog, "sync", str(manifest), "--yes")
    assert result.exit_code == 4, result.stderr
    assert result.stdout == ""
    assert result.stderr == TARGET + (
        "Error: refused (1 problem); nothing was written:\n"
        "  - SPE_E5 (Microsoft 365 E5): 61 seat(s) needed (60 of them taken back by restored users), 60 free "
        "(61 enabled, 1 consumed); free seats first or buy more\n")
    assert tenant.snapshot() == before and seats(tenant)["SPE_E5"] == (MANY + 1, 1)
    assert reads(requests) == requests  # nothing written
    # What the restores take back: ONE listing of the deleted users with their licenses, with the SKUs
    # (the joiner's licenses need no read: it is new), not 60 reads of one deleted user each.
    assert requests[-3:] == ["POST /v1.0/$batch", "  $batch item GET /subscribedSkus",
                             "  $batch item GET /directory/deletedItems/microsoft.graph.user"]
    assert per_user(requests) == []


def test_apply_of_a_saved_plan_restoring_60_license_holders_counts_them_again(
        tenant: Tenant, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    manifest, gone = _restoring(tenant, tmp_path, enabled=MANY + 2)
    plan = tmp_path / "plan.json"
    saved = tenant.ok("sync", str(manifest), "--out", str(plan))
    assert saved.stdout.endswith("\nPlan: 1 to create, 60 to restore, 1 user to change licenses of.\n")
    # A seat taken since by someone else: the saved plan no longer fits, refused before any write.
    seed(tenant, [f"late@{DOMAIN}"], licenses={f"late@{DOMAIN}": [E5]})
    before = tenant.snapshot()
    result, requests = run(tenant, caplog, "apply", str(plan), "--yes")
    assert result.exit_code == 4, result.stderr
    assert result.stderr.endswith(
        "Error: refused (1 problem); nothing was written:\n"
        "  - SPE_E5 (Microsoft 365 E5): 61 seat(s) needed (60 of them taken back by restored users), 60 free "
        "(62 enabled, 2 consumed); free seats first or buy more\n")
    assert tenant.snapshot() == before
    assert reads(requests) == requests
    # The deleted users twice in one round trip: the fingerprint's, and what the restores take back
    # (their licenses); not 60 reads of one deleted user each. (The plan's users are read by id: the
    # fingerprint's, answered 404 for a deleted one.)
    assert requests.count("  $batch item GET /directory/deletedItems/microsoft.graph.user") == 2
    assert per_user(requests, "/directory/deletedItems/") == []
    # With one more seat the same plan goes through: every restored user holds E5 again.
    init_tenant(tenant.state, skus={"SPE_E5": MANY + 3, "ENTERPRISEPACK": 2})
    result = tenant.run("apply", str(plan), "--yes")
    assert result.exit_code == 0, result.stderr
    assert timeless(result.stderr).endswith("Applied 62 of 62 change(s) in 0.0s.\n")
    assert seats(tenant)["SPE_E5"] == (MANY + 3, MANY + 3)
    assert held(tenant) == {n: [E5] for n in [*gone, f"keeper@{DOMAIN}", f"late@{DOMAIN}", f"joiner@{DOMAIN}"]}


# --- 3. the roles of more than 50 leavers: every eligibility listed once (el:all) -------------------


def _roles(tenant: Tenant) -> dict[str, set[tuple[str, str]]]:
    """upn -> (role id, "eligible" | "active") for every role held, as the tenant holds them."""
    store = Store(tenant.state)
    try:
        with store.read() as db:
            names = dict(db.execute("SELECT id, upn FROM users").fetchall())
            active = db.execute("SELECT principal_id, role_definition_id FROM role_assignments").fetchall()
            eligible = db.execute("SELECT principal_id, role_definition_id FROM pim_schedules"
                                  " WHERE kind = 'eligible'").fetchall()
    finally:
        store.close()
    found: dict[str, set[tuple[str, str]]] = {}
    for rows, kind in ((active, "active"), (eligible, "eligible")):
        for principal, role in rows:
            found.setdefault(names[principal], set()).add((role, kind))
    return found


def test_offboard_from_a_file_of_60_leavers_removes_every_role_eligible_or_active(
        tenant: Tenant, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    leavers = [upn(n, "leaver") for n in range(MANY)]
    stayer = f"stayer@{DOMAIN}"
    # 20 leavers eligible for Billing Administrator, 10 of them also active User Administrator (through
    # PIM), 10 others active User Administrator (a plain assignment); a stayer eligible, who keeps it.
    seed(tenant, [*leavers, stayer], eligible=[*leavers[:20], stayer], pim_active=leavers[10:20],
         active=leavers[20:30])
    before = _roles(tenant)
    assert sum(len(before.get(n, ())) for n in leavers) == 40 and before[stayer] == {(BILLING, "eligible")}
    path = tmp_path / "leavers.csv"
    path.write_text("userPrincipalName\n" + "".join(f"{n}\n" for n in leavers), encoding="utf-8")
    result, requests = run(tenant, caplog, "users", "offboard", "--from", str(path), "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith(
        "\nPlan: 60 to update, 60 users to sign out, 60 passwords to reset, 40 role assignments to remove.\n")
    assert timeless(result.stderr) == TARGET + "Applied 220 of 220 change(s) in 0.0s.\n"
    after = _roles(tenant)
    assert {n: after[n] for n in leavers if n in after} == {}
    assert after[stayer] == {(BILLING, "eligible")}
    assert not any(u["accountEnabled"] for n, u in tenant.users().items() if n in leavers)
    # Two round trips of reads: the leavers (by UPN) with the Global Administrator assignments and how
    # each is held (its end: the 24-hour rule); then
    # every role assignment (one listing) and every eligibility (el:all, one listing) with the managers
    # and the Global Administrator's account; not two PIM reads a leaver.
    got = Counter(GUID.sub("{id}", r) for r in reads(requests))
    assert got == Counter({"POST /v1.0/$batch": 5, "  $batch item GET /users": 4,
                           "  $batch item GET /roleManagement/directory/roleAssignments": 1,
                           "  $batch item GET /roleManagement/directory/roleAssignmentScheduleInstances": 1,
                           "GET /v1.0/roleManagement/directory/roleAssignments": 1,
                           "  $batch item GET /users/{id}": 1, "  $batch item GET /users/{id}/manager": MANY,
                           "  $batch item GET /roleManagement/directory/roleEligibilityScheduleInstances": 1})
    again = tenant.run("users", "offboard", "--from", str(path), "--yes")
    assert again.exit_code == 0, again.stderr
    assert again.stdout.endswith("\nPlan: 60 users to sign out, 60 passwords to reset.\n")


def test_revoke_from_a_file_of_60_users_removes_eligible_roles_too(tenant: Tenant, tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    names = [upn(n) for n in range(MANY)]
    stayer = f"stayer@{DOMAIN}"
    seed(tenant, [*names, stayer], eligible=[*names[:40], stayer])
    path = tmp_path / "roles.csv"
    path.write_text("userPrincipalName,roles\n" + "".join(f"{n},billing\n" for n in names), encoding="utf-8")
    result, requests = run(tenant, caplog, "roles", "revoke", "--from", str(path), "--yes")
    assert result.exit_code == 0, result.stderr
    # Before the fix: "does not hold Billing Administrator; nothing to revoke" for each, and no change.
    assert result.stdout.endswith("\nPlan: 40 role assignments to remove.\n")
    assert result.stdout.count('        assignment = "eligible"\n') == 40
    assert timeless(result.stderr).endswith("Applied 40 of 40 change(s) in 0.0s.\n")
    assert _roles(tenant) == {f"admin@{DOMAIN}": {("62e90394-69f5-4237-9190-012177145e10", "active")},
                              stayer: {(BILLING, "eligible")}}
    # Every assignment and every PIM instance, one listing each, not two PIM reads a user.
    got = reads(requests)
    assert per_user(got, "/roleManagement/") == []
    for listing in ("roleAssignments", "roleEligibilityScheduleInstances", "roleAssignmentScheduleInstances"):
        assert f"GET /v1.0/roleManagement/directory/{listing}" in got, listing
