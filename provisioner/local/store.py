"""SQLite state of one local tenant: schema, connection, transactions and the tenant clock."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from .commits import Groups

# Schema 2: object ids are stored lower-case so that lookups use the primary key (see `_lower_ids`).
SCHEMA_VERSION = "2"
GLOBAL_ADMIN_ROLE = "62e90394-69f5-4237-9190-012177145e10"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS domains (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    is_default INTEGER NOT NULL DEFAULT 0,
    is_verified INTEGER NOT NULL DEFAULT 1
);
-- Hot, filterable and sortable properties are columns, the rest of the user lives in `props` (JSON).
-- `deleted` is NULL for active users, else the deletedDateTime, and `upn` is rewritten while deleted.
-- Object ids (users.id, role_definitions.id/template_id, role_assignments' principal and role ids)
-- are lower-case GUIDs, as Graph writes them, and are compared exactly: callers fold what a client
-- sends with `fold_id`, so every lookup by id is a primary-key or index seek.
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    upn TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name TEXT NOT NULL COLLATE NOCASE,
    mail TEXT COLLATE NOCASE,
    account_enabled INTEGER NOT NULL,
    sync_enabled INTEGER,
    created TEXT NOT NULL,
    deleted TEXT,
    props TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS users_by_upn ON users (deleted, upn, id);
CREATE INDEX IF NOT EXISTS users_by_name ON users (deleted, display_name, id);
CREATE INDEX IF NOT EXISTS users_by_mail ON users (mail);
-- Deleted items are few and listed in id order: a partial index keeps that off the active users.
CREATE INDEX IF NOT EXISTS deleted_users_by_id ON users (id) WHERE deleted IS NOT NULL;
CREATE TABLE IF NOT EXISTS role_definitions (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL COLLATE NOCASE,
    template_id TEXT NOT NULL,
    is_builtin INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS role_definitions_by_template ON role_definitions (template_id);
CREATE TABLE IF NOT EXISTS role_assignments (
    id TEXT PRIMARY KEY,
    role_definition_id TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    directory_scope_id TEXT,
    app_scope_id TEXT,
    created TEXT NOT NULL,
    UNIQUE (role_definition_id, principal_id, directory_scope_id, app_scope_id)
);
CREATE INDEX IF NOT EXISTS assignments_by_principal ON role_assignments (principal_id);
CREATE INDEX IF NOT EXISTS assignments_by_role ON role_assignments (role_definition_id, id);
-- Built-in roles the tenant has instantiated (graph-quirks §2): Global Administrator from the start,
-- any other on its first assignment, and it stays so after its assignments are removed.
CREATE TABLE IF NOT EXISTS instantiated_roles (role_definition_id TEXT PRIMARY KEY);
"""


def fold_id(key: str) -> str:
    """An object id as stored: ASCII letters lower-cased, as SQLite's NOCASE folds them (so a key
    with other characters matches exactly what a case-insensitive comparison would)."""
    return key.lower() if key.isascii() else key


def iso(dt: datetime) -> str:
    """Graph's timestamp form: UTC, whole seconds, `Z` suffix (sorts as text)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def builtin_roles() -> list[dict]:
    """Entra's built-in role definitions shipped with the package (`builtin_roles.json`)."""
    text = resources.files(__package__).joinpath("builtin_roles.json").read_text(encoding="utf-8")
    return json.loads(text)


class Store:
    """One connection to a tenant file, shared by the threads of one app and serialised by a lock.

    Every write runs in `BEGIN IMMEDIATE ... COMMIT` so a killed process never leaves half an
    object, and WAL plus a busy timeout let several processes share the file. The items of one
    `$batch` share a transaction (`grouped`), each in a savepoint of its own.
    """

    def __init__(self, path: str | Path, *, domain: str = "contoso.onmicrosoft.com"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA busy_timeout = 10000")
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        # Large tenants list faster when pages come from the OS cache without copying into SQLite's.
        self.conn.execute("PRAGMA mmap_size = 268435456")
        self.conn.execute("PRAGMA cache_size = -16000")
        self.lock = threading.RLock()
        # The clock offset as last read, and the data_version it was read at: every request asks
        # the time, and another connection (another process) may move the clock (see `now`).
        self._clock: tuple[int, timedelta] | None = None
        self._tenant_id: str | None = None
        self.groups = Groups(self.conn)
        self.writes = 0  # write blocks entered through this store: with `data_version`, see `version`
        self.created_now = self.bootstrap(domain)

    def close(self) -> None:
        """Close the connection."""
        with self.lock:
            self.conn.close()

    @contextmanager
    def write(self, *, alone: bool = False) -> Iterator[sqlite3.Connection]:
        """A write transaction: all of it is committed, or none of it.

        Inside `grouped` it is a savepoint of the group's shared transaction instead (`commits`),
        committed when the group ends; `alone`: its own transaction all the same."""
        with self.lock:
            self.writes += 1
            group = None if alone else self.groups.current(self)
            if group is not None:
                with self.groups.item(group):
                    yield self.conn
                return
            self.groups.commit()  # another request's writes, committed early: always safe
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def grouped(self) -> AbstractContextManager[None]:
        """Writes made inside (by this task and the tasks it starts) commit together when it ends:
        a `$batch` of 20 creates commits once, not 20 times. Raises `GroupLost` at the end when
        SQLite rolled them back."""
        return self.groups.grouped(self, self.lock)

    def version(self) -> tuple[int, int, int]:
        """Equal at two moments only if the file's contents did not change in between (SQLite's
        data_version counts other connections' commits, `writes` this store's own, and a group's
        rolled-back transaction undoes some)."""
        with self.lock:
            return self.conn.execute("PRAGMA data_version").fetchone()[0], self.writes, self.groups.lost

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """Serialised access for reads (autocommit: each statement sees committed data)."""
        with self.lock:
            yield self.conn

    # -- lifecycle -------------------------------------------------------------------------

    def bootstrap(self, domain: str) -> bool:
        """Create schema, domain, built-in roles and the first Global Administrator if missing.

        Returns True when the tenant was created by this call.
        """
        with self.write() as db:
            for stmt in SCHEMA.split(";"):
                if stmt.strip():
                    db.execute(stmt)
            row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if row:
                if row[0] == "1":
                    _lower_ids(db)
                _instantiated(db)  # a file from before the table: the roles it has assigned
                return False
            now = datetime.now(UTC)
            db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("schema", SCHEMA_VERSION),
                    ("clock_offset", "0"),
                    ("tenant_id", str(uuid.uuid4())),
                    ("created", iso(now)),
                ],
            )
            db.execute("INSERT INTO domains (name, is_default) VALUES (?, 1)", (domain.lower(),))
            self._insert_roles(db)
            admin = self._admin_user(domain.lower(), iso(now))
            self.insert_users(db, [admin])
            db.execute(
                "INSERT INTO role_assignments (id, role_definition_id, principal_id, directory_scope_id,"
                " app_scope_id, created) VALUES (?, ?, ?, '/', NULL, ?)",
                (
                    assignment_id(GLOBAL_ADMIN_ROLE, admin["id"], "/"),
                    GLOBAL_ADMIN_ROLE,
                    admin["id"],
                    iso(now),
                ),
            )
            _instantiated(db)
            return True

    def _insert_roles(self, db: sqlite3.Connection) -> None:
        rows = []
        for role in builtin_roles():
            rows.append((role["id"], role["displayName"], role["templateId"], 1, json.dumps(role)))
        db.executemany(
            "INSERT OR REPLACE INTO role_definitions (id, display_name, template_id, is_builtin, body)"
            " VALUES (?, ?, ?, ?, ?)",
            rows,
        )

    @staticmethod
    def _admin_user(domain: str, created: str) -> dict:
        return {
            "id": str(uuid.uuid4()),
            "userPrincipalName": f"admin@{domain}",
            "displayName": "MOD Administrator",
            "givenName": "MOD",
            "surname": "Administrator",
            "mail": f"admin@{domain}",
            "mailNickname": "admin",
            "businessPhones": [],
            "jobTitle": None,
            "mobilePhone": None,
            "officeLocation": None,
            "preferredLanguage": "en-US",
            "userType": "Member",
            "lastPasswordChangeDateTime": created,
            "accountEnabled": True,
            "onPremisesSyncEnabled": None,
            "createdDateTime": created,
            "usageLocation": "US",
        }

    @staticmethod
    def insert_users(db: sqlite3.Connection, users: Iterable[dict]) -> None:
        """Insert full user dicts (Graph property names) in one statement."""
        db.executemany(
            "INSERT INTO users (id, upn, display_name, mail, account_enabled, sync_enabled, created, deleted,"
            " props) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)",
            (user_row(u) for u in users),
        )

    # -- clock -------------------------------------------------------------------------------

    def clock_offset(self) -> timedelta:
        """The tenant clock's offset from real UTC time, as stored in the file.

        Re-read only when the file changed under another connection since the last read (SQLite's
        `data_version` says so, and is cheaper than the read); this connection's own moves of the
        clock go through `advance_clock`, which forgets the cached value."""
        with self.read() as db:
            version = db.execute("PRAGMA data_version").fetchone()[0]
            if self._clock is not None and self._clock[0] == version:
                return self._clock[1]
            row = db.execute("SELECT value FROM meta WHERE key = 'clock_offset'").fetchone()
            offset = timedelta(seconds=float(row[0]) if row else 0.0)
            self._clock = (version, offset)
        return offset

    def now(self) -> datetime:
        """The tenant clock: real UTC time plus the stored offset (another process may move it)."""
        return datetime.now(UTC) + self.clock_offset()

    def advance_clock(self, delta: timedelta) -> datetime:
        """Move the tenant clock forward (or back) by `delta`; returns the new tenant time."""
        with self.write() as db:
            offset = (self.clock_offset() + delta).total_seconds()
            db.execute("UPDATE meta SET value = ? WHERE key = 'clock_offset'", (repr(offset),))
            self._clock = None
        return datetime.now(UTC) + timedelta(seconds=offset)

    def tenant_id(self) -> str:
        """The tenant's id (minted when the file was created, never changed: read once)."""
        if self._tenant_id is None:
            with self.read() as db:
                row = db.execute("SELECT value FROM meta WHERE key = 'tenant_id'").fetchone()
            if not row:
                return ""
            self._tenant_id = row[0]
        return self._tenant_id

    # -- domains -----------------------------------------------------------------------------

    def default_domain(self) -> str:
        """The tenant's default domain."""
        with self.read() as db:
            row = db.execute("SELECT name FROM domains ORDER BY is_default DESC, name LIMIT 1").fetchone()
        return row[0]


def _instantiated(db: sqlite3.Connection) -> None:
    """Mark Global Administrator and every role with an assignment as instantiated."""
    db.execute("INSERT OR IGNORE INTO instantiated_roles VALUES (?)", (GLOBAL_ADMIN_ROLE,))
    db.execute("INSERT OR IGNORE INTO instantiated_roles SELECT DISTINCT role_definition_id FROM role_assignments")


def _lower_ids(db: sqlite3.Connection) -> None:
    """Migrate a schema-1 file (ids compared with NOCASE) to lower-case ids, inside the caller's
    transaction. That version minted lower-case ids itself, but it matched any case and, before it
    stored the principal's own id, kept an assignment's principalId as the client wrote it (lower-cased,
    and possibly a userPrincipalName): those are folded, or mapped to the user's object id."""
    db.execute("UPDATE users SET id = lower(id) WHERE id <> lower(id)")
    # A deleted user's UPN starts with its id without hyphens (32 characters).
    db.execute(
        "UPDATE users SET upn = lower(substr(upn, 1, 32)) || substr(upn, 33)"
        " WHERE deleted IS NOT NULL AND substr(upn, 1, 32) <> lower(substr(upn, 1, 32))"
    )
    db.execute(
        "UPDATE role_definitions SET id = lower(id), template_id = lower(template_id)"
        " WHERE id <> lower(id) OR template_id <> lower(template_id)"
    )
    db.execute(
        "UPDATE role_assignments SET principal_id = lower(principal_id), role_definition_id = lower(role_definition_id)"
        " WHERE principal_id <> lower(principal_id) OR role_definition_id <> lower(role_definition_id)"
    )
    # OR IGNORE: the same role may also be held under the object id already; that row stays the one.
    db.execute(
        "UPDATE OR IGNORE role_assignments SET principal_id ="
        " (SELECT u.id FROM users u WHERE u.upn = role_assignments.principal_id AND u.deleted IS NULL)"
        " WHERE principal_id LIKE '%@%' AND EXISTS"
        " (SELECT 1 FROM users u WHERE u.upn = role_assignments.principal_id AND u.deleted IS NULL)"
    )
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (SCHEMA_VERSION,))


def user_row(u: dict) -> tuple:
    """The users-table row for a full user dict; `props` keeps everything but the column values."""
    props = {k: v for k, v in u.items() if k not in _COLUMN_PROPS}
    sync = u.get("onPremisesSyncEnabled")
    return (
        u["id"],
        u["userPrincipalName"],
        u["displayName"],
        u.get("mail"),
        1 if u["accountEnabled"] else 0,
        None if sync is None else int(bool(sync)),
        u["createdDateTime"],
        json.dumps(props, separators=(",", ":")),
    )


_COLUMN_PROPS = frozenset(
    {
        "id",
        "userPrincipalName",
        "displayName",
        "mail",
        "accountEnabled",
        "onPremisesSyncEnabled",
        "createdDateTime",
        "deletedDateTime",
    }
)

USER_COLUMNS = "id, upn, display_name, mail, account_enabled, sync_enabled, created, deleted, props"


def row_user(row: tuple) -> dict:
    """The full user dict for a row selected with `USER_COLUMNS`."""
    uid, upn, name, mail, enabled, sync, created, deleted, props = row
    user = json.loads(props)
    user.update(
        id=uid,
        userPrincipalName=upn,
        displayName=name,
        mail=mail,
        accountEnabled=bool(enabled),
        onPremisesSyncEnabled=None if sync is None else bool(sync),
        createdDateTime=created,
        deletedDateTime=deleted,
    )
    return user


def assignment_id(role_definition_id: str, principal_id: str, scope: str) -> str:
    """Graph-shaped opaque assignment id: base64url(role GUID bytes + principal GUID bytes) + suffix.

    Real ids look like `lAPpYvVpN0KRkAEhdxReEMmO4KwRqtpKkUWt3wOYIz4-1`, which is exactly the
    little-endian bytes of the role template id and the principal id; `-1` marks the tenant scope.
    """
    try:
        raw = uuid.UUID(role_definition_id).bytes_le + uuid.UUID(principal_id).bytes_le
    except ValueError:
        raw = hashlib.sha256(f"{role_definition_id}|{principal_id}".encode()).digest()[:32]
    token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    if scope == "/":
        return f"{token}-1"
    return f"{token}-{hashlib.sha1(scope.encode()).hexdigest()[:8]}"
