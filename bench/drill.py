"""Fault drill: `.venv/bin/python -m bench.drill [--users 3000] [--seed 1]`.

A bulk create of 3,000 users with roles against `local serve` with Graph's throttling, 10 % of
requests answered 503/504 (half the write 504s applied), replication lag and latency, time-scaled
(the 150 s write window lasts 15 s; PROVISIONER_LOCAL_* variables override any setting):

1. three `kill -9`s at random points of one job, each followed by the same command again;
2. a Ctrl-C (SIGINT) and the same command again;
3. two jobs started together on the same users, each with its own password file;
4. a job whose journal is a full device (/dev/full), then the same command with a writable one;
5. Global Administrator races: with two holders, `users delete` of one and `roles revoke` of the
   other started together, five times.

It prints users lost, users duplicated, role assignments lost, passwords unaccounted for (a created
user whose password files hold neither a pending or created row with a password nor an `unknown`
row), passwords in conflict (two different passwords recorded as created for one user) and races
won (a tenant left without an active Global Administrator). All must be 0; the exit code is 1
otherwise. The jobs are the real command line, run as child processes.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

DOMAIN = "contoso.onmicrosoft.com"
ADMIN = f"admin@{DOMAIN}"
GLOBAL = "62e90394-69f5-4237-9190-012177145e10"
BILLING = "b0f54661-2d74-4c50-afa3-1ec803f12efe"
REALISM = {"THROTTLE": "1", "TIME_SCALE": "10", "FAULT_RATE": "0.10", "FAULT_APPLIED_SHARE": "0.5",
           "REPLICATION_LAG": "0.5", "LATENCY_MS": "5", "JITTER_MS": "10"}
ROLE_EVERY = 5  # every fifth user is given Billing Administrator


class Drill:
    def __init__(self, work: Path, url: str, state: Path, seed: int):
        self.work = work
        self.state = state
        self.url = url
        self.rng = random.Random(seed)
        self.journal = work / "journal.jsonl"
        self.config = work / "config.toml"
        self.config.write_text(self._config(self.journal), encoding="utf-8")
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("PROVISIONER_")},
                    "PROVISIONER_CONFIG": str(self.config), "DRILL_TOKEN": "drill"}
        self.upns: list[str] = []  # every user a job was asked to create
        self.roles: set[str] = set()  # the users among them given Billing Administrator
        self.password_files: list[Path] = []
        self.races = 0
        self.jobs = 0
        self.log: list[str] = []

    def _config(self, journal: Path) -> str:
        # The client's write window matches the tenant's time-scaled one (150 s / 10).
        scale = float(os.environ.get("PROVISIONER_LOCAL_TIME_SCALE", REALISM["TIME_SCALE"]))
        return (f'[execution]\njournal = "{journal}"\nwrite_window_seconds = {max(1.0, 150 / scale):g}\n\n'
                '[tenants.drill]\nkind = "graph"\nauth = "token"\ntoken_env = "DRILL_TOKEN"\n'
                f'graph_url = "{self.url}"\n')

    # -- jobs ------------------------------------------------------------------------------------

    def users_file(self, name: str, first: int, count: int) -> Path:
        path = self.work / f"{name}.csv"
        with path.open("w", encoding="utf-8") as f:
            f.write("userPrincipalName,displayName,department,roles\n")
            for i in range(first, first + count):
                upn = f"d{i:05d}@{DOMAIN}"
                role = "billing" if i % ROLE_EVERY == 0 else ""
                f.write(f"{upn},Drill User {i},Sales,{role}\n")
                self.upns.append(upn)
                if role:
                    self.roles.add(upn)
        return path

    def command(self, users: Path, passwords: Path) -> list[str]:
        if passwords not in self.password_files:
            self.password_files.append(passwords)
        return [sys.executable, "-m", "provisioner", "--tenant", "drill", "users", "create", "--from", str(users),
                "--yes", "--password-out", str(passwords)]

    def start(self, args: list[str], config: Path | None = None) -> subprocess.Popen:
        """A job; its stderr goes to a file (a pipe nobody reads while the job runs would fill and stall it)."""
        env = dict(self.env, PROVISIONER_CONFIG=str(config or self.config))
        self.jobs += 1
        err = (self.work / f"job-{self.jobs}.err").open("w+", encoding="utf-8")
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True)
        proc.err = err  # type: ignore[attr-defined]
        return proc

    @staticmethod
    def last_line(proc: subprocess.Popen) -> str:
        err = proc.err  # type: ignore[attr-defined]
        err.seek(0)
        lines = err.read().strip().splitlines()
        err.close()
        return lines[-1][:150] if lines else ""

    def run(self, args: list[str], what: str, config: Path | None = None) -> int:
        proc = self.start(args, config)
        proc.wait(timeout=900)
        self.log.append(f"{what}: exit {proc.returncode}; {self.last_line(proc)}")
        return proc.returncode

    def _journal_lines(self) -> int:
        try:
            with self.journal.open("rb") as f:
                return sum(1 for _ in f)
        except OSError:
            return 0

    def interrupt(self, args: list[str], sig: int, what: str, after_writes: int) -> None:
        """Start ``args`` and send ``sig`` once the journal holds ``after_writes`` more records."""
        base = self._journal_lines()
        proc = self.start(args)
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline and self._journal_lines() - base < after_writes:
            time.sleep(0.01)
        if proc.poll() is None:
            proc.send_signal(sig)
            proc.wait(timeout=120)
            self.log.append(f"{what} after {self._journal_lines() - base} writes: exit {proc.returncode}; "
                            f"{self.last_line(proc)}")
        else:
            self.log.append(f"{what}: the job finished first (exit {proc.returncode}); {self.last_line(proc)}")

    # -- scenarios -------------------------------------------------------------------------------

    def kills(self, count: int) -> None:
        users = self.users_file("kills", 0, count)
        args = self.command(users, self.work / "pw-kills.csv")
        writes = count + count // ROLE_EVERY
        for n in range(3):
            self.interrupt(args, signal.SIGKILL, f"kill -9 #{n + 1}", self.rng.randint(writes // 12, writes // 4))
        self.run(args, "re-run after the kills")

    def sigint(self, first: int, count: int) -> None:
        users = self.users_file("sigint", first, count)
        args = self.command(users, self.work / "pw-sigint.csv")
        self.interrupt(args, signal.SIGINT, "SIGINT", self.rng.randint(count // 4, count // 2))
        self.run(args, "re-run after SIGINT")

    def concurrent(self, first: int, count: int) -> None:
        users = self.users_file("concurrent", first, count)
        jobs = [self.start(self.command(users, self.work / f"pw-concurrent-{i}.csv")) for i in (1, 2)]
        for i, job in enumerate(jobs, 1):
            job.wait(timeout=900)
            self.log.append(f"concurrent job {i}: exit {job.returncode}; {self.last_line(job)}")

    def full_journal(self, first: int, count: int) -> None:
        users = self.users_file("fulldisk", first, count)
        full = self.work / "full.toml"
        full.write_text(self._config(Path("/dev/full")), encoding="utf-8")
        args = self.command(users, self.work / "pw-fulldisk.csv")
        self.run(args, "journal on /dev/full", config=full)
        self.run(args, "re-run with a writable journal")

    def global_admin_races(self, trials: int) -> None:
        cli = [sys.executable, "-m", "provisioner", "--tenant", "drill"]
        for n in range(trials):
            # Exactly two holders to start with: the admin and a new one.
            left = self.global_admins()
            if ADMIN not in left:
                self.run([*cli, "roles", "assign", ADMIN, "global", "--yes"], f"race {n + 1}: admin is GA again")
            for other in sorted(set(left) - {ADMIN}):
                self.run([*cli, "users", "delete", other, "--yes"], f"race {n + 1}: delete the last race's {other}")
            holder = f"ga{n}@{DOMAIN}"
            self.run([*cli, "users", "create", holder, "--display-name", f"GA {n}", "--role", "global", "--yes"],
                     f"race {n + 1}: make {holder} the second Global Administrator")
            jobs = [self.start([*cli, "users", "delete", holder, "--yes"]),
                    self.start([*cli, "roles", "revoke", ADMIN, "global", "--yes"])]
            codes = [job.wait(timeout=300) for job in jobs]
            for job in jobs:
                self.last_line(job)
            left = self.global_admins()
            self.log.append(f"race {n + 1}: delete {holder} exit {codes[0]}, revoke admin exit {codes[1]}; "
                            f"active Global Administrators left: {len(left)}")
            if not left:
                self.races += 1
                self.run([*cli, "roles", "assign", ADMIN, "global", "--yes"], "restore a Global Administrator")

    # -- what the tenant holds ---------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.state}?mode=ro", uri=True)

    def global_admins(self) -> list[str]:
        with self._db() as db:
            rows = db.execute("SELECT u.upn FROM role_assignments a JOIN users u ON u.id = a.principal_id "
                              "WHERE a.role_definition_id = ? AND u.deleted IS NULL AND u.account_enabled = 1",
                              (GLOBAL,)).fetchall()
        return [r[0].lower() for r in rows]

    def figures(self) -> dict[str, int]:
        with self._db() as db:
            active = Counter(r[0].lower() for r in db.execute("SELECT upn FROM users WHERE deleted IS NULL"))
            ids = {r[0]: r[1].lower() for r in db.execute("SELECT id, upn FROM users WHERE deleted IS NULL")}
            billing = Counter(ids.get(r[0]) for r in db.execute(
                "SELECT principal_id FROM role_assignments WHERE role_definition_id = ?", (BILLING,)))
        expected = set(self.upns)
        recorded: dict[str, set[str]] = defaultdict(set)  # UPN -> what the password files say
        created: dict[str, set[str]] = defaultdict(set)  # UPN -> passwords recorded as created
        for path in self.password_files:
            if not path.exists():
                continue
            for line in path.read_text(encoding="utf-8").splitlines()[1:]:
                upn, password, status = line.rsplit(",", 2)
                upn = upn.lower()
                if status == "unknown" or (status in ("pending", "created") and password):
                    recorded[upn].add(status)
                if status == "created":
                    created[upn].add(password)
        return {
            "users asked for": len(expected),
            "users lost": sum(1 for u in expected if active[u] == 0),
            "users duplicated": sum(1 for u in expected if active[u] > 1),
            "role assignments asked for": len(self.roles),
            "role assignments lost": sum(1 for u in self.roles if billing[u] == 0),
            "role assignments duplicated": sum(1 for u in self.roles if billing[u] > 1),
            "passwords unaccounted for": sum(1 for u in expected if active[u] and not recorded[u]),
            "passwords in conflict": sum(1 for passwords in created.values() if len(passwords) > 1),
            "passwords unknown (listed for the admin)": sum(1 for u in expected if "unknown" in recorded[u]),
            "GA-removing races won": self.races,
        }


MUST_BE_ZERO = ("users lost", "users duplicated", "role assignments lost", "role assignments duplicated",
                "passwords unaccounted for", "passwords in conflict", "GA-removing races won")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=3000, help="users created in all (default 3,000)")
    parser.add_argument("--seed", type=int, default=1, help="faults and kill points (default 1)")
    options = parser.parse_args(argv)
    if options.users < 100:
        parser.error("--users must be at least 100")
    for key, value in REALISM.items():
        os.environ.setdefault(f"PROVISIONER_LOCAL_{key}", value)
    os.environ.setdefault("PROVISIONER_LOCAL_SEED", str(options.seed))
    from provisioner.local import Realism, init_tenant
    from provisioner.local.serve import running_server

    realism = Realism.from_env()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        state = work / "tenant.db"
        init_tenant(state)
        with running_server(state, realism) as url:
            drill = Drill(work, url, state, options.seed)
            n = options.users
            kills, each = n * 6 // 10, n * 4 // 30  # 60 % for the kills, the rest in three equal parts
            phases = [("three kill -9s", lambda: drill.kills(kills)),
                      ("SIGINT", lambda: drill.sigint(kills, each)),
                      ("two concurrent jobs", lambda: drill.concurrent(kills + each, each)),
                      ("journal on a full device", lambda: drill.full_journal(kills + 2 * each, n - kills - 2 * each)),
                      ("Global Administrator races", lambda: drill.global_admin_races(5))]
            timings = []
            for name, phase in phases:
                t0 = time.monotonic()
                phase()
                timings.append((name, time.monotonic() - t0))
            figures = drill.figures()
    print(f"realism: {realism}")
    print("\n".join(drill.log))
    print()
    for name, seconds in timings:
        print(f"{name:<44} {seconds:7.1f} s")
    print(f"{'total':<44} {time.monotonic() - started:7.1f} s")
    print()
    for key, value in figures.items():
        print(f"{key:<44} {value:7,}")
    bad = [k for k in MUST_BE_ZERO if figures[k]]
    print("\nall zero" if not bad else f"\nNOT ZERO: {', '.join(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
