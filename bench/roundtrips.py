"""Sequential Graph round trips per one-object command, through `provisioner local serve`.

Every command runs as a fresh CLI process against a served copy of the same prepared tenant, once
with no added latency and once with 300 ms added to every HTTP request (PROVISIONER_LOCAL_LATENCY_MS,
no jitter). The difference in wall time divided by 0.3 s is the number of requests the command made
one after another: requests in flight together, side by side or in one $batch, count once. Each
time is the lower of two runs, to shed noise from a shared machine. The table also counts all HTTP
requests sent (from the -v log of one more run), an upper bound of the round trips.

    .venv/bin/python -m bench.roundtrips [--latency-ms 300] [--runs 2] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from bench.proc import measure_quiet
from bench.served import CLI, TOKEN_ENV, Served, base_env, last_line, positive, write_config

DOMAIN = "contoso.onmicrosoft.com"
# The prepared tenant: the admin and 20 sample users, plus alice, bob and carol, each in the state the
# commands on them need; dave is left out for create.
ALICE = f"alice@{DOMAIN}"  # active, no role: assign
BOB = f"bob@{DOMAIN}"  # active, Billing Administrator: show, revoke, delete
CAROL = f"carol@{DOMAIN}"  # deleted while holding Billing Administrator: restore, purge
NEW = f"dave@{DOMAIN}"  # not in the tenant: create


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    target: int | None  # the most sequential round trips issue 9 allows, where it sets one
    applied: str | None = None  # stderr must say this: proof the command did its write


CASES = [
    Case("users create --role", ("users", "create", NEW, "--display-name", "Dave", "--role", "billing", "--yes"),
         3, "Applied 2 of 2"),
    Case("users show", ("users", "show", BOB), 2),
    Case("users delete", ("users", "delete", BOB, "--yes"), 3, "Applied 1 of 1"),
    Case("users restore", ("users", "restore", CAROL, "--yes"), 3, "Applied 1 of 1"),
    Case("roles assign", ("roles", "assign", ALICE, "billing", "--yes"), 3, "Applied 1 of 1"),
    Case("roles revoke", ("roles", "revoke", BOB, "billing", "--yes"), 3, "Applied 1 of 1"),
    Case("users purge", ("users", "purge", CAROL, "--yes"), None, "Applied 1 of 1"),
    Case("deleted list", ("deleted", "list"), None),
    Case("users list (23 users)", ("users", "list"), None),
]


def prepare(template: Path) -> None:
    """The tenant every run starts from, built in-process (no server, no latency)."""
    template.mkdir()
    env = {**base_env(), "PROVISIONER_CONFIG": str(write_config(template))}
    steps = [
        ["local", "init", "--state", str(template / "tenant.db"), "--seed-users", "20", "--seed", "1"],
        ["--tenant", "inprocess", "users", "create", ALICE, "--display-name", "Alice", "--yes"],
        ["--tenant", "inprocess", "users", "create", BOB, "--display-name", "Bob", "--role", "billing", "--yes"],
        ["--tenant", "inprocess", "users", "create", CAROL, "--display-name", "Carol", "--role", "billing", "--yes"],
        ["--tenant", "inprocess", "users", "delete", CAROL, "--yes"],
    ]
    for step in steps:
        done = subprocess.run(CLI + step, env=env, cwd=template, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"preparing the tenant failed at `{' '.join(step[:4])}`: {last_line(done.stderr)}")


def timed_run(case: Case, template: Path, work: Path, latency_ms: float, verbose: bool = False) -> tuple[float, str]:
    """Wall seconds and stderr of one CLI run of CASE on a fresh copy of the template, served with LATENCY_MS."""
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(template, work)
    served = Served(work / "tenant.db", latency_ms)
    try:
        env = {**base_env(), "PROVISIONER_CONFIG": str(write_config(work, served.url)), TOKEN_ENV: "bench"}
        cmd = CLI + (["-v"] if verbose else []) + list(case.args)
        run, stderr = measure_quiet(cmd, env=env, cwd=work)
    finally:
        served.stop()
    if run.code != 0 or (case.applied and case.applied not in stderr):
        raise SystemExit(f"{case.name} at {latency_ms:g} ms: exit {run.code}, {last_line(stderr)}")
    return run.seconds, stderr


def http_requests(case: Case, template: Path, work: Path) -> int:
    """How many HTTP requests CASE sends (a $batch is one), counted from its -v log at no latency."""
    _, stderr = timed_run(case, template, work, 0.0, verbose=True)
    return len(re.findall(r"^(?:GET|POST|PATCH|PUT|DELETE) /\S+ -> \d{3} ", stderr, re.MULTILINE))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=300.0, help="latency added to every request")
    parser.add_argument("--runs", type=positive, default=2, help="runs per measurement; the lowest time counts")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only the commands whose name starts so")
    args = parser.parse_args(argv)
    cases = [c for c in CASES if not args.only or any(c.name.startswith(o) for o in args.only)]
    step = args.latency_ms / 1000

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template"
        prepare(template)
        for case in cases:
            times: dict[float, list[float]] = {0.0: [], args.latency_ms: []}
            for _ in range(args.runs):  # alternated, so that both see the same load on a shared machine
                for latency in times:
                    times[latency].append(timed_run(case, template, Path(tmp) / "run", latency)[0])
            low, high = min(times[0.0]), min(times[args.latency_ms])
            rounds = (high - low) / step
            target = "" if case.target is None else f"<= {case.target}"
            verdict = "" if case.target is None else ("ok" if round(rounds, 1) <= case.target else "over")
            requests = http_requests(case, template, Path(tmp) / "run")
            rows.append((case.name, f"{rounds:.1f}", target, verdict, str(requests), f"{low:.2f}", f"{high:.2f}"))
            print(f"  {case.name}: {rounds:.1f} round trips, {requests} requests", file=sys.stderr, flush=True)

    headers = ["command", "round trips", "target", "", "HTTP requests", "s at 0 ms", f"s at {args.latency_ms:g} ms"]
    print(tabulate(rows, headers=headers, disable_numparse=True, colalign=("left",) + ("right",) * 6))
    print(f"round trips = (time at {args.latency_ms:g} ms - time at 0 ms) / {step:g} s, each time the lowest of "
          f"{args.runs} runs;\nHTTP requests = all requests sent, side by side or not (a $batch counts once).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
