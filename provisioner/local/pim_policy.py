"""PIM role settings (graph-pim-baseline P§A4): one policy of 17 rules per directory role.

A new tenant's rules are Microsoft's sample values (`pim_rules.json`: approval off, empty
recipients), so an untouched local tenant fails SCuBA 7.6-7.9 as a real one does. Only rules a
client PATCHed are stored (`pim_rule_changes`); the rest come from the file.
"""

from __future__ import annotations

import copy
import json
import re
import sqlite3
import uuid
from functools import cache
from importlib import resources

from .odata import FilterParser
from .roles import find_definition
from .store import Store, iso
from .wire import bad_request, not_found

_TABLE = ("CREATE TABLE IF NOT EXISTS pim_rule_changes (policy_id TEXT NOT NULL, rule_id TEXT NOT NULL,"
          " body TEXT NOT NULL, modified TEXT NOT NULL, PRIMARY KEY (policy_id, rule_id))")
SCOPE_TYPES = {"directoryrole": "DirectoryRole", "directory": "Directory"}
NEEDS_SCOPE = "The filter must name scopeId eq '/' and scopeType eq 'DirectoryRole' (or 'Directory')."


@cache
def default_rules() -> tuple[dict, ...]:
    text = resources.files(__package__).joinpath("pim_rules.json").read_text(encoding="utf-8")
    return tuple(json.loads(text)["rules"])


def _ready(db: sqlite3.Connection) -> None:
    db.execute(_TABLE)


def _tenant(db: sqlite3.Connection) -> str:
    return db.execute("SELECT value FROM meta WHERE key = 'tenant_id'").fetchone()[0]


def policy_id(db: sqlite3.Connection, role_id: str, prefix: str = "DirectoryRole") -> str:
    """`DirectoryRole_{tenant}_{guid}` (P§A4.1); the second GUID is stable per role and tenant."""
    tenant = _tenant(db)
    return f"{prefix}_{tenant}_{uuid.uuid5(uuid.UUID(tenant), role_id)}"


def _role_of(db: sqlite3.Connection, pid: str) -> str | None:
    """The role a policy id belongs to (any prefix), or None: a role definition id is not a policy id."""
    m = re.fullmatch(r"(DirectoryRole|Directory)_([0-9a-f-]{36})_([0-9a-f-]{36})", pid)
    if not m or m.group(2) != _tenant(db):
        return None
    for (role_id,) in db.execute("SELECT id FROM role_definitions"):
        if str(uuid.uuid5(uuid.UUID(m.group(2)), role_id)) == m.group(3):
            return role_id
    return None


def rules(db: sqlite3.Connection, role_id: str) -> list[dict]:
    """The role's 17 rules as Graph lists them, changes applied."""
    _ready(db)
    pid = policy_id(db, role_id)
    changed = {r: json.loads(b) for r, b in db.execute(
        "SELECT rule_id, body FROM pim_rule_changes WHERE policy_id = ?", (pid,))}
    return [changed.get(rule["id"], copy.deepcopy(rule)) for rule in default_rules()]


def admin_rules(db: sqlite3.Connection, role_id: str, level: str) -> tuple[dict, dict]:
    """(expiration rule, enablement rule) an admin request of `level` (Eligibility | Assignment) meets.

    Only those two are read (every PIM request checks them): copying all 17 cost more than the write."""
    _ready(db)
    wanted = (f"Expiration_Admin_{level}", f"Enablement_Admin_{level}")
    changed = {r: json.loads(b) for r, b in db.execute(
        "SELECT rule_id, body FROM pim_rule_changes WHERE policy_id = ? AND rule_id IN (?, ?)",
        (policy_id(db, role_id), *wanted))}
    defaults = {rule["id"]: rule for rule in default_rules() if rule["id"] in wanted}
    expiration, enablement = (changed[w] if w in changed else copy.deepcopy(defaults[w]) for w in wanted)
    return expiration, enablement


def policy(db: sqlite3.Connection, role_id: str, prefix: str = "DirectoryRole", with_rules: bool = False) -> dict:
    _ready(db)
    pid = policy_id(db, role_id, prefix)
    last = db.execute("SELECT MAX(modified) FROM pim_rule_changes WHERE policy_id = ?",
                      (policy_id(db, role_id),)).fetchone()[0]
    body = {"id": pid, "displayName": prefix, "description": prefix, "isOrganizationDefault": False,
            "scopeId": "/", "scopeType": prefix, "lastModifiedDateTime": last,
            "lastModifiedBy": {"displayName": None, "id": None}}
    if with_rules:
        body["rules"] = rules(db, role_id)
    return body


def _filter_terms(text: str | None) -> dict[str, str]:
    """`scopeId`, `scopeType`, `roleDefinitionId` from an `and` of `eq`s; anything else is refused."""
    terms: dict[str, str] = {}

    def walk(node) -> None:
        if node[0] == "and":
            walk(node[1])
            walk(node[2])
        elif node[:2] == ("cmp", "eq") and isinstance(node[3], str):
            terms[node[2].lower()] = node[3]
        else:
            raise bad_request(NEEDS_SCOPE)

    if text:
        walk(FilterParser(text).parse())
    return terms


def _scoped(db: sqlite3.Connection, flt: str | None) -> tuple[str, list[str]]:
    """(id prefix, role ids) a policy listing's required filter names (P§A4.1)."""
    terms = _filter_terms(flt)
    prefix = SCOPE_TYPES.get(terms.get("scopetype", "").lower())
    if terms.get("scopeid") != "/" or prefix is None:
        raise bad_request(NEEDS_SCOPE)
    if "roledefinitionid" in terms:
        found = find_definition(db, terms["roledefinitionid"])
        return prefix, [found["id"]] if found else []
    return prefix, [r for (r,) in db.execute("SELECT id FROM role_definitions ORDER BY id")]


def list_policy_assignments(store: Store, flt: str | None, expand_policy: bool, with_rules: bool) -> list[dict]:
    """GET /policies/roleManagementPolicyAssignments?$filter=scopeId eq '/' and scopeType eq '...'."""
    with store.write() as db:
        prefix, role_ids = _scoped(db, flt)
        items = []
        for role_id in role_ids:
            pid = policy_id(db, role_id, prefix)
            item = {"id": f"{pid}_{role_id}", "policyId": pid, "scopeId": "/", "scopeType": prefix,
                    "roleDefinitionId": role_id}
            if expand_policy:
                item["policy"] = policy(db, role_id, prefix, with_rules)
            items.append(item)
    return items


def list_policies(store: Store, flt: str | None, with_rules: bool) -> list[dict]:
    """GET /policies/roleManagementPolicies?$filter=scopeId eq '/' and scopeType eq '...'."""
    with store.write() as db:
        prefix, role_ids = _scoped(db, flt)
        return [policy(db, r, prefix, with_rules) for r in role_ids]


def _require_role(db: sqlite3.Connection, pid: str) -> str:
    role_id = _role_of(db, pid)
    if role_id is None:
        raise not_found(pid)
    return role_id


def get_policy(store: Store, pid: str, with_rules: bool) -> dict:
    with store.write() as db:
        role_id = _require_role(db, pid)
        found = policy(db, role_id, pid.split("_", 1)[0], with_rules)
    return found


def list_rules(store: Store, pid: str) -> list[dict]:
    """GET /policies/roleManagementPolicies/{policyId}/rules (200, P§A4.2)."""
    with store.write() as db:
        return rules(db, _require_role(db, pid))


def get_rule(store: Store, pid: str, rule_id: str) -> dict:
    for rule in list_rules(store, pid):
        if rule["id"] == rule_id:
            return rule
    raise not_found(rule_id)


def patch_rule(store: Store, pid: str, rule_id: str, body: object) -> None:
    """PATCH .../rules/{ruleId}: 204; the body must name the rule's derived `@odata.type` (P§A4.3)."""
    if not isinstance(body, dict):
        raise bad_request("A request body is required.")
    with store.write() as db:
        role_id = _require_role(db, pid)
        current = next((r for r in rules(db, role_id) if r["id"] == rule_id), None)
        if current is None:
            raise not_found(rule_id)
        kind = str(body.get("@odata.type", "")).lstrip("#")
        if kind != current["@odata.type"].lstrip("#"):
            raise bad_request(f"The rule's '@odata.type' must be '{current['@odata.type']}'.")
        for key in body:
            if not key.startswith("@odata.") and key not in current:
                raise bad_request(f"Invalid property '{key}' of resource '{kind.rsplit('.', 1)[-1]}'.")
        updated = {**current, **{k: v for k, v in body.items() if not k.startswith("@odata.")},
                   "id": rule_id, "@odata.type": current["@odata.type"]}
        db.execute("INSERT OR REPLACE INTO pim_rule_changes VALUES (?, ?, ?, ?)",
                   (policy_id(db, role_id), rule_id, json.dumps(updated), iso(store.now())))
