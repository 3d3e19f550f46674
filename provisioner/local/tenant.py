"""Lifecycle of a local tenant file: where it lives, init/seed, reset, domains and its clock."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import platformdirs

from .store import Store, iso

DEFAULT_DOMAIN = "contoso.onmicrosoft.com"

FIRST_NAMES = (
    "Adele",
    "Alex",
    "Allan",
    "Amara",
    "Ben",
    "Bianca",
    "Carlos",
    "Chen",
    "Christie",
    "Dana",
    "Debra",
    "Diego",
    "Elena",
    "Emily",
    "Enrico",
    "Fatima",
    "Grady",
    "Hana",
    "Henrietta",
    "Ibrahim",
    "Isaiah",
    "Jana",
    "Johanna",
    "Joni",
    "Kenji",
    "Lee",
    "Lidia",
    "Lynne",
    "Megan",
    "Miriam",
    "Nestor",
    "Nia",
    "Olga",
    "Patti",
    "Pradeep",
    "Priya",
    "Raul",
    "Sakura",
    "Sven",
    "Tomas",
    "Wei",
    "Yara",
    "Zoe",
)
LAST_NAMES = (
    "Adams",
    "Bauer",
    "Becker",
    "Cruz",
    "Diaz",
    "Dubois",
    "Fischer",
    "Garcia",
    "Gates",
    "Gupta",
    "Hansen",
    "Holt",
    "Ito",
    "Jensen",
    "Kim",
    "Kowalski",
    "Larsen",
    "Lopez",
    "Martin",
    "Moreau",
    "Muller",
    "Nakamura",
    "Nguyen",
    "Novak",
    "Okafor",
    "Patel",
    "Rossi",
    "Sanchez",
    "Schmidt",
    "Silva",
    "Singh",
    "Smith",
    "Tanaka",
    "Vance",
    "Wagner",
    "Wilber",
    "Williams",
    "Wright",
    "Yamada",
    "Zhang",
)
DEPARTMENTS = {
    "Sales": ("Account Executive", "Sales Manager", "Sales Representative"),
    "Marketing": ("Marketing Manager", "Product Marketing Manager", "Content Strategist"),
    "Engineering": ("Software Engineer", "Senior Software Engineer", "Engineering Manager"),
    "Finance": ("Accountant", "Financial Analyst", "Controller"),
    "Human Resources": ("HR Generalist", "Recruiter", "HR Manager"),
    "IT": ("IT Administrator", "Helpdesk Technician", "Systems Engineer"),
    "Operations": ("Operations Manager", "Logistics Coordinator", "Facilities Manager"),
}
USAGE_LOCATIONS = ("US", "US", "US", "GB", "DE", "FR", "CA", "IN", "JP", "AU", "NL", "BR")


def default_state_path() -> Path:
    """`$PROVISIONER_LOCAL_STATE` if set, else `local-tenant.db` in the user data directory."""
    env = os.environ.get("PROVISIONER_LOCAL_STATE")
    if env:
        return Path(env)
    return platformdirs.user_data_path("provisioner") / "local-tenant.db"


def init_tenant(
    path: str | Path,
    *,
    domain: str = DEFAULT_DOMAIN,
    seed_users: int = 0,
    synced_fraction: float = 0.0,
    seed: int | None = None,
    skus: dict[str, int] | None = None,
) -> dict:
    """Create the tenant file if missing (verified domain + Global Administrator `admin@<domain>`),
    then add `seed_users` sample users, about `synced_fraction` of them directory-synced.

    An existing tenant keeps everything it has. Deterministic when `seed` is given. `skus` (part
    number -> enabled seats) replaces the tenant's subscribed SKUs (default: `licenses.DEFAULT_SKUS`).
    Returns a summary: path, created, domain, seeded, synced, users (active user count).
    """
    if not 0.0 <= synced_fraction <= 1.0:
        raise ValueError("synced_fraction must be between 0 and 1")
    if seed_users < 0:
        raise ValueError("seed_users must not be negative")
    store = Store(path, domain=domain)
    try:
        created = store.created_now
        default = store.default_domain()
        if skus is not None:
            from .licenses import seed_skus

            seed_skus(store, skus)
        synced = _seed(store, default, seed_users, synced_fraction, random.Random(seed)) if seed_users else 0
        with store.read() as db:
            total = db.execute("SELECT COUNT(*) FROM users WHERE deleted IS NULL").fetchone()[0]
        return {
            "path": str(path),
            "created": created,
            "domain": default,
            "seeded": seed_users,
            "synced": synced,
            "users": total,
        }
    finally:
        store.close()


def _seed(store: Store, domain: str, count: int, synced_fraction: float, rng: random.Random) -> int:
    with store.read() as db:
        rows = db.execute("SELECT upn, id FROM users").fetchall()
    taken = {upn.lower() for upn, _ in rows}
    # Seeding again with the same seed draws the same ids: those already in the tenant are drawn anew.
    ids = {uid for _, uid in rows}
    now = store.now()
    counts = {"synced": 0}
    with store.write() as db:
        # A generator keeps memory flat however many users are seeded; one transaction keeps it fast.
        Store.insert_users(db, _sample_users(domain, count, synced_fraction, rng, taken, ids, now, counts))
    return counts["synced"]


def _sample_users(
    domain: str,
    count: int,
    synced_fraction: float,
    rng: random.Random,
    taken: set[str],
    ids: set[str],
    now: datetime,
    counts: dict,
) -> Iterator[dict]:
    serial: dict[str, int] = {}
    for _ in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        alias = f"{first}.{last}".lower()
        n = serial.get(alias, 0)
        while True:
            candidate = alias if n == 0 else f"{alias}{n}"
            n += 1
            if f"{candidate}@{domain}" not in taken:
                break
        serial[alias] = n
        upn = f"{candidate}@{domain}"
        taken.add(upn)
        department = rng.choice(tuple(DEPARTMENTS))
        is_synced = rng.random() < synced_fraction
        counts["synced"] += is_synced
        created = iso(now - timedelta(days=rng.randint(1, 1500), seconds=rng.randint(0, 86399)))
        uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        while uid in ids:
            uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        yield {
            "id": uid,
            "userPrincipalName": upn,
            "displayName": f"{first} {last}",
            "givenName": first,
            "surname": last,
            "mail": upn,
            "mailNickname": candidate,
            "accountEnabled": rng.random() > 0.05,
            "jobTitle": rng.choice(DEPARTMENTS[department]),
            "department": department,
            "usageLocation": rng.choice(USAGE_LOCATIONS),
            "businessPhones": [],
            "mobilePhone": None,
            "officeLocation": None,
            "preferredLanguage": "en-US",
            "userType": "Member",
            "onPremisesSyncEnabled": True if is_synced else None,
            "createdDateTime": created,
            "lastPasswordChangeDateTime": created,
            **(
                {
                    "onPremisesImmutableId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "onPremisesLastSyncDateTime": iso(now),
                }
                if is_synced
                else {}
            ),
        }


def reset_tenant(path: str | Path, *, domain: str = DEFAULT_DOMAIN) -> dict:
    """Wipe the tenant and create it anew (in one transaction, so open readers stay safe)."""
    store = Store(path, domain=domain)
    try:
        with store.write() as db:
            for table in ("role_assignments", "role_definitions", "users", "domains", "meta"):
                db.execute(f"DROP TABLE IF EXISTS {table}")
        store.bootstrap(domain)
    finally:
        store.close()
    return init_tenant(path, domain=domain)


def add_domain(path: str | Path, domain: str) -> None:
    """Add a verified domain to the tenant (no-op when it is already there)."""
    domain = domain.strip().lower()
    if not domain or "." not in domain or "@" in domain or " " in domain:
        raise ValueError(f"not a domain name: {domain!r}")
    store = Store(path)
    try:
        with store.write() as db:
            db.execute(
                "INSERT OR IGNORE INTO domains (name, is_default, is_verified) VALUES (?, 0, 1)", (domain,)
            )
    finally:
        store.close()


def advance_clock(path: str | Path, delta: timedelta) -> datetime:
    """Move the tenant clock by `delta` (stored in the file); returns the new tenant time."""
    store = Store(path)
    try:
        return store.advance_clock(delta)
    finally:
        store.close()


def tenant_now(path: str | Path) -> datetime:
    """The tenant clock: aware UTC, real time plus the stored offset."""
    store = Store(path)
    try:
        return store.now()
    finally:
        store.close()


def has_password(path: str | Path, upn: str, password: str) -> bool:
    """Whether the active user ``upn`` was given ``password`` (checked against the salted hash the
    tenant keeps, as Entra does; the password itself is never stored)."""
    from .users import PASSWORD_KEY, find_user, password_matches

    store = Store(path)
    try:
        with store.read() as db:
            user = find_user(db, upn)
        return user is not None and password_matches(user.get(PASSWORD_KEY), password)
    finally:
        store.close()
