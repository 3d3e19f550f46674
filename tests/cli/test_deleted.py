"""deleted list: dates, days left, expiry, order and --expiring-within."""

from __future__ import annotations

from datetime import datetime, timedelta

from cli_tenant import DOMAIN, Tenant

from provisioner.local import advance_clock


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_empty(tenant: Tenant) -> None:
    assert tenant.json("deleted", "list") == []
    result = tenant.ok("deleted", "list", "-o", "csv")
    assert result.stdout.splitlines()[0].startswith("userPrincipalName,displayName,deletedDateTime,daysLeft")


def test_deleted_users_with_dates(tenant: Tenant) -> None:
    alice = tenant.create("alice")
    tenant.ok("users", "delete", alice, "--yes")
    [row] = tenant.json("deleted", "list")
    assert row["userPrincipalName"] == alice
    assert row["displayName"] == "Alice"
    assert _parse(row["expiresDateTime"]) - _parse(row["deletedDateTime"]) == timedelta(days=30)
    assert row["daysLeft"] == 29
    table = tenant.ok("deleted", "list").stdout.splitlines()
    assert table[0].split()[:4] == ["Original", "UPN", "Name", "Deleted"]
    assert table[2].startswith(f"{alice}  Alice")


def test_sorted_by_soonest_expiry_and_moved_clock(tenant: Tenant) -> None:
    first = tenant.create("first")
    second = tenant.create("second")
    tenant.ok("users", "delete", second, "--yes")
    advance_clock(tenant.state, timedelta(days=10))
    tenant.ok("users", "delete", first, "--yes")
    rows = tenant.json("deleted", "list")
    assert [r["userPrincipalName"] for r in rows] == [second, first]
    assert [r["daysLeft"] for r in rows] == [19, 29]


def test_expiring_within(tenant: Tenant) -> None:
    old = tenant.create("old")
    new = tenant.create("new")
    tenant.ok("users", "delete", old, "--yes")
    advance_clock(tenant.state, timedelta(days=25))
    tenant.ok("users", "delete", new, "--yes")
    assert [r["userPrincipalName"] for r in tenant.json("deleted", "list", "--expiring-within", "7d")] == [old]
    assert len(tenant.json("deleted", "list", "--expiring-within", "30d")) == 2


def test_expired_users_are_gone_after_30_days(tenant: Tenant) -> None:
    alice = tenant.create("alice")
    tenant.ok("users", "delete", alice, "--yes")
    advance_clock(tenant.state, timedelta(days=31))
    assert tenant.json("deleted", "list") == []


def test_bad_duration_is_usage(tenant: Tenant) -> None:
    result = tenant.run("deleted", "list", "--expiring-within", "soon")
    assert result.exit_code == 64
    assert "'soon' is not a duration; use e.g. 7d, 36h or 90m" in result.stderr


def test_absurd_duration_is_one_line_usage_error(tenant: Tenant) -> None:
    result = tenant.run("deleted", "list", "--expiring-within", "99999999999d")
    assert result.exit_code == 64
    assert result.stderr.splitlines()[-1] == (
        "Error: Invalid value for --expiring-within: '99999999999d' is too long; use at most 36500d"
    )
    assert "Traceback" not in result.output


def test_bare_number_is_days_and_weeks_are_accepted(tenant: Tenant) -> None:
    tenant.ok("users", "delete", tenant.create("alice"), "--yes")
    assert len(tenant.json("deleted", "list", "--expiring-within", "30")) == 1
    assert len(tenant.json("deleted", "list", "--expiring-within", "5w")) == 1
    assert tenant.json("deleted", "list", "--expiring-within", "1d12h") == []


def test_synced_deleted_user_shows_synced(synced_tenant: Tenant) -> None:
    assert synced_tenant.json("deleted", "list") == []
    assert all(u["onPremisesSyncEnabled"] for upn, u in synced_tenant.users().items()
               if upn != f"admin@{DOMAIN}")
