"""A journal that cannot be written stops the run before its next write, and says which writes
were made without a record; one that cannot be opened stops it before the first."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_tenant import DOMAIN, Tenant, make_tenant


@pytest.fixture
def tenant(tmp_path: Path) -> Tenant:
    t = make_tenant(tmp_path)
    rows = "\n".join(f"u{n:02}@{DOMAIN},User {n}" for n in range(30))
    (tmp_path / "people.csv").write_text(f"userPrincipalName,displayName\n{rows}\n", encoding="utf-8")
    return t


def _journal(t: Tenant, path: str) -> None:
    # One batch in flight at a time, so "stopped before the next write" can be seen.
    t.config.write_text(f'[execution]\njournal = "{path}"\nconcurrency = 1\n', encoding="utf-8")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_device_stops_the_run_after_the_batch_in_flight(tenant: Tenant) -> None:
    _journal(tenant, "/dev/full")
    result = tenant.run("users", "create", "--from", str(tenant.root / "people.csv"), "--yes",
                        "--password-out", str(tenant.root / "pw.csv"))
    assert result.exit_code == 1
    error = result.stderr.splitlines()[-1]
    assert error.startswith("Error: the journal could not be written (No space left on device); stopped before "
                            "the next write, 10 or more change(s) not sent. 20 write(s) were made but are not in "
                            f"the journal: create u00@{DOMAIN} (")
    assert error.endswith("Make the journal writable ([execution] journal in the config), then re-run the same "
                          "command: it converges")
    made = sorted(u for u in tenant.users() if u.startswith("u"))
    assert made == [f"u{n:02}@{DOMAIN}" for n in range(20)]
    rows = (tenant.root / "pw.csv").read_text(encoding="utf-8").splitlines()
    statuses = [row.rsplit(",", 1)[1] for row in rows[1:]]  # written ahead: pending, then created
    assert (statuses.count("pending"), statuses.count("created"), len(statuses)) == (20, 20, 40)


@pytest.mark.parametrize("where", ["dir", "missing-parent-file"])
def test_a_journal_that_cannot_be_opened_stops_before_the_first_write(tenant: Tenant, where: str) -> None:
    blocker = tenant.root / "blocker"
    if where == "dir":
        blocker.mkdir()
        path = blocker
    else:
        blocker.write_text("a file where a directory should be", encoding="utf-8")
        path = blocker / "journal.jsonl"
    _journal(tenant, str(path))
    before = tenant.users()
    result = tenant.run("users", "create", f"ann@{DOMAIN}", "--display-name", "Ann", "--yes")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith(
        f"Error: cannot write the journal ([execution] journal in the config) {path}: ")
    assert result.stderr.splitlines()[-1].endswith(
        "nothing was written. Name a writable file and run the command again")
    assert tenant.users() == before


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_password_file_on_a_full_device_stops_before_any_create(tenant: Tenant) -> None:
    before = tenant.users()
    result = tenant.run("users", "create", "--from", str(tenant.root / "people.csv"), "--yes",
                        "--password-out", "/dev/full")
    assert result.exit_code in (1, 64)
    assert "Traceback" not in result.stderr
    assert tenant.users() == before  # nothing created whose password is not on record
