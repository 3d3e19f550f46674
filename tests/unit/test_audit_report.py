"""The audit report on plain data: thresholds, visible assignments of deleted users, ordering and
escaping in every format."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from provisioner.audit import Drift, Severity, audit, plan_summary, render
from provisioner.changes import Action, Change
from provisioner.model import DeletedUser, RoleAssignment, RoleDefinition, TenantState, User

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
GLOBAL = "62e90394-69f5-4237-9190-012177145e10"
BILLING = "b0f54661-2d74-4c50-afa3-1ec803f12efe"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
SECURITY_ADMIN = "194ae4cb-b126-40b2-bd5b-6091b380977d"
ROLES = [
    RoleDefinition(GLOBAL, "Global Administrator", GLOBAL),
    RoleDefinition(BILLING, "Billing Administrator", BILLING),
    RoleDefinition(USER_ADMIN, "User Administrator", USER_ADMIN),
    RoleDefinition(SECURITY_ADMIN, "Security Administrator", SECURITY_ADMIN),
]
WEEK = timedelta(days=7)


def user(name: str, *, enabled: bool = True, synced: bool = False, display: str = "") -> User:
    return User(id=f"id-{name}", user_principal_name=f"{name}@contoso.com", display_name=display or name.title(),
                account_enabled=enabled, on_premises_sync_enabled=synced, created=NOW - timedelta(days=100))


def state(users: list[User], held: list[tuple[str, str]], deleted: list[DeletedUser] = ()) -> TenantState:
    return TenantState(
        now=NOW,
        users={u.user_principal_name.lower(): u for u in users},
        deleted=list(deleted),
        roles=ROLES,
        assignments=[RoleAssignment(f"a{i}", principal, role) for i, (principal, role) in enumerate(held)],
    )


def codes(s: TenantState, **kwargs) -> list[tuple[str, str, str | None]]:
    options = {"protected": (), "expiring_within": WEEK, "all_roles": False, **kwargs}
    return [(f.code, f.severity.value, f.user_principal_name) for f in audit(s, **options).findings]


def admins(n: int, **kwargs) -> list[User]:
    return [user(f"ga{i}", **kwargs) for i in range(n)]


def test_global_admin_thresholds():
    for n, expected in [
        (0, [("globalAdmins.none", "error", None)]),
        (1, [("globalAdmins.single", "warning", None)]),
        (2, []),
        (4, []),
        (5, [("globalAdmins.tooMany", "warning", None)]),
    ]:
        people = admins(n)
        assert codes(state(people, [(u.id, GLOBAL) for u in people])) == expected, n


def test_disabled_global_admins_are_not_a_spare_but_count_towards_five():
    people = [user("on"), user("off", enabled=False)]
    s = state(people, [(u.id, GLOBAL) for u in people])
    assert codes(s) == [("globalAdmins.single", "warning", None), ("admin.disabled", "warning", "off@contoso.com")]
    many = [*admins(4), user("off", enabled=False)]
    assert codes(state(many, [(u.id, GLOBAL) for u in many]))[0] == ("globalAdmins.tooMany", "warning", None)


def test_synced_holders_of_privileged_roles_only():
    people = [*admins(2), user("s1", synced=True), user("s2", synced=True), user("s3", synced=True)]
    held = [(u.id, GLOBAL) for u in people[:2]] + [("id-s1", USER_ADMIN), ("id-s2", BILLING), ("id-s3", SECURITY_ADMIN)]
    assert codes(state(people, held)) == [
        ("admin.synced", "warning", "s1@contoso.com"),
        ("admin.synced", "warning", "s3@contoso.com"),
    ]


def test_deleted_user_with_visible_assignments_held_roles():
    gone = DeletedUser("id-gone", "idgonegone@contoso.com", NOW - timedelta(days=2), "Gone")
    people = admins(2)
    s = state(people, [(u.id, GLOBAL) for u in people] + [("id-gone", USER_ADMIN)], [gone])
    report = audit(s, protected=(), expiring_within=WEEK, all_roles=False)
    assert [(f.code, f.severity) for f in report.findings] == [("deleted.heldRoles", Severity.WARNING)]
    f = report.findings[0]
    assert f.evidence == (
        "idgonegone@contoso.com: deleted 2025-05-30, purged 2025-06-29 (28 days left); held User Administrator"
    )
    assert f.fix == ("Restoring it restores these roles: review them before any restore, or purge it: "
                     "provisioner users purge id-gone")
    holder = [h for h in report.holders if h.principal_id == "id-gone"][0]
    assert holder.to_json()["principalType"] == "deletedUser"


def test_deleted_user_without_visible_assignments_is_not_said_to_hold_roles():
    gone = DeletedUser("id-gone", "gone@contoso.com", NOW - timedelta(days=2))
    people = admins(2)
    report = audit(state(people, [(u.id, GLOBAL) for u in people], [gone]), protected=(), expiring_within=WEEK,
                   all_roles=False)
    assert report.findings == ()
    assert len(report.notes) == 1


def test_expiring_window_boundaries_and_expired_users_are_left_out():
    soon = DeletedUser("id-soon", "soon@contoso.com", NOW - timedelta(days=23))  # expires in exactly 7 days
    later = DeletedUser("id-later", "later@contoso.com", NOW - timedelta(days=22, hours=23))
    past = DeletedUser("id-past", "past@contoso.com", NOW - timedelta(days=31))
    people = admins(2)
    s = state(people, [(u.id, GLOBAL) for u in people], [soon, later, past])
    assert codes(s) == [("deleted.expiring", "info", "soon@contoso.com")]
    assert audit(s, protected=(), expiring_within=WEEK, all_roles=False).deleted_users == 2


def test_protected_accounts():
    gone = DeletedUser("id-gone", "gone@contoso.com", NOW - timedelta(days=1))
    people = [*admins(2), user("off", enabled=False)]
    s = state(people, [(u.id, GLOBAL) for u in people[:2]], [gone])
    protected = [" GA0@contoso.com", "off@contoso.com", "gone@contoso.com", "ghost@contoso.com", ""]
    assert codes(s, protected=protected) == [
        ("protected.missing", "error", "ghost@contoso.com"),
        ("protected.deleted", "error", "gone@contoso.com"),
        ("protected.disabled", "warning", "off@contoso.com"),
    ]


def test_holders_and_all_roles():
    people = [*admins(2), user("sec")]
    held = [(u.id, GLOBAL) for u in people[:2]] + [("id-sec", SECURITY_ADMIN), ("group-1", BILLING)]
    s = state(people, held)
    classic = audit(s, protected=(), expiring_within=WEEK, all_roles=False)
    assert [(h.role.name, h.upn, h.principal_type) for h in classic.holders] == [
        ("Global Administrator", "ga0@contoso.com", "user"),
        ("Global Administrator", "ga1@contoso.com", "user"),
        ("Billing Administrator", None, "other"),
    ]
    # Roles the tenant did not list still appear, by the catalog's names.
    assert [r.name for r in classic.roles] == ["Global Administrator", "Billing Administrator",
                                               "Helpdesk Administrator", "Service Support Administrator",
                                               "User Administrator"]
    every = audit(s, protected=(), expiring_within=WEEK, all_roles=True)
    assert [r.name for r in every.roles][-1] == "Security Administrator"
    assert ("Security Administrator", "sec@contoso.com") in [(h.role.name, h.upn) for h in every.holders]


def test_drift_is_a_warning_only_when_there_are_changes():
    people = admins(2)
    s = state(people, [(u.id, GLOBAL) for u in people])
    changes = (
        Change(Action.CREATE, "new@contoso.com", reason="in the manifest, not in the tenant"),
        Change(Action.ASSIGN, "new@contoso.com", role_id=BILLING, role_name="Billing Administrator"),
        Change(Action.DELETE, "old@contoso.com", "id-old"),
    )
    report = audit(s, protected=(), expiring_within=WEEK, all_roles=False, drift=Drift("m.toml", changes))
    assert [(f.code, f.evidence) for f in report.findings] == [
        ("drift", "m.toml: Plan: 1 to create, 1 role assignment to add, 1 to delete."),
    ]
    quiet = audit(s, protected=(), expiring_within=WEEK, all_roles=False, drift=Drift("m.toml", ()))
    assert quiet.findings == ()
    assert plan_summary(()) == "No changes. The tenant matches the manifest."


def test_findings_are_ordered_by_severity_then_code_then_user():
    gone = DeletedUser("id-z", "z@contoso.com", NOW - timedelta(days=29))
    people = [user("b", enabled=False), user("a", enabled=False)]
    s = state(people, [("id-b", BILLING), ("id-a", BILLING)], [gone])
    assert codes(s, protected=["ghost@contoso.com"]) == [
        ("globalAdmins.none", "error", None),
        ("protected.missing", "error", "ghost@contoso.com"),
        ("admin.disabled", "warning", "a@contoso.com"),
        ("admin.disabled", "warning", "b@contoso.com"),
        ("deleted.expiring", "info", "z@contoso.com"),
    ]
    report = audit(s, protected=["ghost@contoso.com"], expiring_within=WEEK, all_roles=False)
    assert [f.code for f in report.reaches(Severity.ERROR)] == ["globalAdmins.none", "protected.missing"]
    assert len(report.reaches(Severity.WARNING)) == 4


def test_rendering_escapes_markup_in_every_format():
    evil = user("evil", enabled=False, display='<img src=x onerror=alert(1)> | "pipe"')
    people = [*admins(2), evil]
    s = state(people, [(u.id, GLOBAL) for u in people[:2]] + [("id-evil", BILLING)])
    report = audit(s, protected=(), expiring_within=WEEK, all_roles=False, tenant="<prod>")
    page = render(report, "html")
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt; | &quot;pipe&quot;" in page
    assert "<title>Admin audit of &lt;prod&gt;</title>" in page
    assert "<link" not in page and "src=" not in page.replace("&lt;img src=x", "")
    md = render(report, "markdown")
    assert r'&lt;img src=x onerror=alert(1)&gt; \| "pipe"' in md and "<img" not in md
    assert json.loads(render(report, "json"))["holders"][2]["displayName"] == '<img src=x onerror=alert(1)> | "pipe"'
    assert "<prod>" in render(report, "table").splitlines()[0]


def test_empty_sections_render():
    report = audit(state([], []), protected=(), expiring_within=WEEK, all_roles=False)
    assert "(none)" in render(report, "table")
    assert "_None._" in render(report, "markdown")
    assert '<p id="holders" class="none">None.</p>' in render(report, "html")
