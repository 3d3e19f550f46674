"""A `$batch`'s writes share one SQLite transaction: committed before the batch answers, each
item still all-or-nothing, and nothing left open for the next request or another process."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import sqlite3

import httpx
import pytest
from graph_kit import AUTH, DOMAIN, new_user

from provisioner.local import users
from provisioner.local.app import LOCAL_BASE_URL
from provisioner.local.store import Store
from provisioner.local.wire import GraphError


def upns_seen_by_another_connection(path) -> list[str]:
    """What another process reading the file sees: committed rows only (a reader is never blocked)."""
    with contextlib.closing(sqlite3.connect(path)) as other:
        rows = other.execute("SELECT upn FROM users WHERE upn LIKE 'g%' ORDER BY upn").fetchall()
    return [r[0] for r in rows]


def test_a_batch_is_committed_before_it_answers_and_a_refused_item_leaves_nothing(tmp_path):
    from provisioner.local import create_app

    app = create_app(tmp_path / "t.db")
    items = [{"id": str(i), "method": "POST", "url": "/users", "headers": {"Content-Type": "application/json"},
              "body": new_user(f"g{i:02d}")} for i in range(19)]
    items.append({"id": "dup", "method": "POST", "url": "/users", "headers": {"Content-Type": "application/json"},
                  "body": new_user("g00", mailNickname="other")})

    async def post() -> tuple[httpx.Response, list[str]]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), headers=AUTH) as c:
            resp = await c.post(LOCAL_BASE_URL + "/$batch", json={"requests": items})
            # Read at once, as another process would, before this one makes any other request.
            return resp, upns_seen_by_another_connection(tmp_path / "t.db")

    resp, seen = asyncio.run(post())
    statuses = {item["id"]: item["status"] for item in resp.json()["responses"]}
    assert statuses == {**{str(i): 201 for i in range(19)}, "dup": 400}
    assert seen == [f"g{i:02d}@{DOMAIN}" for i in range(19)]


def test_grouped_writes_commit_together_and_a_failed_one_is_rolled_back_alone(tmp_path):
    store = Store(tmp_path / "t.db")
    try:
        with store.grouped():
            users.create_user(store, new_user("g01"))
            with pytest.raises(GraphError):
                users.create_user(store, new_user("g01", mailNickname="again"))  # the same UPN: refused
            users.create_user(store, new_user("g02"))
            assert upns_seen_by_another_connection(tmp_path / "t.db") == []  # not committed yet
        assert upns_seen_by_another_connection(tmp_path / "t.db") == [f"g01@{DOMAIN}", f"g02@{DOMAIN}"]
        assert not store.conn.in_transaction
    finally:
        store.close()


def test_a_write_outside_the_group_commits_what_the_group_has_written_first(tmp_path):
    store = Store(tmp_path / "t.db")
    try:
        with store.grouped():
            users.create_user(store, new_user("g01"))

            # A request the batch did not start runs in a context of its own: not in the group.
            contextvars.Context().run(users.create_user, store, new_user("g02"))
            assert upns_seen_by_another_connection(tmp_path / "t.db") == [f"g01@{DOMAIN}", f"g02@{DOMAIN}"]
            users.create_user(store, new_user("g03"))
        assert upns_seen_by_another_connection(tmp_path / "t.db") == [f"g0{i}@{DOMAIN}" for i in (1, 2, 3)]
    finally:
        store.close()
