"""The CLI tests' tenant: a fresh local tenant in tmp_path, a config naming a journal there, and a runner."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from starlette.testclient import TestClient

from provisioner.cli import cli
from provisioner.local import init_tenant, pim_policy
from provisioner.local.graph_app import graph_app
from provisioner.local.store import Store

DOMAIN = "contoso.onmicrosoft.com"
ADMIN = f"admin@{DOMAIN}"
GLOBAL_ADMIN = "Global Administrator"
GA = "62e90394-69f5-4237-9190-012177145e10"
BILLING = "b0f54661-2d74-4c50-afa3-1ec803f12efe"
TARGET = "Target: local (local tenant, simulated)\n"


@dataclass
class Tenant:
    """A local tenant file, a config naming a journal in tmp_path, and a runner bound to both."""

    root: Path
    state: Path
    config: Path
    journal: Path
    extra_env: dict[str, str]

    @property
    def env(self) -> dict[str, str | None]:
        # PROVISIONER_TENANT is unset so that a developer's own shell cannot pick the target.
        return {"PROVISIONER_LOCAL_STATE": str(self.state), "PROVISIONER_CONFIG": str(self.config),
                "PROVISIONER_TENANT": None, **self.extra_env}

    def run(self, *args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), env=self.env, input=input, catch_exceptions=False)

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self.run(*args, input=input)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "-o", "json").stdout)

    def users(self) -> dict[str, dict[str, Any]]:
        return {u["userPrincipalName"]: u for u in self.json("users", "list")}

    def deleted(self) -> dict[str, dict[str, Any]]:
        return {u["userPrincipalName"]: u for u in self.json("deleted", "list")}

    def members(self, role: str) -> list[str]:
        return [u["userPrincipalName"] for u in self.json("roles", "members", role)]

    def journal_lines(self) -> list[dict[str, Any]]:
        if not self.journal.exists():
            return []
        return [json.loads(line) for line in self.journal.read_text(encoding="utf-8").splitlines() if line]

    def snapshot(self) -> tuple[Any, ...]:
        """Everything a write could change: users, deleted users, and the holders of the classic roles."""
        return (self.users(), self.deleted(),
                {r: self.members(r) for r in ("global", "billing", "password", "service", "user")})

    def export(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Name this tenant in the process's own environment too: for a test's own reads of it made
        outside the CLI (a recomputed fingerprint, PIM instances)."""
        for key, value in self.env.items():
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, value)

    def graph(self, method: str, url: str, body: dict | None = None) -> Any:
        """A call to the tenant's Graph API, as any other client of the tenant would make it."""
        app = graph_app(self.state)
        try:
            with TestClient(app, base_url="http://local.tenant") as client:
                resp = client.request(method, "/v1.0" + url, json=body)
                assert resp.status_code < 300, resp.text
                return resp.json() if resp.content else None
        finally:
            app.state.store.close()

    def role_policy(self, role_id: str) -> dict[str, Any]:
        """The role's PIM policy (its rules expanded), read through the tenant's Graph API."""
        flt = f"scopeId eq '/' and scopeType eq 'DirectoryRole' and roleDefinitionId eq '{role_id}'"
        found = self.graph("GET", f"/policies/roleManagementPolicyAssignments?$filter={flt}"
                                  "&$expand=policy($expand=rules)")
        return found["value"][0]["policy"]

    def create(self, name: str, *roles: str) -> str:
        upn = f"{name}@{DOMAIN}"
        args = ["users", "create", upn, "--display-name", name.title(), "--yes"]
        for role in roles:
            args += ["--role", role]
        self.ok(*args)
        return upn


def make_tenant(tmp_path: Path, **seed: Any) -> Tenant:
    state = tmp_path / "tenant.db"
    init_tenant(state, seed=7, **seed)
    config = tmp_path / "config.toml"
    config.write_text('[execution]\njournal = "journal.jsonl"\n', encoding="utf-8")
    return Tenant(tmp_path, state, config, tmp_path / "journal.jsonl", {})


def require_expiry(t: Tenant, role_id: str, rule: str, maximum: str) -> None:
    """Another administrator tightens the role's expiry rule: set on the tenant itself, as `PATCH
    .../rules/{ruleId}` does (P§A4.3); called directly, since the suite's schema check reads a PATCH body
    by the base rule type only."""
    store = Store(t.state)
    try:
        with store.read() as db:
            pid = pim_policy.policy_id(db, role_id)
        pim_policy.patch_rule(store, pid, rule, {
            "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
            "isExpirationRequired": True, "maximumDuration": maximum})
    finally:
        store.close()


def timeless(text: str) -> str:
    """Output with the run's duration ("Applied 2 of 2 change(s) in 0.3s.") as 0.0s: a busy machine
    takes longer, and the tests check what was said, not how fast."""
    return re.sub(r"change\(s\) in \d+\.\ds", "change(s) in 0.0s", text)
