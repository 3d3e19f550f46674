"""Unified RBAC for the directory: built-in role definitions and role assignments."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import replace

from .odata import FilterParser, Prop, Query, comparisons, fetch_page, project
from .store import Store, assignment_id, fold_id, iso
from .users import DEFAULT_PROPS, find_user, require_user
from .wire import GraphError, bad_request, not_found, unknown_property

DEFINITION_PROPS: dict[str, Prop] = {
    "id": Prop("id", "guid"),
    "templateId": Prop("template_id", "guid"),
    "displayName": Prop("display_name", ops=frozenset({"eq", "in", "startswith"}), order="default"),
    "isBuiltIn": Prop("is_builtin", "bool"),
    "isEnabled": Prop("json_extract(body, '$.isEnabled')", "bool"),
}
DEFINITION_FIELDS = (
    "id",
    "description",
    "displayName",
    "isBuiltIn",
    "isEnabled",
    "resourceScopes",
    "templateId",
    "version",
    "rolePermissions",
)
ASSIGNMENT_PROPS: dict[str, Prop] = {
    "id": Prop("id", order="default"),
    "principalId": Prop("principal_id", "guid"),
    "roleDefinitionId": Prop("role_definition_id", "guid"),
    "directoryScopeId": Prop("directory_scope_id"),
    "appScopeId": Prop("app_scope_id"),
}
ASSIGNMENT_FIELDS = ("id", "principalId", "directoryScopeId", "appScopeId", "roleDefinitionId")
EXPANDABLE = {"principal", "roleDefinition"}
CONFLICT = (
    "A conflicting object with one or more of the specified property values is present in the directory."
)
# A soft-deleted principal keeps its assignments, but they are not listed until it is restored.
_ACTIVE_PRINCIPAL = (
    "EXISTS (SELECT 1 FROM users u WHERE u.id = role_assignments.principal_id AND u.deleted IS NULL)"
)
_DELETED_PRINCIPAL = (
    "EXISTS (SELECT 1 FROM users u WHERE u.id = role_assignments.principal_id AND u.deleted IS NOT NULL)"
)
MIN_PAGE_SIZE = 20


def refuse_top(top: str | None) -> None:
    """roleDefinitions takes no `$top` (graph-quirks §1, observed): below 20 Graph says a minimum
    page size applies, and at 20 or above it refuses the query all the same."""
    if top is None:
        return
    if re.fullmatch(r"\s*\d+\s*", top) and int(top) >= MIN_PAGE_SIZE:
        raise GraphError(400, "Request_UnsupportedQuery", "Invalid/unsupported query request")
    raise GraphError(400, "Request_UnsupportedQuery",
                     f"This resource requires a minimum page size of {MIN_PAGE_SIZE}.")


def list_definitions(store: Store, q: Query) -> tuple[list[dict], list | None]:
    """One page of role definitions: (definitions, next keyset position or None)."""
    with store.read() as db:
        rows, _ = fetch_page(db, "role_definitions", "body", "1", q, DEFINITION_PROPS)
    defs = [json.loads(r[0]) for r in rows[: q.top]]
    position = [defs[-1]["displayName"], defs[-1]["id"]] if len(rows) > q.top else None
    return defs, position


def find_definition(db: sqlite3.Connection, key: str) -> dict | None:
    """A role definition by id or template id."""
    key = fold_id(key)
    row = db.execute("SELECT body FROM role_definitions WHERE id = ? OR template_id = ?", (key, key)).fetchone()
    return json.loads(row[0]) if row else None


def definition_id(db: sqlite3.Connection, key: str) -> str | None:
    """The id of a role definition named by id or template id, without reading its body (a built-in
    role's permissions run to hundreds of actions: parsing them costs more than the write it checks)."""
    key = fold_id(key)
    row = db.execute("SELECT id FROM role_definitions WHERE id = ? OR template_id = ?", (key, key)).fetchone()
    return row[0] if row else None


def require_definition_id(db: sqlite3.Connection, key: str) -> str:
    """``definition_id``, answering Graph's 404 when there is no such role."""
    found = definition_id(db, key)
    if found is None:
        raise not_found(key)
    return found


def require_definition(db: sqlite3.Connection, key: str) -> dict:
    """``find_definition``, answering Graph's 404 when there is no such role."""
    found = find_definition(db, key)
    if found is None:
        raise not_found(key)
    return found


def get_definition(store: Store, key: str) -> dict:
    """GET /roleManagement/directory/roleDefinitions/{id}."""
    with store.read() as db:
        return require_definition(db, key)


def definition_view(definition: dict, select: list[str] | None) -> dict:
    """The JSON Graph returns for a role definition (optionally `$select`ed)."""
    return project(definition, select, DEFINITION_FIELDS)


def create_assignment(store: Store, body: dict) -> dict:
    """POST /roleManagement/directory/roleAssignments."""
    for key in body:
        if not key.startswith("@odata.") and key not in (
            "roleDefinitionId",
            "principalId",
            "directoryScopeId",
            "appScopeId",
            "condition",
        ):
            raise unknown_property(key, "unifiedRoleAssignment")
    role_id, principal_id = body.get("roleDefinitionId"), body.get("principalId")
    scope, app_scope = body.get("directoryScopeId"), body.get("appScopeId")
    for name, value in (("roleDefinitionId", role_id), ("principalId", principal_id)):
        if not isinstance(value, str) or not value:
            raise bad_request(
                f"A value is required for property '{name}' of resource 'UnifiedRoleAssignment'."
            )
    if scope is None and app_scope is None:
        raise bad_request("Either directoryScopeId or appScopeId must be specified.")
    for name, value in (("directoryScopeId", scope), ("appScopeId", app_scope)):
        if value is not None and not isinstance(value, str):
            raise bad_request(
                f"Invalid value specified for property '{name}' of resource 'UnifiedRoleAssignment'."
            )
    if scope is not None and scope != "/":
        # The local tenant holds no administrative units or applications to scope to.
        raise not_found(scope.rsplit("/", 1)[-1] or scope)
    with store.write() as db:
        role_definition_id = require_definition_id(db, role_id)
        principal_id = require_user(db, principal_id)["id"]
        aid = assignment_id(
            role_definition_id, principal_id, scope if scope is not None else f"app:{app_scope}"
        )
        try:
            db.execute(
                "INSERT INTO role_assignments (id, role_definition_id, principal_id, directory_scope_id,"
                " app_scope_id, created) VALUES (?, ?, ?, ?, ?, ?)",
                (aid, role_definition_id, principal_id, scope, app_scope, iso(store.now())),
            )
        except sqlite3.IntegrityError as exc:
            raise bad_request(CONFLICT) from exc
        # The first assignment instantiates a built-in role, as the portal's activation does.
        db.execute("INSERT OR IGNORE INTO instantiated_roles VALUES (?)", (role_definition_id,))
    return _row((aid, role_definition_id, principal_id, scope, app_scope))


def _row(row: tuple) -> dict:
    aid, role_id, principal_id, scope, app_scope = row
    return {
        "id": aid,
        "principalId": principal_id,
        "directoryScopeId": scope,
        "appScopeId": app_scope,
        "roleDefinitionId": role_id,
    }


_COLUMNS = "id, role_definition_id, principal_id, directory_scope_id, app_scope_id"


def _filtered_roles(flt: str | None) -> list[str]:
    """The role ids a `$filter` names with `roleDefinitionId eq '...'`."""
    if not flt:
        return []
    return [node[3] for node in comparisons(FilterParser(flt).parse())
            if node[:2] == ("cmp", "eq") and node[2].lower() == "roledefinitionid" and isinstance(node[3], str)]


def check_listable(db: sqlite3.Connection, q: Query, flt: str | None) -> None:
    """Graph's 404s on a filtered assignments listing (graph-quirks §2, observed): for a role that
    is not a role definition of the tenant, or a built-in role it never instantiated; and, with
    `$expand=principal`, for the whole listing when a matching assignment's principal is deleted."""
    for role in _filtered_roles(flt):
        definition = find_definition(db, role)
        if definition is None or not db.execute(
            "SELECT 1 FROM instantiated_roles WHERE role_definition_id = ?", (definition["id"],)
        ).fetchone():
            raise not_found(role)
    if "principal" in q.expand:
        rows, _ = fetch_page(db, "role_assignments", "principal_id", _DELETED_PRINCIPAL,
                             replace(q, top=0, skiptoken=None, count=False), ASSIGNMENT_PROPS)
        if rows:
            raise not_found(rows[0][0])


def list_assignments(store: Store, q: Query, flt: str | None = None) -> tuple[list[dict], list | None, int | None]:
    """One page of assignments of active principals: (assignments, next position, count)."""
    with store.read() as db:
        check_listable(db, q, flt)
        rows, count = fetch_page(db, "role_assignments", _COLUMNS, _ACTIVE_PRINCIPAL, q, ASSIGNMENT_PROPS)
        items = [_row(r) for r in rows[: q.top]]
        if q.expand:
            expand(db, items, q.expand)
    position = [items[-1]["id"], items[-1]["id"]] if len(rows) > q.top else None
    return items, position, count


def get_assignment(store: Store, key: str, expands: list[str]) -> dict:
    """GET /roleManagement/directory/roleAssignments/{id}."""
    with store.read() as db:
        row = db.execute(
            f"SELECT {_COLUMNS} FROM role_assignments WHERE id = ? AND {_ACTIVE_PRINCIPAL}", (key,)
        ).fetchone()
        if row is None:
            raise not_found(key)
        item = _row(row)
        if expands:
            expand(db, [item], expands)
    return item


def delete_assignment(store: Store, key: str) -> None:
    """DELETE /roleManagement/directory/roleAssignments/{id}. Graph does not protect the last
    Global Administrator here, so neither does the local tenant."""
    with store.write() as db:
        deleted = db.execute(
            f"DELETE FROM role_assignments WHERE id = ? AND {_ACTIVE_PRINCIPAL}", (key,)
        ).rowcount
    if not deleted:
        raise not_found(key)


def check_expand(expands: list[str]) -> None:
    """Reject navigation properties unitedRoleAssignment doesn't have."""
    for name in expands:
        if name not in EXPANDABLE:
            raise bad_request(
                "Parsing OData Select and Expand failed: Could not find a property named "
                f"'{name}' on type 'microsoft.graph.unifiedRoleAssignment'."
            )


def expand(db: sqlite3.Connection, items: list[dict], expands: list[str]) -> None:
    """Fill `principal` (with @odata.type) and/or `roleDefinition` on each assignment."""
    for item in items:
        if "principal" in expands:
            user = find_user(db, item["principalId"])
            item["principal"] = (
                {"@odata.type": "#microsoft.graph.user", **project(user, None, DEFAULT_PROPS)}
                if user
                else None
            )
        if "roleDefinition" in expands:
            definition = find_definition(db, item["roleDefinitionId"])
            item["roleDefinition"] = project(definition, None, DEFINITION_FIELDS) if definition else None


def assignment_view(item: dict, select: list[str] | None, expands: list[str]) -> dict:
    """The JSON Graph returns for an assignment; appScopeId is omitted when unset, as in Graph's examples."""
    view = project(item, select, ASSIGNMENT_FIELDS)
    if select is None and view.get("appScopeId") is None:
        view.pop("appScopeId", None)
    for name in expands:
        view[name] = item.get(name)
    return view
