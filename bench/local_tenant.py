"""Local-tenant speed: creates per second (single requests and $batch), listing speed, and peak memory
while listing a 100,000-user tenant; creates with a role each and lookups by object id in a small and
a large tenant (they should cost the same). In-process (httpx over the ASGI transport), no SDK.

    .venv/bin/python -m bench.local_tenant [--creates 3000] [--batch-creates 20000] [--list-users 100000]
        [--role-creates 1000] [--tenant-sizes 1000,100000] [--cases creates,batch,list,roles]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx
from tabulate import tabulate

from bench.proc import proc_peak_mb
from provisioner.local import LOCAL_BASE_URL, init_tenant, transport
from provisioner.local.store import Store
from provisioner.local.users import find_user

PASSWORD = "xWwvJ]6NMw+bWH-d"
DOMAIN = "contoso.onmicrosoft.com"
BILLING_ADMIN = "b0f54661-2d74-4c50-afa3-1ec803f12efe"
CASES = ("creates", "batch", "list", "roles")


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
    return httpx.AsyncClient(transport=transport(state), base_url=LOCAL_BASE_URL,
                             headers={"Authorization": "Bearer bench"})  # any non-JWT token: full access


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


async def create_with_roles(state: Path, count: int) -> float:
    """Seconds for `count` users created one by one, each followed by a role assignment naming its id."""
    async with client(state) as c:
        start = time.perf_counter()
        for i in range(count):
            resp = await c.post(LOCAL_BASE_URL + "/users", json=user_body("r", i))
            if resp.status_code != 201:
                raise SystemExit(f"create failed: {resp.status_code} {resp.text}")
            assignment = {"principalId": resp.json()["id"], "roleDefinitionId": BILLING_ADMIN,
                          "directoryScopeId": "/"}
            resp = await c.post(LOCAL_BASE_URL + "/roleManagement/directory/roleAssignments", json=assignment)
            if resp.status_code != 201:
                raise SystemExit(f"role assignment failed: {resp.status_code} {resp.text}")
        return time.perf_counter() - start


def lookup_ms(state: Path, lookups: int = 2000) -> float:
    """Milliseconds per user lookup by object id (upper-cased, as a client may send it), on the store."""
    store = Store(state)
    try:
        with store.read() as db:
            ids = [row[0].upper() for row in db.execute("SELECT id FROM users")]
            picks = random.Random(1).choices(ids, k=lookups)
            start = time.perf_counter()
            for uid in picks:
                if find_user(db, uid) is None:
                    raise SystemExit(f"lookup failed: {uid}")
            return (time.perf_counter() - start) * 1000 / lookups
    finally:
        store.close()


def _list_in_child(state: str, out: multiprocessing.Queue) -> None:
    # A fresh process of its own, no tracemalloc: VmHWM is the listing's own peak (plus the
    # interpreter, the imports and the memory-mapped tenant file).
    seen, rate = asyncio.run(list_all(Path(state)))
    out.put((seen, rate, proc_peak_mb()))


def list_rows(tmp: Path, size: int) -> list[list[str]]:
    """Seed a `size`-user tenant, then list it in a fresh process: rate and peak RSS rows."""
    big = tmp / "big.db"
    start = time.perf_counter()
    init_tenant(big, seed_users=size - 1, seed=1)
    rows = [[f"seed a {size:,}-user tenant file", f"{time.perf_counter() - start:.1f} s"]]
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(target=_list_in_child, args=(str(big), out))
    child.start()
    seen, rate, peak_mb = out.get()
    child.join()
    rows.append([f"list {seen:,} users, pages of 999", f"{rate:,.0f} users/s"])
    rows.append(["  peak RSS of the listing process (VmHWM)", f"{peak_mb:.1f} MB"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=3000, help="users created by single requests")
    parser.add_argument("--batch-creates", type=int, default=20000, help="users created through $batch")
    parser.add_argument("--list-users", type=int, default=100_000, help="size of the tenant to list")
    parser.add_argument("--role-creates", type=int, default=1000, help="users created with a role each")
    parser.add_argument("--tenant-sizes", default="1000,100000",
                        help="comma-separated tenant sizes for the creates-with-roles and lookup figures")
    parser.add_argument("--cases", default=",".join(CASES), help=f"which figures, of {','.join(CASES)}")
    args = parser.parse_args(argv)
    cases = {c.strip() for c in args.cases.split(",") if c.strip()}
    if cases - set(CASES):
        parser.error(f"--cases: unknown {', '.join(sorted(cases - set(CASES)))}; choose from {', '.join(CASES)}")
    try:
        sizes = [int(n) for n in args.tenant_sizes.split(",")]
    except ValueError:
        parser.error("--tenant-sizes takes whole numbers separated by commas, such as 1000,100000")

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        def fresh(name: str) -> Path:
            # A new file per run: every figure starts from an empty tenant.
            path = Path(tmp) / f"{name}.db"
            init_tenant(path)
            return path

        for concurrency in (1, 10) if "creates" in cases else ():
            rate = asyncio.run(create_single(fresh(f"single{concurrency}"), args.creates, concurrency))
            rows.append([f"create, single requests ({concurrency} in flight)", f"{rate:,.0f} users/s"])
        for in_flight in (1, 4) if "batch" in cases else ():
            rate = asyncio.run(create_batched(fresh(f"batch{in_flight}"), args.batch_creates, in_flight))
            rows.append([f"create, $batch of 20 ({in_flight} batches in flight)", f"{rate:,.0f} users/s"])

        if "list" in cases:
            rows += list_rows(Path(tmp), args.list_users)
        for n, size in enumerate(sizes if "roles" in cases else ()):
            state = Path(tmp) / f"roles{n}.db"
            init_tenant(state, seed_users=size - 1, seed=1)
            rows.append([f"lookup by object id, {size:,}-user tenant", f"{lookup_ms(state):.3f} ms"])
            seconds = asyncio.run(create_with_roles(state, args.role_creates))
            rows.append([f"{args.role_creates:,} creates + a role each, {size:,}-user tenant", f"{seconds:.1f} s"])

    print(tabulate(rows, headers=["local tenant, in-process", "result"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
