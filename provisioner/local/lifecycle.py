"""Joiner / mover / leaver semantics of the local tenant: PATCH checks beyond the types (Entra's
lengths and formats, L§1.2 / L§8.1), sign-in session revocation (L§3.2) and the manager link
(L§5). The user itself is stored and typed by `users` and `user_checks`.

The manager is kept in the user's stored properties under `_manager` (never projected: it is not
a declared property, so `$select` cannot name it); a link to a user that is no longer active
reads as no manager.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime

from . import users
from .store import USER_COLUMNS, Store, fold_id, iso, row_user
from .wire import GraphError, bad_request, not_found

MANAGER_KEY = "_manager"
# Entra's length limits for the text properties (user resource page; L§1.2, L§8.1).
MAX_LENGTH = {
    "displayName": 256,
    "givenName": 64,
    "surname": 64,
    "jobTitle": 128,
    "department": 64,
    "companyName": 64,
    "officeLocation": 128,
    "streetAddress": 1024,
    "city": 128,
    "state": 128,
    "postalCode": 40,
    "country": 128,
    "mobilePhone": 64,
    "employeeId": 16,
    "mailNickname": 64,
    "faxNumber": 64,
}
DATES = ("employeeHireDate", "employeeLeaveDateTime")
# Edm.DateTimeOffset: a date alone is not one.
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})")
_CULTURE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")
AGE_GROUPS = ("Minor", "NotAdult", "Adult")
ORG_DATA = ("costCenter", "division")
NO_MANAGER = "Resource 'manager' does not exist or one of its queried reference-property objects are not present."
_REF = re.compile(r"/(?:users|directoryObjects)/([^/?]+)(?:/[A-Za-z.]+)?$")


def invalid_value(name: str) -> GraphError:
    return bad_request(f"Invalid value specified for property '{name}' of resource 'User'.")


def check_formats(body: dict) -> None:
    """What Entra checks beyond the JSON types: lengths, dates, culture names, the UPN's lengths
    (≤ 64 before the @ is the character rule's; ≤ 48 after it, ≤ 113 in all)."""
    for key, limit in MAX_LENGTH.items():
        value = body.get(key)
        if isinstance(value, str) and len(value) > limit:
            raise invalid_value(key)
    phones = body.get("businessPhones")
    if isinstance(phones, list) and any(isinstance(p, str) and len(p) > 64 for p in phones):
        raise invalid_value("businessPhones")
    for key in DATES:
        value = body.get(key)
        if value is not None and not (isinstance(value, str) and _date(value)):
            raise invalid_value(key)
    language = body.get("preferredLanguage")
    if isinstance(language, str) and not _CULTURE.fullmatch(language):
        raise invalid_value("preferredLanguage")
    age = body.get("ageGroup")
    if age is not None and age not in AGE_GROUPS:
        raise invalid_value("ageGroup")
    org = body.get("employeeOrgData")
    if org is not None and (set(org) - set(ORG_DATA) or not all(v is None or isinstance(v, str)
                                                              for v in org.values())):
        raise invalid_value("employeeOrgData")
    upn = body.get("userPrincipalName")
    if isinstance(upn, str) and "@" in upn:
        domain = upn.rsplit("@", 1)[1]
        if len(domain) > 48 or len(upn) > 113:
            raise bad_request("Property userPrincipalName is invalid.")


def _date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def update_user(store: Store, key: str, body: dict) -> None:
    """PATCH /users/{id | userPrincipalName}: Entra's formats, then the stored update (types,
    read-only and synced properties, UPN rules and conflicts: `users.update_user`)."""
    check_formats(body)
    users.update_user(store, key, body)


# -- sessions ----------------------------------------------------------------------------------


def revoke_sessions(store: Store, key: str) -> None:
    """POST /users/{id}/revokeSignInSessions: every refresh token and session cookie issued before
    now stops working (`signInSessionsValidFromDateTime` moves to now)."""
    with store.write() as db:
        user = users.require_user(db, key)
        _set_props(db, user["id"], {"signInSessionsValidFromDateTime": iso(store.now())})


def _set_props(db: sqlite3.Connection, uid: str, values: dict) -> None:
    # Only `props` (JSON) changes: no column, so no UPN or mail rule applies.
    for name, value in values.items():
        if value is None:
            db.execute("UPDATE users SET props = json_remove(props, ?) WHERE id = ?", (f"$.{name}", uid))
        else:
            db.execute("UPDATE users SET props = json_set(props, ?, ?) WHERE id = ?", (f"$.{name}", value, uid))


# -- manager -----------------------------------------------------------------------------------


def _active_by_id(db: sqlite3.Connection, uid: str | None) -> dict | None:
    if not uid:
        return None
    row = db.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = ? AND deleted IS NULL", (uid,)).fetchone()
    return row_user(row) if row else None


def get_manager(store: Store, key: str) -> dict:
    """GET /users/{id}/manager: the manager, or 404 naming 'manager' when there is none."""
    with store.read() as db:
        user = users.require_user(db, key)
        manager = _active_by_id(db, user.get(MANAGER_KEY))
    if manager is None:
        raise GraphError(404, "Request_ResourceNotFound", NO_MANAGER)
    return manager


def set_manager(store: Store, key: str, body: dict) -> None:
    """PUT /users/{id}/manager/$ref with `{"@odata.id": ".../users/{managerId}"}` (a new PUT
    replaces the manager: the link is single-valued)."""
    ref = body.get("@odata.id")
    found = _REF.search(ref) if isinstance(ref, str) else None
    if found is None:
        raise bad_request("Invalid object identifier '@odata.id'. A reference to a directory object is expected, "
                          "like https://graph.microsoft.com/v1.0/users/{id}.")
    manager_key = found.group(1)
    with store.write() as db:
        user = users.require_user(db, key)
        manager = users.find_user(db, manager_key)
        if manager is None:
            raise not_found(manager_key)
        if manager["id"] == user["id"]:
            raise bad_request("A user cannot be its own manager.")
        if user["onPremisesSyncEnabled"]:
            raise bad_request(users.SYNCED_UPDATE_ERROR)
        _set_props(db, user["id"], {MANAGER_KEY: manager["id"]})


def remove_manager(store: Store, key: str) -> None:
    """DELETE /users/{id}/manager/$ref: 204, or 404 when no manager is set."""
    with store.write() as db:
        user = users.require_user(db, key)
        if _active_by_id(db, user.get(MANAGER_KEY)) is None:
            raise GraphError(404, "Request_ResourceNotFound", NO_MANAGER)
        if user["onPremisesSyncEnabled"]:
            raise bad_request(users.SYNCED_UPDATE_ERROR)
        _set_props(db, user["id"], {MANAGER_KEY: None})


def direct_reports(store: Store, key: str) -> list[dict]:
    """GET /users/{id}/directReports: the active users whose manager this user is."""
    with store.read() as db:
        user = users.require_user(db, key)
        rows = db.execute(
            f"SELECT {USER_COLUMNS} FROM users WHERE deleted IS NULL AND json_extract(props, ?) = ?"
            " ORDER BY upn",
            (f"$.{MANAGER_KEY}", fold_id(user["id"])),
        ).fetchall()
    return [row_user(r) for r in rows]
