"""Group commit: the writes of one `$batch`'s items share a transaction, committed once when the
batch has run and before it answers, instead of one commit per item.

Each write is still all-or-nothing on its own (a savepoint inside the shared transaction), and
an item's answer reaches the client only with the batch's, after the commit: a killed process
loses only writes it never answered, as before. The transaction is shared by whatever groups
overlap on the connection; another request's own write, or any group's end, commits what is
open first (committing early is always safe). Should SQLite roll the shared transaction back
(a full disk), every group that wrote into it fails as a whole rather than answer for lost writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# The group the running code belongs to: a context variable, so that the tasks a `$batch` starts
# for its items share it and no other request does.
_CURRENT: ContextVar[_Group | None] = ContextVar("write_group", default=None)


class GroupLost(Exception):
    """The shared transaction of a group's writes was rolled back: none of them happened."""


class _Txn:
    __slots__ = ("lost",)

    def __init__(self) -> None:
        self.lost = False


class _Group:
    __slots__ = ("owner", "txns")

    def __init__(self, owner: object):
        self.owner = owner
        self.txns: list[_Txn] = []


class Groups:
    """The shared transaction of one connection; its owner (the store) serialises every call."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.txn: _Txn | None = None
        self.lost = 0  # shared transactions rolled back: what was read inside them no longer holds

    @staticmethod
    def current(owner: object) -> _Group | None:
        group = _CURRENT.get()
        return group if group is not None and group.owner is owner else None

    @contextmanager
    def item(self, group: _Group) -> Iterator[None]:
        """One write of a group: a savepoint of the shared transaction (begun if none is open)."""
        if self.txn is None:
            self.conn.execute("BEGIN IMMEDIATE")
            self.txn = _Txn()
        if not group.txns or group.txns[-1] is not self.txn:
            group.txns.append(self.txn)
        self.conn.execute("SAVEPOINT item")
        try:
            yield
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK TO item")
                self.conn.execute("RELEASE item")
            else:  # SQLite rolled the whole transaction back itself
                self.txn.lost = True
                self.txn = None
                self.lost += 1
            raise
        self.conn.execute("RELEASE item")

    def commit(self) -> None:
        """Commit the shared transaction, if one is open."""
        txn, self.txn = self.txn, None
        if txn is None:
            return
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error:
            txn.lost = True
            self.lost += 1
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    @contextmanager
    def grouped(self, owner: object, lock) -> Iterator[None]:
        group = _Group(owner)
        token = _CURRENT.set(group)
        try:
            yield
        finally:
            _CURRENT.reset(token)
            with lock:
                try:
                    self.commit()
                except sqlite3.Error:
                    pass  # marked lost: answered below
            if any(txn.lost for txn in group.txns):
                raise GroupLost("the batch's writes were rolled back")
