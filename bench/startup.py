"""Start-up and listing cost of the CLI: `provisioner --help`, and `users list` on a 1,000-user
local tenant, each as a fresh process (wall time, and the child's own peak RSS through bench/proc.py).

Run: .venv/bin/python -m bench.startup
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.proc import measure

RUNS = 5
CLI = [sys.executable, "-m", "provisioner"]


def median_run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Median wall seconds over RUNS fresh processes, and the highest of their own peak RSS in MB."""
    runs = [measure(CLI + args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(RUNS)]
    failed = [r.code for r in runs if r.code != 0]
    if failed:
        raise SystemExit(f"provisioner {' '.join(args)}: exit {failed[0]}")
    return statistics.median(r.seconds for r in runs), max(r.peak_mb for r in runs)


def main() -> None:
    from provisioner.local import init_tenant

    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "tenant.db"
        init_tenant(state, seed_users=999, seed=1)
        config = Path(tmp) / "config.toml"
        config.write_text(f'[execution]\njournal = "{Path(tmp) / "journal.jsonl"}"\n', encoding="utf-8")
        env = {**os.environ, "PROVISIONER_LOCAL_STATE": str(state), "PROVISIONER_CONFIG": str(config)}
        help_s, help_mb = median_run(["--help"], env)
        list_s, list_mb = median_run(["users", "list", "-o", "json"], env)
    print(f"{'command':<40} {'median s':>9} {'peak RSS MB':>12}")
    print(f"{'provisioner --help':<40} {help_s:>9.3f} {help_mb:>12.1f}")
    print(f"{'provisioner users list (1,000 users)':<40} {list_s:>9.3f} {list_mb:>12.1f}")


if __name__ == "__main__":
    main()
