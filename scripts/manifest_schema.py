"""Write docs/manifest.schema.json, the JSON Schema editors use to check a manifest (TOML editors such
as Even Better TOML / taplo read JSON Schema). Generated from the manifest reader's own fields, so the
two cannot drift: `python scripts/manifest_schema.py` (a test checks the file is current).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "manifest.schema.json"


def schema() -> dict:
    from provisioner.inputs.manifest import ROLE_KEYS, USER_FIELDS
    from provisioner.model import DEFAULT_MANAGED_ROLES

    text = {"type": "string", "minLength": 1}
    role_table = {
        "type": "object", "required": ["role"], "additionalProperties": False,
        "properties": {k: ({"type": "boolean"} if k == "eligible" else
                           {"type": "string", "pattern": r"^P(\d+D)?(T(\d+H)?(\d+M)?)?$"} if k == "duration" else
                           {"type": "string", "pattern": r"^\d{4}-\d\d-\d\d$"} if k == "until" else text)
                       for k in ROLE_KEYS},
    }
    users = {}
    for key in USER_FIELDS:
        if key == "accountEnabled":
            users[key] = {"type": "boolean"}
        elif key == "businessPhones":
            users[key] = {"type": "array", "items": text, "maxItems": 1}
        elif key == "roles":
            users[key] = {"type": "array", "items": {"anyOf": [text, role_table]},
                          "description": "Exactly these of the managed roles; without the key the roles held are "
                                         "kept, roles = [] removes them."}
        elif key == "licenses":
            users[key] = {"type": "array", "items": text, "uniqueItems": True,
                          "description": "Exactly these direct licenses (part number like SPE_E5, product name or "
                                         "skuId); without the key the licenses held are kept, licenses = [] removes "
                                         "the direct ones. Licenses a group gives are never removed."}
        else:
            users[key] = text
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "provisioner manifest (sync MANIFEST.toml)",
        "type": "object", "required": ["scope"], "additionalProperties": False,
        "properties": {
            "scope": {"type": "object", "required": ["domains"], "additionalProperties": False, "properties": {
                "domains": {"type": "array", "items": text, "minItems": 1},
                "managed_roles": {"type": "array", "items": text, "default": list(DEFAULT_MANAGED_ROLES)},
            }},
            "users": {"type": "array", "items": {"type": "object", "required": ["userPrincipalName"],
                                                 "additionalProperties": False, "properties": users}},
        },
    }


def render() -> str:
    return json.dumps(schema(), indent=2) + "\n"


if __name__ == "__main__":
    if "--check" in sys.argv:
        sys.exit(0 if OUT.read_text(encoding="utf-8") == render() else 1)
    OUT.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {OUT.relative_to(ROOT)}\n")
