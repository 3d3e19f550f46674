"""Run the benchmarks one after another, each in a process of its own, and print their tables.

    .venv/bin/python -m bench              # the usual set, about 4 minutes on 2 cores (make bench)
    .venv/bin/python -m bench all          # also the slow ones (bulk serve and budget, lifecycle), about 12 more
    .venv/bin/python -m bench NAME ...     # only these: startup, roundtrips, listing, audit, local_tenant, bulk,
                                           # lifecycle

Options of a single benchmark are given by running it directly (`python -m bench.NAME --help`).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# name -> (module, arguments): the usual set. `bulk` here is its two quick scenarios.
USUAL: dict[str, tuple[str, list[str]]] = {
    "startup": ("bench.startup", []),
    "roundtrips": ("bench.roundtrips", []),
    "listing": ("bench.listing", []),
    "audit": ("bench.audit", []),
    "local_tenant": ("bench.local_tenant", []),
    "bulk": ("bench.bulk", ["inprocess"]),
    "bulk-plan": ("bench.bulk", ["plan"]),
}
# Minutes each: one-request-at-a-time against 150 ms latency, and 21,000 writes at the scaled budget.
SLOW: dict[str, tuple[str, list[str]]] = {
    "bulk-serve": ("bench.bulk", ["serve"]),
    "bulk-budget": ("bench.bulk", ["budget"]),
    "lifecycle": ("bench.lifecycle", ["all"]),  # 1,000 leavers at Graph's own budget: about 8 minutes
}


def main(argv: list[str]) -> int:
    if not argv:
        chosen = USUAL
    elif argv == ["all"]:
        chosen = {**USUAL, **SLOW}
    else:
        known = {**USUAL, **SLOW, "bulk": ("bench.bulk", ["all"])}
        unknown = [name for name in argv if name not in known]
        if unknown:
            print(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(known)} or all", file=sys.stderr)
            return 2
        chosen = {name: known[name] for name in argv}
    failed = []
    for name, (module, args) in chosen.items():
        print(f"\n== {name}: python -m {' '.join([module, *args])}", flush=True)
        start = time.perf_counter()
        code = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT).returncode
        print(f"({name}: {time.perf_counter() - start:.0f} s{'' if code == 0 else f', exit {code}'})", flush=True)
        if code != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
