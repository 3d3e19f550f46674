"""Audit speed: `provisioner audit` of a 10,000-user local tenant with 200 admin-role holders,
end to end (read every user, role, assignment and deleted user through the SDK, build the report,
render it), once per output format. Target: under 5 seconds.

    .venv/bin/python bench/audit.py [--users 10000] [--admins 200] [--deleted 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
from click.testing import CliRunner
from tabulate import tabulate

from provisioner.cli.app import App
from provisioner.cli.audit import audit
from provisioner.local import LOCAL_BASE_URL, init_tenant, transport
from provisioner.roles.catalog import CLASSIC_ROLES

TARGET_SECONDS = 5.0
# Admins spread over the five classic roles and two other privileged roles.
ROLE_IDS = [r.template_id for r in CLASSIC_ROLES] + [
    "194ae4cb-b126-40b2-bd5b-6091b380977d",  # Security Administrator
    "e8611ab8-c189-46e8-94e1-60213ab1f814",  # Privileged Role Administrator
]


async def prepare(state: Path, admins: int, deleted: int) -> None:
    """Give `admins` users a role (a few disabled), then delete `deleted` other users."""
    async with httpx.AsyncClient(transport=transport(state), base_url=LOCAL_BASE_URL,
                                 headers={"Authorization": "Bearer bench"}) as c:
        ids: list[str] = []
        cloud: list[str] = []
        url: str | None = LOCAL_BASE_URL + "/users?$select=id,onPremisesSyncEnabled&$top=999"
        while url:
            page = (await c.get(url)).json()
            ids += [u["id"] for u in page["value"]]
            cloud += [u["id"] for u in page["value"] if not u.get("onPremisesSyncEnabled")]
            url = page.get("@odata.nextLink")
        targets = ids[1 : admins + 1]  # the first is the tenant's own Global Administrator
        for i, principal in enumerate(targets):
            body = {"principalId": principal, "roleDefinitionId": ROLE_IDS[i % len(ROLE_IDS)], "directoryScopeId": "/"}
            resp = await c.post(LOCAL_BASE_URL + "/roleManagement/directory/roleAssignments", json=body)
            if resp.status_code != 201:
                raise SystemExit(f"assign failed: {resp.status_code} {resp.text}")
            if i % 25 == 0:
                await c.patch(LOCAL_BASE_URL + f"/users/{principal}", json={"accountEnabled": False})
        # Synced users are deleted on premises, not through Graph: delete cloud-only ones.
        admin_ids = set(targets)
        for principal in [i for i in cloud if i not in admin_ids][1 : deleted + 1]:
            resp = await c.delete(LOCAL_BASE_URL + f"/users/{principal}")
            if resp.status_code != 204:
                raise SystemExit(f"delete failed: {resp.status_code} {resp.text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--admins", type=int, default=200)
    parser.add_argument("--deleted", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "tenant.db"
        config = Path(tmp) / "config.toml"
        config.write_text("")
        os.environ["PROVISIONER_LOCAL_STATE"] = str(state)
        os.environ["PROVISIONER_CONFIG"] = str(config)
        os.environ.pop("PROVISIONER_TENANT", None)
        # The tenant starts with its own admin: seed the rest, deleted users included.
        init_tenant(state, seed_users=args.users + args.deleted - 1, synced_fraction=0.2, seed=1)
        asyncio.run(prepare(state, args.admins, args.deleted))
        rows = []
        worst = 0.0
        for fmt, extra in (("table", []), ("json", []), ("markdown", []), ("html", []), ("json", ["--all-roles"])):
            start = time.perf_counter()
            result = CliRunner().invoke(audit, ["--output", fmt, *extra], obj=App())
            elapsed = time.perf_counter() - start
            if result.exit_code != 0:
                raise SystemExit(f"audit failed: {result.output}")
            worst = max(worst, elapsed)
            label = " ".join(["--output", fmt, *extra])
            rows.append([label, f"{elapsed:.2f} s", f"{len(result.stdout) / 1024:,.0f} KiB"])
    title = f"audit, {args.users:,} users, {args.admins} admins, {args.deleted} deleted"
    print(tabulate(rows, headers=[title, "time", "report"], tablefmt="simple", disable_numparse=True))
    verdict = "under" if worst < TARGET_SECONDS else "OVER"
    print(f"slowest: {worst:.2f} s ({verdict} the {TARGET_SECONDS:.0f} s target)")
    if worst >= TARGET_SECONDS:
        sys.exit(1)


if __name__ == "__main__":
    main()
