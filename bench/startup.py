"""Start-up and listing cost of the CLI: `provisioner --help`, and `users list` on a 1,000-user
local tenant, each as a fresh process (wall time and peak RSS of the child).

Run: .venv/bin/python bench/startup.py
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 5
CLI = [sys.executable, "-m", "provisioner"]


def measure(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Median wall seconds over RUNS fresh processes, and the largest child peak RSS in MB."""
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(CLI + args, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return statistics.median(times), peak_kb / 1024


def main() -> None:
    from provisioner.local import init_tenant

    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "tenant.db"
        init_tenant(state, seed_users=999, seed=1)
        config = Path(tmp) / "config.toml"
        config.write_text(f'[execution]\njournal = "{Path(tmp) / "journal.jsonl"}"\n', encoding="utf-8")
        env = {**os.environ, "PROVISIONER_LOCAL_STATE": str(state), "PROVISIONER_CONFIG": str(config)}
        help_s, help_mb = measure(["--help"], env)
        list_s, list_mb = measure(["users", "list", "-o", "json"], env)
    print(f"{'command':<40} {'median s':>9} {'peak RSS MB':>12}")
    print(f"{'provisioner --help':<40} {help_s:>9.3f} {help_mb:>12.0f}")
    print(f"{'provisioner users list (1,000 users)':<40} {list_s:>9.3f} {list_mb:>12.0f}")


if __name__ == "__main__":
    main()
