"""Local-tenant speed: creates per second (single requests and $batch), listing speed, and peak memory
while listing a 100,000-user tenant. In-process (httpx over the ASGI transport), no SDK.

    .venv/bin/python bench/local_tenant.py [--creates 3000] [--batch-creates 20000] [--list-users 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import httpx
from tabulate import tabulate

from provisioner.local import LOCAL_BASE_URL, init_tenant, transport

PASSWORD = "xWwvJ]6NMw+bWH-d"
DOMAIN = "contoso.onmicrosoft.com"


def user_body(prefix: str, i: int) -> dict:
    alias = f"{prefix}{i}"
    return {
        "accountEnabled": True,
        "displayName": f"Bench {alias}",
        "mailNickname": alias,
        "userPrincipalName": f"{alias}@{DOMAIN}",
        "passwordProfile": {"forceChangePasswordNextSignIn": True, "password": PASSWORD},
    }


def client(state: Path) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport(state), base_url=LOCAL_BASE_URL)


async def create_single(state: Path, count: int, concurrency: int) -> float:
    """Users created per second, one POST /users each, `concurrency` requests in flight."""
    async with client(state) as c:
        queue = iter(range(count))

        async def worker() -> None:
            for i in queue:
                resp = await c.post(LOCAL_BASE_URL + "/users", json=user_body("s", i))
                if resp.status_code != 201:
                    raise SystemExit(f"create failed: {resp.status_code} {resp.text}")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - start)


async def create_batched(state: Path, count: int, in_flight: int) -> float:
    """Users created per second through $batch of 20, `in_flight` batches at a time."""
    async with client(state) as c:
        batches = iter(range(0, count, 20))

        async def worker() -> None:
            for first in batches:
                requests = [
                    {"id": str(i), "method": "POST", "url": "/users",
                     "headers": {"Content-Type": "application/json"}, "body": user_body("b", i)}
                    for i in range(first, min(first + 20, count))
                ]
                resp = await c.post(LOCAL_BASE_URL + "/$batch", json={"requests": requests})
                statuses = {item["status"] for item in resp.json()["responses"]}
                if resp.status_code != 200 or statuses != {201}:
                    raise SystemExit(f"batch failed: {resp.status_code} {statuses}")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        return count / (time.perf_counter() - start)


async def list_all(state: Path) -> tuple[int, float]:
    """(users listed, users per second) paging through GET /users?$top=999."""
    async with client(state) as c:
        url: str | None = LOCAL_BASE_URL + "/users?$top=999&$select=id,userPrincipalName,displayName"
        seen = 0
        start = time.perf_counter()
        while url:
            resp = await c.get(url)
            doc = resp.json()
            seen += len(doc["value"])
            url = doc.get("@odata.nextLink")
        return seen, seen / (time.perf_counter() - start)


def _list_in_child(state: str, out: multiprocessing.Queue) -> None:
    # A fresh process, so ru_maxrss is the listing's own peak (plus interpreter and imports).
    tracemalloc.start()
    seen, rate = asyncio.run(list_all(Path(state)))
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    seen_plain, rate_plain = asyncio.run(list_all(Path(state)))  # again without tracemalloc's overhead
    max_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.put((seen_plain, rate_plain, traced_peak, max_rss_kb))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=3000, help="users created by single requests")
    parser.add_argument("--batch-creates", type=int, default=20000, help="users created through $batch")
    parser.add_argument("--list-users", type=int, default=100_000, help="size of the tenant to list")
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        def fresh(name: str) -> Path:
            # A new file per run: every figure starts from an empty tenant.
            path = Path(tmp) / f"{name}.db"
            init_tenant(path)
            return path

        for concurrency in (1, 10):
            rate = asyncio.run(create_single(fresh(f"single{concurrency}"), args.creates, concurrency))
            rows.append([f"create, single requests ({concurrency} in flight)", f"{rate:,.0f} users/s"])
        for in_flight in (1, 4):
            rate = asyncio.run(create_batched(fresh(f"batch{in_flight}"), args.batch_creates, in_flight))
            rows.append([f"create, $batch of 20 ({in_flight} batches in flight)", f"{rate:,.0f} users/s"])

        big = Path(tmp) / "big.db"
        start = time.perf_counter()
        init_tenant(big, seed_users=args.list_users - 1, seed=1)
        rows.append([f"seed a {args.list_users:,}-user tenant file", f"{time.perf_counter() - start:.1f} s"])
        ctx = multiprocessing.get_context("spawn")
        out = ctx.Queue()
        child = ctx.Process(target=_list_in_child, args=(str(big), out))
        child.start()
        seen, rate, traced_peak, max_rss_kb = out.get()
        child.join()
        rows.append([f"list {seen:,} users, pages of 999", f"{rate:,.0f} users/s"])
        rows.append(["  peak Python heap while listing (tracemalloc)", f"{traced_peak / 2**20:.1f} MiB"])
        rows.append(["  peak RSS of the listing process (ru_maxrss)", f"{max_rss_kb / 1024:.1f} MiB"])

    print(tabulate(rows, headers=["local tenant, in-process", "result"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
