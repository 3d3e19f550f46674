"""Audit speed: `provisioner audit` (with the SCuBA privileged-access baseline) of a 10,000-user local
tenant with 200 privileged assignments over the baseline's eight highly privileged roles (direct,
PIM active permanent, PIM active time-bound and eligible) and those roles' PIM rules, end to end
(read every role, assignment, PIM instance, policy and deleted user, the number of users, and the
role holders by id, through the SDK; build the report, render it), once per output format,
in-process. Target: under 5 seconds.

Then its Graph round trips through `provisioner local serve`: the audit as a fresh CLI process against
the served tenant, with no added latency and with LATENCY ms added to every request; round trips =
(time with latency - time without) / latency, each time the lowest of RUNS runs. Target: at most 8.

    .venv/bin/python -m bench.audit [--users 10000] [--admins 200] [--deleted 300] [--runs 2]
                                    [--latency-ms 300] [--skip-served]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import httpx
from click.testing import CliRunner
from tabulate import tabulate

from bench.proc import measure_quiet
from bench.served import CLI, TOKEN_ENV, Served, base_env, last_line, positive, write_config
from provisioner.audit.baseline import HIGHLY_PRIVILEGED
from provisioner.cli.app import App
from provisioner.cli.audit import audit
from provisioner.local import LOCAL_BASE_URL, init_tenant, transport

TARGET_SECONDS = 5.0
TARGET_ROUND_TRIPS = 8
# The baseline's eight highly privileged roles (P§B2); the assignments are spread over them.
ROLE_IDS = list(HIGHLY_PRIVILEGED.values())
PIM = LOCAL_BASE_URL + "/roleManagement/directory"
# How each assignment is made, in turn: the four kinds the baseline tells apart (P§A2.4).
KINDS = ("direct", "pim permanent", "pim 30 days", "eligible 180 days")


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
            role = ROLE_IDS[i % len(ROLE_IDS)]
            kind = KINDS[(i // len(ROLE_IDS)) % len(KINDS)]
            body: dict = {"principalId": principal, "roleDefinitionId": role, "directoryScopeId": "/"}
            if kind == "direct":
                url = PIM + "/roleAssignments"
            else:
                expiration = ({"type": "noExpiration"} if kind == "pim permanent" else
                              {"type": "afterDuration", "duration": "P30D" if kind == "pim 30 days" else "P180D"})
                body.update(action="adminAssign", justification="bench", scheduleInfo={"expiration": expiration})
                url = PIM + ("/roleEligibilityScheduleRequests" if kind.startswith("eligible")
                             else "/roleAssignmentScheduleRequests")
            resp = await c.post(url, json=body)
            if resp.status_code != 201:
                raise SystemExit(f"assign failed: {resp.status_code} {resp.text}")
            if i % 25 == 0:
                await c.patch(LOCAL_BASE_URL + f"/users/{principal}", json={"accountEnabled": False})
        await set_some_rules(c)
        # Synced users are deleted on premises, not through Graph: delete cloud-only ones.
        admin_ids = set(targets)
        for principal in [i for i in cloud if i not in admin_ids][1 : deleted + 1]:
            resp = await c.delete(LOCAL_BASE_URL + f"/users/{principal}")
            if resp.status_code != 204:
                raise SystemExit(f"delete failed: {resp.status_code} {resp.text}")


async def set_some_rules(c: httpx.AsyncClient) -> None:
    """Give half of the eight roles alert recipients and Global Administrator approval, so that the
    rules read differ from role to role as a real tenant's do (P§A4.4)."""
    flt = "scopeId eq '/' and scopeType eq 'DirectoryRole'"
    found = (await c.get(LOCAL_BASE_URL + "/policies/roleManagementPolicyAssignments",
                         params={"$filter": flt})).json()["value"]
    policy = {a["roleDefinitionId"]: a["policyId"] for a in found}
    notification = "#microsoft.graph.unifiedRoleManagementPolicyNotificationRule"
    for role in ROLE_IDS[::2]:
        for rule in ("Notification_Admin_Admin_Eligibility", "Notification_Admin_Admin_Assignment",
                     "Notification_Admin_EndUser_Assignment"):
            resp = await c.patch(LOCAL_BASE_URL + f"/policies/roleManagementPolicies/{policy[role]}/rules/{rule}",
                                 json={"@odata.type": notification, "notificationRecipients": ["sec@contoso.com"]})
            if resp.status_code != 204:
                raise SystemExit(f"rule update failed: {resp.status_code} {resp.text}")


def served_runs(state: Path, work: Path, latency_ms: float, runs: int) -> tuple[float, float, int]:
    """(lowest seconds at 0 ms, lowest at LATENCY_MS, HTTP requests sent) of `audit -o json` as a CLI process
    against `local serve` over STATE."""
    times: dict[float, list[float]] = {0.0: [], latency_ms: []}
    requests = 0
    for n in range(runs):
        for latency in times:  # alternated, so both see the same load on a shared machine
            served = Served(state, latency)
            try:
                env = {**base_env(), "PROVISIONER_CONFIG": str(write_config(work, served.url)), TOKEN_ENV: "bench"}
                verbose = n == 0 and latency == 0.0
                run, stderr = measure_quiet(CLI + (["-v"] if verbose else []) + ["audit", "-o", "json"], env=env,
                                            cwd=work)
            finally:
                served.stop()
            if run.code != 0:
                raise SystemExit(f"served audit at {latency:g} ms: exit {run.code}, {last_line(stderr)}")
            if verbose:
                requests = len(re.findall(r"^(?:GET|POST) /\S+ -> \d{3} ", stderr, re.MULTILINE))
            times[latency].append(run.seconds)
    return min(times[0.0]), min(times[latency_ms]), requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--admins", type=int, default=200)
    parser.add_argument("--deleted", type=int, default=300)
    parser.add_argument("--runs", type=positive, default=2, help="served runs per latency; the lowest counts")
    parser.add_argument("--latency-ms", type=float, default=300.0)
    parser.add_argument("--skip-served", action="store_true", help="only the in-process timings")
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
        for fmt, extra in (("table", []), ("json", []), ("markdown", []), ("html", []), ("json", ["--all-roles"]),
                           ("json", ["--no-baseline"])):
            start = time.perf_counter()
            result = CliRunner().invoke(audit, ["--output", fmt, *extra], obj=App())
            elapsed = time.perf_counter() - start
            if result.exit_code != 0:
                raise SystemExit(f"audit failed: {result.output}")
            worst = max(worst, elapsed)
            label = " ".join(["--output", fmt, *extra])
            rows.append([label, f"{elapsed:.2f} s", f"{len(result.stdout) / 1024:,.0f} KiB"])
        served = None
        if not args.skip_served:
            work = Path(tmp) / "served"
            work.mkdir()
            served = served_runs(state, work, args.latency_ms, args.runs)
    title = f"audit, {args.users:,} users, {args.admins} privileged assignments, {args.deleted} deleted"
    print(tabulate(rows, headers=[title, "time", "report"], tablefmt="simple", disable_numparse=True))
    verdict = "under" if worst < TARGET_SECONDS else "OVER"
    print(f"slowest: {worst:.2f} s ({verdict} the {TARGET_SECONDS:.0f} s target)")
    failed = worst >= TARGET_SECONDS
    if served is not None:
        low, high, requests = served
        rounds = (high - low) / (args.latency_ms / 1000)
        within = "within" if round(rounds, 1) <= TARGET_ROUND_TRIPS else "OVER"
        print(f"served (`local serve`), audit -o json: {low:.2f} s at 0 ms, {high:.2f} s at {args.latency_ms:g} ms "
              f"-> {rounds:.1f} sequential round trips ({within} the target of {TARGET_ROUND_TRIPS}); "
              f"{requests} HTTP requests in all")
        failed |= round(rounds, 1) > TARGET_ROUND_TRIPS
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
