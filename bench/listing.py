"""`users list -o json` and `-o csv` on a 100,000-user tenant: wall time and peak RSS of the CLI process.

Two ways of reaching the tenant:
- in-process: the default local profile, so the CLI process also holds the local tenant (its SQLite
  file is memory-mapped, and pages read count as resident);
- served: a `kind = "graph"` profile pointed at `provisioner local serve` on loopback, so the CLI
  process holds only the client side, as against a real tenant.

Each command runs as a fresh process through bench/proc.py (its own ru_maxrss, nothing of this
harness); each figure is the lower time and the higher peak of --runs runs. The output goes to a
file, whose rows are counted to check the listing is complete.

    .venv/bin/python -m bench.listing [--users 100000] [--runs 2] [--only in-process|served]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from tabulate import tabulate

from bench.proc import measure
from bench.served import CLI, TOKEN_ENV, Served, base_env, last_line, positive, write_config

FORMATS = ("json", "csv")


def rows_in(path: Path, fmt: str) -> int:
    with path.open(encoding="utf-8", newline="") as f:
        return len(json.load(f)) if fmt == "json" else sum(1 for _ in csv.reader(f)) - 1


def list_users(work: Path, env: dict[str, str], fmt: str, runs: int) -> tuple[float, float, int, int]:
    """(lowest seconds, highest peak MB, rows listed, output bytes) of `users list -o FMT`."""
    seconds, peaks = [], []
    out_path, err_path = work / f"users.{fmt}", work / "stderr.txt"
    for _ in range(runs):
        with out_path.open("wb") as out, err_path.open("wb") as err:
            run = measure(CLI + ["users", "list", "-o", fmt], env=env, cwd=work, stdout=out, stderr=err)
        if run.code != 0:
            raise SystemExit(f"users list -o {fmt}: exit {run.code}, {last_line(err_path.read_text())}")
        seconds.append(run.seconds)
        peaks.append(run.peak_mb)
    return min(seconds), max(peaks), rows_in(out_path, fmt), out_path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=positive, default=100_000, help="sample users seeded (plus the admin)")
    parser.add_argument("--runs", type=positive, default=2, help="runs per figure")
    parser.add_argument("--only", choices=["in-process", "served"], help="one way of reaching the tenant")
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        state = work / "tenant.db"
        seed = measure(CLI + ["local", "init", "--state", str(state), "--seed-users", str(args.users), "--seed", "1"],
                       env=base_env(), cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if seed.code != 0:
            raise SystemExit(f"local init failed: exit {seed.code}")
        print(f"seeded {args.users:,} users in {seed.seconds:.1f} s", file=sys.stderr, flush=True)

        if args.only in (None, "in-process"):
            env = {**base_env(), "PROVISIONER_CONFIG": str(write_config(work)), "PROVISIONER_TENANT": "inprocess"}
            for fmt in FORMATS:
                rows.append(("in-process", fmt, *list_users(work, env, fmt, args.runs)))
                print(f"  in-process -o {fmt} done", file=sys.stderr, flush=True)
        if args.only in (None, "served"):
            served = Served(state, 0)
            try:
                env = {**base_env(), "PROVISIONER_CONFIG": str(write_config(work, served.url)), TOKEN_ENV: "bench"}
                for fmt in FORMATS:
                    rows.append(("served", fmt, *list_users(work, env, fmt, args.runs)))
                    print(f"  served -o {fmt} done", file=sys.stderr, flush=True)
            finally:
                served.stop()

    table = [(f"users list -o {fmt}", tenant, f"{rows_listed:,}", f"{size / 2**20:.1f} MB", f"{s:.1f}",
              f"{peak:.0f}") for tenant, fmt, s, peak, rows_listed, size in rows]
    print(tabulate(table, headers=["command", "tenant", "users", "output", "seconds", "peak RSS MB"],
                   disable_numparse=True, colalign=("left", "left", "right", "right", "right", "right")))
    print(f"seconds: the lowest of {args.runs} runs; peak RSS: the CLI process's own, the highest of {args.runs} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
