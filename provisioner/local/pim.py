"""PIM for directory roles (graph-pim-baseline P§A0-A3): schedule requests, schedules and instances.

One `pim_schedules` row per eligible or PIM-made active assignment; its id is the id of the request
that made it (P§A0). An active schedule also holds a row in `role_assignments`, so Graph's
`/roleAssignments` lists it; a direct `POST /roleAssignments` assignment has no schedule row and
shows in the active instances and schedules as P§A2.4 says (start null, schedule id = its own id).
Time-bound rows end by the tenant clock: `sweep` deletes what has expired before each request.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from datetime import datetime, timedelta

from .odata import Prop, Query, fetch_page
from .roles import require_definition
from .store import Store, assignment_id, iso
from .users import require_user
from .wire import GraphError, bad_request, not_found

SCHEMA = """
CREATE TABLE IF NOT EXISTS pim_schedules (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,                 -- 'eligible' | 'active'
    role_definition_id TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    directory_scope_id TEXT NOT NULL,
    assignment_id TEXT NOT NULL,        -- the instance id (without '-e' for eligibility)
    start_at TEXT NOT NULL,
    end_at TEXT,                        -- NULL: no expiry
    exp_type TEXT NOT NULL,
    duration TEXT,
    created TEXT NOT NULL,
    modified TEXT,
    UNIQUE (kind, role_definition_id, principal_id, directory_scope_id)
);
CREATE INDEX IF NOT EXISTS pim_by_end ON pim_schedules (end_at) WHERE end_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS pim_by_assignment ON pim_schedules (assignment_id);
CREATE TABLE IF NOT EXISTS pim_requests (id TEXT PRIMARY KEY, kind TEXT NOT NULL, principal_id TEXT NOT NULL,
    role_definition_id TEXT NOT NULL, status TEXT NOT NULL, body TEXT NOT NULL);
-- Views in the shape fetch_page pages: one row per instance or schedule, `id` its Graph id.
CREATE VIEW IF NOT EXISTS pim_active_v1 AS
  SELECT r.id AS id, COALESCE(s.id, r.id) AS schedule_id, s.id AS created_using, r.role_definition_id,
         r.principal_id, r.directory_scope_id, r.app_scope_id, s.start_at, s.end_at, s.exp_type, s.duration,
         s.created AS s_created, r.created AS r_created, s.modified
  FROM role_assignments r LEFT JOIN pim_schedules s ON s.assignment_id = r.id AND s.kind = 'active'
  WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = r.principal_id AND u.deleted IS NULL);
CREATE VIEW IF NOT EXISTS pim_eligible_v1 AS
  SELECT s.assignment_id || '-e' AS id, s.id AS schedule_id, s.id AS created_using, s.role_definition_id,
         s.principal_id, s.directory_scope_id, NULL AS app_scope_id, s.start_at, s.end_at, s.exp_type,
         s.duration, s.created AS s_created, s.created AS r_created, s.modified
  FROM pim_schedules s WHERE s.kind = 'eligible'
  AND EXISTS (SELECT 1 FROM users u WHERE u.id = s.principal_id AND u.deleted IS NULL);
"""
COLUMNS = ("id, schedule_id, created_using, role_definition_id, principal_id, directory_scope_id, app_scope_id,"
           " start_at, end_at, exp_type, duration, s_created, r_created, modified")
NEVER_MODIFIED = "0001-01-01T08:00:00Z"  # Graph's sentinel (P§A1.5)
ACTIONS = {"adminAssign", "adminRemove", "adminExtend", "adminUpdate", "adminRenew"}
SELF_ACTIONS = {"selfActivate", "selfDeactivate", "selfExtend", "selfRenew", "unknownFutureValue"}
LICENCE = "The tenant needs to have Microsoft Entra ID P2 or Microsoft Entra ID Governance license."
EXISTS = "The Role assignment already exists."
MISSING = "The Role assignment does not exist."
REQUEST_FIELDS = {"action", "principalId", "roleDefinitionId", "directoryScopeId", "appScopeId", "justification",
                  "scheduleInfo", "isValidationOnly", "ticketInfo", "customData"}


def _eq(sql: str) -> Prop:
    # PIM collections take `eq` and `ne` without an advanced query (P§A1.5).
    return Prop(sql, "str", frozenset({"eq", "ne", "in"}), frozenset())


COMMON_PROPS: dict[str, Prop] = {
    "id": Prop("id", order="default"),
    "principalId": _eq("principal_id"),
    "roleDefinitionId": _eq("role_definition_id"),
    "directoryScopeId": _eq("directory_scope_id"),
    "appScopeId": _eq("app_scope_id"),
    "memberType": _eq("'Direct'"),
}
SCHEDULE_PROPS = {**COMMON_PROPS, "status": _eq("'Provisioned'")}
ACTIVE_PROPS = {**COMMON_PROPS, "assignmentType": _eq("'Assigned'")}
ACTIVE_SCHEDULE_PROPS = {**SCHEDULE_PROPS, "assignmentType": _eq("'Assigned'")}
REQUEST_PROPS = {"id": Prop("id", order="default"), "principalId": _eq("principal_id"),
                 "roleDefinitionId": _eq("role_definition_id"), "status": _eq("status")}


def ready(store: Store) -> None:
    """Create the PIM tables once per store (a tenant file from before PIM gains them on first use)."""
    if getattr(store, "pim_ready", False):
        return
    with store.write() as db:
        for stmt in SCHEMA.split(";"):
            if stmt.strip():
                db.execute(stmt)
        db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('p2', '1')")
    store.pim_ready = True


def has_p2(db: sqlite3.Connection) -> bool:
    """Whether the tenant holds Entra ID P2 or Governance: the `p2` meta row when `local init --p2/--no-p2`
    set it, else whether one of its SKUs carries the AAD_PREMIUM_P2 plan (`local init --sku`)."""
    from .licenses import CATALOG, enabled_seats

    row = db.execute("SELECT value FROM meta WHERE key = 'p2'").fetchone()
    if row is not None:
        return row[0] != "0"
    return any("AAD_PREMIUM_P2" in CATALOG.get(part, ("", ()))[1] for part in enabled_seats(db))


def set_p2(store: Store, enabled: bool) -> None:
    """Give the tenant Entra ID P2 or take it away."""
    ready(store)
    with store.write() as db:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('p2', ?)", ("1" if enabled else "0",))


def licence_at(path, enabled: bool) -> None:
    """`local init --p2/--no-p2`: set the licence of the tenant file at `path`."""
    store = Store(path)
    try:
        set_p2(store, enabled)
    finally:
        store.close()


def require_p2(store: Store) -> None:
    """Graph's 400 for every PIM call, GETs too, on a tenant without the licence (P§A3)."""
    ready(store)
    with store.read() as db:
        if not has_p2(db):
            raise GraphError(400, "AadPremiumLicenseRequired", LICENCE)


# A PIM-made assignment deleted through `/roleAssignments` takes its schedule with it.
_ORPHANS = ("DELETE FROM pim_schedules WHERE kind = 'active' AND NOT EXISTS"
            " (SELECT 1 FROM role_assignments r WHERE r.id = pim_schedules.assignment_id)")


def sweep(store: Store) -> None:
    """End what expired by the tenant clock: its schedule and, for an active one, its role assignment."""
    ready(store)
    now = iso(store.now())
    with store.read() as db:
        due = db.execute("SELECT 1 FROM pim_schedules WHERE end_at IS NOT NULL AND end_at <= ? LIMIT 1",
                         (now,)).fetchone() or db.execute(_ORPHANS.replace("DELETE", "SELECT 1", 1)).fetchone()
    if not due:
        return
    with store.write() as db:
        db.execute(_ORPHANS)
        db.execute("DELETE FROM role_assignments WHERE id IN (SELECT assignment_id FROM pim_schedules"
                   " WHERE kind = 'active' AND end_at IS NOT NULL AND end_at <= ?)", (now,))
        db.execute("DELETE FROM pim_schedules WHERE end_at IS NOT NULL AND end_at <= ?", (now,))


# -- reads ------------------------------------------------------------------------------------


def _schedule_info(row: dict) -> dict:
    start = row["start_at"] or row["r_created"]
    return {"startDateTime": start, "recurrence": None,
            "expiration": {"type": row["exp_type"] or "noExpiration", "endDateTime": row["end_at"],
                           "duration": row["duration"]}}


def _as_dict(row: tuple) -> dict:
    return dict(zip([c.strip() for c in COLUMNS.split(",")], row, strict=True))


def instance_view(row: dict, kind: str) -> dict:
    item = {"id": row["id"], "principalId": row["principal_id"], "roleDefinitionId": row["role_definition_id"],
            "directoryScopeId": row["directory_scope_id"], "appScopeId": row["app_scope_id"],
            "startDateTime": row["start_at"], "endDateTime": row["end_at"]}
    if kind == "active":
        item.update(assignmentType="Assigned", memberType="Direct", roleAssignmentOriginId=row["id"],
                    roleAssignmentScheduleId=row["schedule_id"])
    else:  # eligible instances carry no assignmentType (P§A1.5)
        item.update(memberType="Direct", roleEligibilityScheduleId=row["schedule_id"])
    return item


def schedule_view(row: dict, kind: str) -> dict:
    item = {"id": row["schedule_id"], "principalId": row["principal_id"],
            "roleDefinitionId": row["role_definition_id"], "directoryScopeId": row["directory_scope_id"],
            "appScopeId": row["app_scope_id"], "createdUsing": row["created_using"],
            "createdDateTime": row["s_created"], "modifiedDateTime": row["modified"] or NEVER_MODIFIED,
            "status": "Provisioned", "memberType": "Direct", "scheduleInfo": _schedule_info(row)}
    if kind == "active":
        item["assignmentType"] = "Assigned"
    return item


def list_rows(store: Store, kind: str, schedules: bool, q: Query) -> tuple[list[dict], list | None, int | None]:
    """One page of instances or schedules of one kind: (items, next position, count)."""
    require_p2(store)
    sweep(store)
    view = "pim_active_v1" if kind == "active" else "pim_eligible_v1"
    # Instances are what is in effect now; a schedule that starts later is listed, not yet its instance.
    condition = "1" if schedules else f"(start_at IS NULL OR start_at <= '{iso(store.now())}')"
    with store.read() as db:
        rows, count = fetch_page(db, view, COLUMNS, condition, q, _props(kind, schedules))
    found = [_as_dict(r) for r in rows[: q.top]]
    items = [schedule_view(r, kind) if schedules else instance_view(r, kind) for r in found]
    position = [found[-1]["id"], found[-1]["id"]] if len(rows) > q.top else None
    return items, position, count


def _props(kind: str, schedules: bool) -> dict[str, Prop]:
    if kind == "active":
        return ACTIVE_SCHEDULE_PROPS if schedules else ACTIVE_PROPS
    return SCHEDULE_PROPS if schedules else COMMON_PROPS


def props_for(kind: str, schedules: bool) -> dict[str, Prop]:
    """The filterable properties of one collection (for the routes' query parsing)."""
    return _props(kind, schedules)


def get_row(store: Store, kind: str, schedules: bool, key: str) -> dict:
    """One instance or schedule by id (404 when absent)."""
    require_p2(store)
    sweep(store)
    view = "pim_active_v1" if kind == "active" else "pim_eligible_v1"
    column = "schedule_id" if schedules else "id"
    with store.read() as db:
        row = db.execute(f"SELECT {COLUMNS} FROM {view} WHERE {column} = ?", (key,)).fetchone()
    if row is None:
        raise not_found(key)
    found = _as_dict(row)
    return schedule_view(found, kind) if schedules else instance_view(found, kind)


def list_requests(store: Store, kind: str, q: Query) -> tuple[list[dict], list | None, int | None]:
    require_p2(store)
    with store.read() as db:
        rows, count = fetch_page(db, "pim_requests", "id, body", f"kind = '{kind}'", q, REQUEST_PROPS)
    items = [json.loads(b) for _, b in rows[: q.top]]
    position = [items[-1]["id"], items[-1]["id"]] if len(rows) > q.top else None
    return items, position, count


def get_request(store: Store, kind: str, key: str) -> dict:
    require_p2(store)
    with store.read() as db:
        row = db.execute("SELECT body FROM pim_requests WHERE id = ? AND kind = ?", (key, kind)).fetchone()
    if row is None:
        raise GraphError(404, "RoleAssignmentRequestNotFound", "The role assignment request is not found")
    return json.loads(row[0])


# -- requests ---------------------------------------------------------------------------------

_DURATION = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", re.I)


def parse_duration(text: str) -> timedelta | None:
    """An ISO 8601 duration (`P30D`, `PT8H`, `P1DT2H`) or None when it is not one."""
    m = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if not m or not any(m.groups()) or text.upper().endswith("T"):
        return None
    w, d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return timedelta(weeks=w, days=d, hours=h, minutes=mi, seconds=s)


def _when(text: object, name: str) -> datetime:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"Invalid value specified for property '{name}'.") from None


def _schedule(body: dict, now: datetime) -> tuple[datetime, datetime | None, str, str | None]:
    """(start, end or None, expiration type, duration) of a request's scheduleInfo; a past start is now."""
    info = body.get("scheduleInfo")
    if info is None:
        info = {}
    if not isinstance(info, dict):
        raise bad_request("Invalid value specified for property 'scheduleInfo'.")
    start = now if info.get("startDateTime") is None else max(now, _when(info["startDateTime"], "startDateTime"))
    exp = info.get("expiration") or {}
    kind = str(exp.get("type") or "noExpiration")
    kind = {k.lower(): k for k in ("notSpecified", "noExpiration", "afterDateTime", "afterDuration")}.get(
        kind.lower(), "")
    if kind == "afterDateTime":
        end = _when(exp.get("endDateTime"), "endDateTime")
        duration = None
    elif kind == "afterDuration":
        span = parse_duration(exp.get("duration"))
        if span is None:
            raise bad_request("Invalid value specified for property 'duration'.")
        end, duration = start + span, exp["duration"]
    elif kind in ("noExpiration", "notSpecified"):
        end, duration, kind = None, None, "noExpiration"
    else:
        raise bad_request("Invalid value specified for property 'type' of resource 'ExpirationPattern'.")
    if end is not None and end <= start:
        raise bad_request("The schedule's end must be after its start.")
    return start, end, kind, duration


def _policy_failures(db: sqlite3.Connection, kind: str, role_id: str, body: dict,
                     start: datetime, end: datetime | None) -> list[str]:
    """The admin rules of the role's policy a request breaks (P§A3, P§A4.4)."""
    from .pim_policy import admin_rules

    expiration, enablement = admin_rules(db, role_id, "Eligibility" if kind == "eligible" else "Assignment")
    failed = []
    if expiration.get("isExpirationRequired"):
        limit = parse_duration(expiration.get("maximumDuration") or "")
        if end is None or (limit is not None and end - start > limit):
            failed.append("ExpirationRule")
    if "Justification" in enablement.get("enabledRules", []) and not body.get("justification"):
        failed.append("JustificationRule")
    return failed


def submit(store: Store, kind: str, body: dict, caller_id: str | None) -> dict:
    """POST roleEligibilityScheduleRequests (kind 'eligible') or roleAssignmentScheduleRequests ('active')."""
    require_p2(store)
    sweep(store)
    resource = "unifiedRoleEligibilityScheduleRequest" if kind == "eligible" else \
        "unifiedRoleAssignmentScheduleRequest"
    for key in body:
        if not key.startswith("@odata.") and key not in REQUEST_FIELDS:
            raise bad_request(f"Invalid property '{key}' of resource '{resource}'.")
    action = str(body.get("action") or "")
    if action in SELF_ACTIONS:
        raise bad_request(f"The local tenant does not sign in as the principal: action '{action}' is not served.")
    if action not in ACTIONS:
        raise bad_request(f"Invalid value specified for property 'action' of resource '{resource}'.")
    for name in ("principalId", "roleDefinitionId"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise bad_request(f"A value is required for property '{name}' of resource '{resource}'.")
    scope = body.get("directoryScopeId")
    if scope is None and body.get("appScopeId") is None:
        raise bad_request("Either directoryScopeId or appScopeId must be specified.")
    if scope != "/":
        raise not_found(str(scope or body.get("appScopeId")))
    now = store.now()
    with store.write() as db:
        role = require_definition(db, body["roleDefinitionId"])["id"]
        principal = require_user(db, body["principalId"])["id"]
        base = assignment_id(role, principal, "/")
        current = db.execute("SELECT id FROM pim_schedules WHERE kind = ? AND role_definition_id = ? AND"
                             " principal_id = ? AND directory_scope_id = '/'", (kind, role, principal)).fetchone()
        direct = kind == "active" and db.execute("SELECT 1 FROM role_assignments WHERE id = ?", (base,)).fetchone()
        rid = str(uuid.uuid4())
        answer = {"id": rid, "status": "Provisioned", "createdDateTime": iso(now), "completedDateTime": iso(now),
                  "approvalId": None, "customData": body.get("customData"), "action": action,
                  "principalId": principal, "roleDefinitionId": role, "directoryScopeId": "/", "appScopeId": None,
                  "isValidationOnly": bool(body.get("isValidationOnly")), "targetScheduleId": rid,
                  "justification": body.get("justification"),
                  "createdBy": {"application": None, "device": None, "user": {"displayName": None,
                                                                              "id": caller_id}},
                  "scheduleInfo": None, "ticketInfo": body.get("ticketInfo") or {"ticketNumber": None,
                                                                                  "ticketSystem": None}}
        if action == "adminRemove":
            if not current and not direct:
                raise GraphError(400, "RoleAssignmentDoesNotExist", MISSING)
            if not answer["isValidationOnly"]:
                _remove(db, kind, role, principal, base)
            answer.update(status="Revoked", completedDateTime=None, targetScheduleId=None, justification=None)
        else:
            start, end, exp_type, duration = _schedule(body, now)
            if action == "adminAssign" and (current or direct):
                raise GraphError(400, "RoleAssignmentExists", EXISTS)
            if action != "adminAssign" and not current:
                raise GraphError(400, "RoleAssignmentDoesNotExist", MISSING)
            failed = _policy_failures(db, kind, role, body, start, end)
            if failed:
                raise GraphError(400, "RoleAssignmentRequestPolicyValidationFailed",
                                 f"The following policy rules failed: {json.dumps(failed)}")
            if start > now:  # accepted, in effect later (P§A1.4)
                answer.update(status="Granted", completedDateTime=iso(start))
            answer["scheduleInfo"] = {"startDateTime": iso(start), "recurrence": None, "expiration": {
                "type": exp_type, "endDateTime": iso(end) if end else None, "duration": duration}}
            if not answer["isValidationOnly"]:
                row = (iso(start), iso(end) if end else None, exp_type, duration)
                if current:  # extend / update / renew keep the schedule and change its end
                    answer["targetScheduleId"] = current[0]
                    db.execute("UPDATE pim_schedules SET start_at = ?, end_at = ?, exp_type = ?, duration = ?,"
                               " modified = ? WHERE id = ?", (*row, iso(now), current[0]))
                else:
                    db.execute("INSERT INTO pim_schedules (id, kind, role_definition_id, principal_id,"
                               " directory_scope_id, assignment_id, start_at, end_at, exp_type, duration, created)"
                               " VALUES (?, ?, ?, ?, '/', ?, ?, ?, ?, ?, ?)",
                               (rid, kind, role, principal, base, *row, iso(now)))
                    if kind == "active":
                        db.execute("INSERT INTO role_assignments (id, role_definition_id, principal_id,"
                                   " directory_scope_id, app_scope_id, created) VALUES (?, ?, ?, '/', NULL, ?)",
                                   (base, role, principal, iso(now)))
                        db.execute("INSERT OR IGNORE INTO instantiated_roles VALUES (?)", (role,))
        if not answer["isValidationOnly"]:
            db.execute("INSERT INTO pim_requests VALUES (?, ?, ?, ?, ?, ?)",
                       (rid, kind, principal, role, answer["status"], json.dumps(answer)))
    return answer


def _remove(db: sqlite3.Connection, kind: str, role: str, principal: str, base: str) -> None:
    db.execute("DELETE FROM pim_schedules WHERE kind = ? AND role_definition_id = ? AND principal_id = ?",
               (kind, role, principal))
    if kind == "active":  # PIM removes a direct assignment as well as its own (P§A2.4's kinds)
        db.execute("DELETE FROM role_assignments WHERE id = ?", (base,))

