"""users offboard --reassign-reports: the leaver's direct reports get the leaver's manager (up the
chain past managers leaving in the same run; none: their manager is removed); re-running converges."""

from __future__ import annotations

from pathlib import Path

from cli_tenant import DOMAIN, Tenant
from test_lifecycle import _get

ANN, BOB, CAT, DAN, EVE = (f"{n}@{DOMAIN}" for n in ("ann", "bob", "cat", "dan", "eve"))


def _manager(tenant: Tenant, upn: str) -> str | None:
    return _get(tenant, upn, "manager")["manager"]


def _org(tenant: Tenant) -> dict[str, str]:
    """bob manages ann; ann manages cat and dan; eve has no manager and manages nobody yet."""
    ids = {}
    for name in ("ann", "bob", "cat", "dan", "eve"):
        tenant.create(name)
    tenant.ok("users", "update", ANN, "--manager", BOB, "--yes")
    tenant.ok("users", "update", CAT, DAN, "--manager", ANN, "--yes")
    for upn in (ANN, BOB, CAT, DAN, EVE):
        ids[upn] = _get(tenant, upn, "id")["id"]
    return ids


def test_reports_go_to_the_leavers_manager_then_converge(tenant: Tenant) -> None:
    ids = _org(tenant)
    result = tenant.run("users", "offboard", ANN, "--reassign-reports", "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith(
        f"  # the manager of user {ANN} will be removed (offboarding)\n"
        f"  ~ user {ANN} ({ids[ANN]})\n"
        f'      ~ manager = "{BOB}" -> null\n\n'
        f"  # the manager of user {CAT} will be changed (offboarding {ANN}, their manager)\n"
        f"  ~ user {CAT} ({ids[CAT]})\n"
        f'      ~ manager = "{ANN}" -> "{BOB}"\n\n'
        f"  # the manager of user {DAN} will be changed (offboarding {ANN}, their manager)\n"
        f"  ~ user {DAN} ({ids[DAN]})\n"
        f'      ~ manager = "{ANN}" -> "{BOB}"\n\n'
        "Plan: 1 to update, 1 user to sign out, 1 password to reset, 3 managers to change.\n")
    assert [_manager(tenant, u) for u in (ANN, CAT, DAN)] == [None, ids[BOB], ids[BOB]]
    again = tenant.ok("users", "offboard", ANN, "--reassign-reports", "--yes")
    assert "manager" not in again.stdout


def test_no_manager_who_stays_removes_the_reports_manager(tenant: Tenant, tmp_path: Path) -> None:
    ids = _org(tenant)
    # bob and ann leave together: ann's reports go past bob, who has no manager: theirs is removed.
    leavers = tmp_path / "leavers.csv"
    leavers.write_text(f"userPrincipalName\n{ANN}\n{BOB}\n", encoding="utf-8")
    result = tenant.run("users", "offboard", "--from", str(leavers), "--reassign-reports", "--yes")
    assert result.exit_code == 0, result.stderr
    assert (f"  # the manager of user {CAT} will be removed (offboarding {ANN}, their manager)\n"
            f"  ~ user {CAT} ({ids[CAT]})\n"
            f'      ~ manager = "{ANN}" -> null\n\n') in result.stdout
    assert (f"{ANN} has no manager who stays: its direct reports are left without a manager; give them one with: "
            "provisioner users update USER --manager UPN\n") in result.stderr
    assert [_manager(tenant, u) for u in (ANN, BOB, CAT, DAN)] == [None, None, None, None]
    # Without the flag the reports are left alone.
    tenant.ok("users", "update", CAT, "--manager", EVE, "--yes")
    tenant.ok("users", "offboard", EVE, "--yes")
    assert _manager(tenant, CAT) == ids[EVE]
