"""A tenant reached as a real one would be: `provisioner local serve` on loopback, and a config whose
kind = "graph" profile ("served") sends a static bearer token from TEST_GRAPH_TOKEN."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from cli_tenant import Tenant

from provisioner.local.serve import running_server

FULL = "not-a-jwt: full access"


@contextmanager
def serving(t: Tenant, *, default: str = "served", token: str = FULL, hide_local: bool = True) -> Iterator[Tenant]:
    """``t`` served for as long as the block runs. With ``hide_local`` the local state variable names
    another file, so a command falling back to the in-process tenant would see an empty, different one."""
    with running_server(t.state) as url:
        t.config.write_text(
            f'default_tenant = "{default}"\n[execution]\njournal = "journal.jsonl"\n'
            f'[tenants.served]\nkind = "graph"\nauth = "token"\ngraph_url = "{url}"\ntoken_env = "TEST_GRAPH_TOKEN"\n',
            encoding="utf-8")
        t.extra_env["TEST_GRAPH_TOKEN"] = token
        if hide_local:
            t.extra_env["PROVISIONER_LOCAL_STATE"] = str(t.root / "other.db")
        yield t


def token(t: Tenant, *args: str) -> None:
    """Mint a token with `provisioner local token ARGS` and make it the one the profile sends."""
    t.extra_env["TEST_GRAPH_TOKEN"] = t.ok("local", "token", *args).stdout.strip()
