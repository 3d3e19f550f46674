"""Small tenant states built from plain data, for the pure unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from provisioner.model import DeletedUser, RoleAssignment, RoleDefinition, TenantState, User

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)

GA = "62e90394-69f5-4237-9190-012177145e10"
BILLING = "b0f54661-2d74-4c50-afa3-1ec803f12efe"
HELPDESK = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
SERVICE = "f023fd81-a637-4b56-95fd-791ac0226033"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
PASSWORD_ADMIN = "966707d0-3269-4727-9be2-8c3a10f19b9d"
SECURITY_ADMIN = "194ae4cb-b126-40b2-bd5b-6091b380977d"
EXCHANGE_ADMIN = "29232cdf-9323-42fd-ade2-1d097af3e4de"

ROLES = [
    RoleDefinition(GA, "Global Administrator", GA, is_privileged=True),
    RoleDefinition(BILLING, "Billing Administrator", BILLING, is_privileged=False),
    RoleDefinition(HELPDESK, "Helpdesk Administrator", HELPDESK, is_privileged=True),
    RoleDefinition(SERVICE, "Service Support Administrator", SERVICE, is_privileged=False),
    RoleDefinition(USER_ADMIN, "User Administrator", USER_ADMIN, is_privileged=True),
    RoleDefinition(PASSWORD_ADMIN, "Password Administrator", PASSWORD_ADMIN, is_privileged=True),
    RoleDefinition(SECURITY_ADMIN, "Security Administrator", SECURITY_ADMIN),
    RoleDefinition(EXCHANGE_ADMIN, "Exchange Administrator", EXCHANGE_ADMIN),
]


def user(name: str, oid: str, **kw: object) -> User:
    return User(id=oid, user_principal_name=f"{name}@contoso.com", display_name=name.title(), **kw)  # type: ignore[arg-type]


def deleted(name: str, oid: str, days_ago: float, **kw: object) -> DeletedUser:
    prefix = oid.replace("-", "")
    return DeletedUser(
        id=oid,
        user_principal_name=f"{prefix}{name}@contoso.com",
        deleted=NOW - timedelta(days=days_ago),
        display_name=name.title(),
        **kw,  # type: ignore[arg-type]
    )


def state(users=(), deleted_users=(), assignments=()) -> TenantState:
    """A tenant with the given users, deleted users and (principal id, template id) assignments."""
    return TenantState(
        now=NOW,
        users={u.user_principal_name.lower(): u for u in users},
        deleted=list(deleted_users),
        roles=list(ROLES),
        assignments=[RoleAssignment(f"as-{p}-{r[:8]}", p, r) for p, r in assignments],
    )


ADMIN = user("admin", "00000000-0000-0000-0000-0000000000a1")
ALICE = user("alice", "00000000-0000-0000-0000-0000000000a2", job_title="Engineer")
BOB = user("bob", "00000000-0000-0000-0000-0000000000b1")
SYNCED = user("sam", "00000000-0000-0000-0000-0000000000c1", on_premises_sync_enabled=True)
CAROL_ID = "c0ffee00-0000-4000-8000-000000000001"
