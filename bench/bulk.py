"""Bulk benchmarks: `.venv/bin/python -m bench.bulk [serve|budget|inprocess|plan|all] [--runs N]`.

1. serve      2,000 creates against `local serve` (loopback, 150 ms latency, throttling at the documented
              budget): the tool vs. the same tool forced to one request at a time (concurrency 1,
              batches of 1), measured on a 200-user sample and extrapolated to 2,000.
2. budget     20,000 writes (creates) with the budget time-scaled x10 (3,000 / 15 s = 200/s).
3. inprocess  10,000 creates against the in-process local tenant, no latency: users/s and peak RSS.
4. plan       plan only (--dry-run) on a 100,000-row CSV: seconds and peak RSS.

Each scenario runs in a fresh child process; its peak RSS is that process's VmHWM, which counts
nothing of the process that started it (ru_maxrss would).
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.proc import proc_peak_mb

DOMAIN = "contoso.onmicrosoft.com"
ROOT = Path(__file__).resolve().parent.parent


def write_csv(path: Path, n: int, prefix: str = "b") -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write("userPrincipalName,displayName,department,roles\n")
        for i in range(n):
            f.write(f"{prefix}{i:06d}@{DOMAIN},Bench User {i},Sales,{'billing' if i % 20 == 0 else ''}\n")


def setup(work: Path, extra: str = "") -> None:
    config = work / "config.toml"
    config.write_text(f'[execution]\njournal = "{work / "journal.jsonl"}"\n{extra}')
    os.environ["PROVISIONER_CONFIG"] = str(config)
    os.environ["PROVISIONER_LOCAL_STATE"] = str(work / "tenant.db")


def run_cli(*args: str) -> tuple[float, int]:
    from provisioner.cli import cli

    started = time.perf_counter()
    try:
        cli.main(list(args), standalone_mode=False)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    return time.perf_counter() - started, code


def count_users() -> tuple[int, int]:
    """(active users, duplicate UPNs) read back through the gateway, realism off."""
    import asyncio

    from provisioner.bootstrap import connected
    from provisioner.config import load_config

    for k in [k for k in os.environ if k.startswith("PROVISIONER_LOCAL_") and k != "PROVISIONER_LOCAL_STATE"]:
        del os.environ[k]

    async def read() -> collections.Counter:
        async with connected(load_config().profile(None)) as d:
            return collections.Counter([u.user_principal_name.lower() async for u in d.iter_users()])

    counts = asyncio.run(read())
    return sum(counts.values()), sum(1 for v in counts.values() if v > 1)


def serve_run(work: Path, n: int, *, one_at_a_time: bool) -> float:
    from provisioner import graph
    from provisioner.local import Realism, init_tenant
    from provisioner.local.serve import running_server

    state = work / "served.db"
    init_tenant(state)
    write_csv(work / "serve.csv", n)
    with running_server(state, Realism(throttle=True, latency_ms=150)) as url:
        concurrency = 1 if one_at_a_time else 4
        setup(work, f"concurrency = {concurrency}\n\n[tenants.bench]\nkind = \"graph\"\nauth = \"token\"\n"
                    f'token_env = "BENCH_TOKEN"\ngraph_url = "{url}"\n')
        os.environ["BENCH_TOKEN"] = "bench"
        if one_at_a_time:
            graph.BATCH_LIMIT = 1  # the engine's batch size: one request per HTTP call
        elapsed, code = run_cli("--tenant", "bench", "users", "create", "--from", str(work / "serve.csv"), "--yes",
                                "--password-out", str(work / "pw.csv"))
    assert code == 0, code
    return elapsed


def scenario(name: str, work: Path) -> dict[str, float | int | str]:
    if name == "serve-tool":
        return {"seconds": round(serve_run(work, 2000, one_at_a_time=False), 2)}
    if name == "serve-serial":
        return {"seconds_200": round(serve_run(work, 200, one_at_a_time=True), 2)}
    if name in ("budget", "inprocess"):
        n = 20_000 if name == "budget" else 10_000
        setup(work)
        if name == "budget":
            os.environ.update(PROVISIONER_LOCAL_THROTTLE="1", PROVISIONER_LOCAL_TIME_SCALE="10")
        write_csv(work / "u.csv", n)
        elapsed, code = run_cli("users", "create", "--from", str(work / "u.csv"), "--yes",
                                "--password-out", str(work / "pw.csv"))
        lines = (work / "journal.jsonl").read_text().splitlines()
        writes = sum(1 for line in lines if '"status": "ok"' in line)
        users, dupes = count_users()
        return {"exit": code, "seconds": round(elapsed, 2), "users_per_s": round(n / elapsed, 1), "writes": writes,
                "writes_per_s": round(writes / elapsed, 1),
                "users_created": users - 1, "duplicates": dupes, "peak_rss_mb": round(proc_peak_mb(), 1)}
    if name == "plan":
        setup(work)
        write_csv(work / "u.csv", 100_000)
        out = open(os.devnull, "w")  # noqa: SIM115
        sys.stdout = out
        elapsed, code = run_cli("users", "create", "--from", str(work / "u.csv"), "--dry-run")
        sys.stdout = sys.__stdout__
        return {"exit": code, "seconds": round(elapsed, 2), "peak_rss_mb": round(proc_peak_mb(), 1)}
    raise SystemExit(f"unknown scenario {name!r}")


def child(name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        result = scenario(name, Path(tmp))
    print(f"RESULT {name} {result}", file=sys.__stdout__, flush=True)


def main(argv: list[str]) -> None:
    if len(argv) > 2 and argv[1] == "--child":
        child(argv[2])
        return
    runs = 1
    if "--runs" in argv:  # each scenario N times in a row: on a shared machine one figure says little
        at = argv.index("--runs")
        runs = int(argv[at + 1])
        argv = argv[:at] + argv[at + 2:]
    wanted = argv[1] if len(argv) > 1 else "all"
    groups = {"serve": ["serve-tool", "serve-serial"], "budget": ["budget"], "inprocess": ["inprocess"],
              "plan": ["plan"]}
    names = [n for g in (groups if wanted == "all" else [wanted]) for n in groups[g] for _ in range(runs)]
    for name in names:
        proc = subprocess.run([sys.executable, "-m", "bench.bulk", "--child", name], capture_output=True, text=True,
                              cwd=ROOT)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
        print(lines[-1] if lines else f"{name} failed: {proc.stderr[-1500:]}", flush=True)


if __name__ == "__main__":
    main(sys.argv)
