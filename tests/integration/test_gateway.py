"""The Graph gateway against the in-process local tenant: connect, batched reads, typed answers."""

from __future__ import annotations

import asyncio
from pathlib import Path

from provisioner.bootstrap import connect
from provisioner.config import load_config
from provisioner.graph import Kind
from provisioner.local import init_tenant
from provisioner.queries import get_user_request
from provisioner.services.reads import Reader

ADMIN = "admin@contoso.onmicrosoft.com"
GLOBAL = "62e90394-69f5-4237-9190-012177145e10"


def _profile(tmp_path: Path, monkeypatch):  # type: ignore[no-untyped-def]
    state = tmp_path / "t.db"
    init_tenant(state, seed_users=25, synced_fraction=0.2, seed=3)
    config = tmp_path / "c.toml"
    config.write_text(f'[tenants.local]\nkind = "local"\nstate = "{state.name}"\n', encoding="utf-8")
    monkeypatch.delenv("PROVISIONER_TENANT", raising=False)
    return load_config(config).profile(None)


def test_users_roles_and_state(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    profile = _profile(tmp_path, monkeypatch)

    async def main() -> None:
        d = await connect(profile)
        try:
            users = [u async for u in d.iter_users(top=7)]
            assert len(users) == 26
            assert sum(1 for u in users if u.synced) >= 1
            admin = (await d.users_by_upn([ADMIN]))[ADMIN]
            assert admin.user_principal_name == ADMIN
            nobody = "nobody@contoso.onmicrosoft.com"
            answers = await d.read([get_user_request("a", ADMIN), get_user_request("b", nobody)])
            assert (answers["a"].kind, answers["b"].kind) == (Kind.OK, Kind.NOT_FOUND)
            definitions = await d.role_definitions()
            assert any(r.template_id == GLOBAL for r in definitions)
            holders = [a.principal_id for a in await d.role_assignments(role_id=GLOBAL)]
            assert holders == [admin.id]
            reader = Reader(d)
            await reader.users([ADMIN])
            await reader.assignments_of([admin.id])
            state = reader.state
            assert state.user(ADMIN) is not None
            assert state.deleted == []
            assert any(a.principal_id == admin.id for a in state.assignments)
        finally:
            await d.close()

    asyncio.run(main())
