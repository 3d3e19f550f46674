"""Read Microsoft Graph's published v1.0 schema (CSDL) and write the local tenant's compact schema index.

    python scripts/schema_index.py            # rewrite provisioner/local/schema_index.json
    python scripts/schema_index.py --check    # exit 1 when the shipped index is not what the CSDL gives
    python scripts/schema_index.py --requests FILE   # check requests recorded by the test suite

The CSDL files (worldwide and 21Vianet) live in scripts/graph-schema/; a schema update is: replace them, run
this script, commit both. `read_csdl` also builds the *full* model, in the same shape as the index, for the
test that checks every request the suite sends against all of Graph.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CSDL_DIR = ROOT / "scripts" / "graph-schema"
WORLDWIDE = CSDL_DIR / "v1.0-Prod.csdl.gz"
CHINA = CSDL_DIR / "v1.0-Mooncake.csdl.gz"
INDEX = ROOT / "provisioner" / "local" / "schema_index.json"

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
NAMESPACE = "microsoft.graph"
# What the local tenant serves: its entity sets and singletons, and the types its answers and bodies hold.
SERVED_ROOT = ("users", "directory", "directoryObjects", "roleManagement", "domains", "subscribedSkus", "policies")
SERVED_TYPES = (
    "entity",
    "directoryObject",
    "user",
    "passwordProfile",
    "directory",
    "roleManagement",
    "rbacApplication",
    "unifiedRoleDefinition",
    "unifiedRolePermission",
    "unifiedRoleAssignment",
    "domain",
    "employeeOrgData",
    "subscribedSku",
    "licenseUnitsDetail",
    "servicePlanInfo",
    "assignedLicense",
    "assignedPlan",
    "licenseAssignmentState",
    # PIM (graph-pim-baseline P§A0-A4)
    "request",
    "unifiedRoleEligibilityScheduleRequest",
    "unifiedRoleAssignmentScheduleRequest",
    "unifiedRoleScheduleBase",
    "unifiedRoleEligibilitySchedule",
    "unifiedRoleAssignmentSchedule",
    "unifiedRoleScheduleInstanceBase",
    "unifiedRoleEligibilityScheduleInstance",
    "unifiedRoleAssignmentScheduleInstance",
    "requestSchedule",
    "expirationPattern",
    "patternedRecurrence",
    "ticketInfo",
    "identitySet",
    "identity",
    "policyRoot",
    "unifiedRoleManagementPolicy",
    "unifiedRoleManagementPolicyAssignment",
    "unifiedRoleManagementPolicyRule",
    "unifiedRoleManagementPolicyRuleTarget",
    "unifiedRoleManagementPolicyExpirationRule",
    "unifiedRoleManagementPolicyEnablementRule",
    "unifiedRoleManagementPolicyNotificationRule",
    "unifiedRoleManagementPolicyApprovalRule",
    "unifiedRoleManagementPolicyAuthenticationContextRule",
    "approvalSettings",
    "unifiedApprovalStage",
    "subjectSet",
    "singleUser",
    "groupMembers",
)
# Capability annotations that name properties (the others are yes/no for a whole set).
PROPERTY_LISTS = (
    "NonFilterableProperties",
    "NonSortableProperties",
    "NonExpandableProperties",
    "NonSelectableProperties",
    "RequiredProperties",
    "NonInsertableProperties",
    "NonUpdatableProperties",
)


def short(qualified: str) -> str:
    """`microsoft.graph.user` -> `user`; other namespaces keep their tail (`security.alert`)."""
    prefix = NAMESPACE + "."
    return qualified[len(prefix):] if qualified.startswith(prefix) else qualified


class _Names:
    """Resolves `graph.user`, `self.alert`, `Collection(graph.x)` to the index's short names."""

    def __init__(self, root: ET.Element):
        self.alias = {}
        for schema in root.iter(EDM + "Schema"):
            if schema.get("Alias"):
                self.alias[schema.get("Alias")] = schema.get("Namespace")

    def type_ref(self, ref: str) -> str:
        if ref.startswith("Collection(") and ref.endswith(")"):
            return f"Collection({self.type_ref(ref[11:-1])})"
        if ref.startswith("Edm."):
            return ref
        head, _, tail = ref.partition(".")
        if head in self.alias:
            ref = f"{self.alias[head]}.{tail}"
        return short(ref)


def _members(element: ET.Element, tag: str, names: _Names) -> dict[str, str]:
    return {p.get("Name"): names.type_ref(p.get("Type")) for p in element.findall(EDM + tag)}


def read_csdl(path: Path) -> dict:
    """The whole schema as plain data: entity sets and singletons (`root`), every entity and complex type
    (`types`: base, open, abstract, properties and navigation properties with their types), bound
    operations by binding type (`operations`), and the capability annotations that name properties."""
    with gzip.open(path) as raw:
        root = ET.parse(raw).getroot()
    names = _Names(root)
    types: dict[str, dict] = {}
    operations: dict[str, dict] = {}
    entry: dict[str, list[str]] = {}
    capabilities: dict[str, dict[str, list[str]]] = {}
    for schema in root.iter(EDM + "Schema"):
        namespace = schema.get("Namespace")
        for kind in ("EntityType", "ComplexType"):
            for element in schema.findall(EDM + kind):
                described = {
                    "kind": "entity" if kind == "EntityType" else "complex",
                    "properties": _members(element, "Property", names),
                    "navigation": _members(element, "NavigationProperty", names),
                }
                if element.get("BaseType"):
                    described["base"] = names.type_ref(element.get("BaseType"))
                if element.get("OpenType") == "true":
                    described["open"] = True
                if element.get("Abstract") == "true":
                    described["abstract"] = True
                types[short(f"{namespace}.{element.get('Name')}")] = described
        for kind in ("Action", "Function"):
            for element in schema.findall(EDM + kind):
                params = element.findall(EDM + "Parameter")
                if element.get("IsBound") != "true" or not params:
                    continue
                binding = names.type_ref(params[0].get("Type"))
                returns = element.find(EDM + "ReturnType")
                operation = {
                    "kind": kind.lower(),
                    "parameters": {p.get("Name"): names.type_ref(p.get("Type")) for p in params[1:]},
                }
                if returns is not None:
                    operation["returns"] = names.type_ref(returns.get("Type"))
                name = short(f"{namespace}.{element.get('Name')}")
                # Overloads bound to one type (rare) are merged: any of their parameters is declared.
                known = operations.setdefault(binding, {}).setdefault(name, operation)
                known["parameters"].update(operation["parameters"])
        for container in schema.findall(EDM + "EntityContainer"):
            for element in container:
                tag = element.tag.removeprefix(EDM)
                if tag in ("EntitySet", "Singleton"):
                    kind = "set" if tag == "EntitySet" else "singleton"
                    declared = element.get("EntityType") or element.get("Type")
                    entry[element.get("Name")] = [kind, names.type_ref(declared)]
        for group in schema.findall(EDM + "Annotations"):
            target = group.get("Target")
            for annotation in group.findall(EDM + "Annotation"):
                for value in annotation.iter(EDM + "PropertyValue"):
                    if value.get("Property") in PROPERTY_LISTS:
                        listed = [p.text for p in value.iter() if p.text and p.text.strip() and p is not value]
                        if listed:
                            capabilities.setdefault(target, {})[value.get("Property")] = sorted(listed)
    return {"root": entry, "types": types, "operations": operations, "capabilities": capabilities}


def _missing(mine: dict, theirs: dict | None) -> list[str]:
    """Names declared worldwide that the other cloud does not declare."""
    if theirs is None:
        return ["*"]
    out = [n for n in mine["properties"] if n not in theirs["properties"]]
    return sorted(out + [n for n in mine["navigation"] if n not in theirs["navigation"]])


def compact(full: dict, china: dict) -> dict:
    """The part of the model the local tenant serves, with what 21Vianet's Graph lacks of it."""
    types = {name: full["types"][name] for name in SERVED_TYPES}
    for name, described in types.items():
        absent = _missing(described, china["types"].get(name))
        if absent:
            described["absentIn21Vianet"] = absent
    binding = [*SERVED_TYPES, *(f"Collection({t})" for t in SERVED_TYPES)]
    operations = {b: full["operations"][b] for b in binding if b in full["operations"]}
    root = {name: full["root"][name] for name in SERVED_ROOT}
    prefixes = tuple(f"{NAMESPACE}.GraphService/{name}" for name in SERVED_ROOT)
    prefixes += tuple(f"{NAMESPACE}.{name}" for name in SERVED_TYPES)
    capabilities = {t: c for t, c in full["capabilities"].items() if t.startswith(prefixes)}
    return {
        "about": "Generated by scripts/schema_index.py from Microsoft Graph's v1.0 CSDL (msgraph-metadata, "
        "MIT). Only what the local tenant serves; $batch is JSON batching, not described by the CSDL.",
        "root": root,
        "types": types,
        "operations": operations,
        "capabilities": capabilities,
    }


def render(index: dict) -> str:
    """The index as written: sorted keys, one type per line group, small enough to review in a diff."""
    return json.dumps(index, indent=1, sort_keys=True) + "\n"


def build(worldwide: Path = WORLDWIDE, china: Path = CHINA) -> str:
    return render(compact(read_csdl(worldwide), read_csdl(china)))


def full_schemas(worldwide: Path = WORLDWIDE, china: Path = CHINA) -> dict:
    """Graph's whole v1.0 schema of each cloud, ready for `check_requests`."""
    from provisioner.local.schema import Schema

    return {"worldwide": Schema(read_csdl(worldwide)), "21Vianet": Schema(read_csdl(china))}


def check_requests(requests: list[dict], schemas: dict) -> list[str]:
    """Each recorded request (method, path, query, body shape, as the local tenant's recorders see them)
    checked against full schemas; one line per request and cloud whose Graph would refuse it."""
    from provisioner.local.schema_guard import check
    from provisioner.local.wire import GraphError

    problems = []
    for request in requests:
        segments = [s for s in request["path"].split("/") if s]
        for cloud, schema in schemas.items():
            try:
                check(schema, request["method"], segments, request["query"], request["body"])
            except GraphError as err:
                query = "&".join(f"{k}={v}" for k, v in request["query"].items())
                problems.append(f"{cloud}: {request['method']} {request['path']}?{query} -> {err.code}: {err.message}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the local tenant's schema index from Graph's CSDL.")
    parser.add_argument("--check", action="store_true", help="only compare with the shipped index")
    parser.add_argument("--csdl", type=Path, default=WORLDWIDE, help="the worldwide v1.0 CSDL (.gz)")
    parser.add_argument("--china-csdl", type=Path, default=CHINA, help="the 21Vianet v1.0 CSDL (.gz)")
    parser.add_argument("--requests", type=Path, help="check recorded requests (JSON lines) instead")
    args = parser.parse_args(argv)
    if args.requests:
        lines = args.requests.read_text(encoding="utf-8").splitlines()
        schemas = full_schemas(args.csdl, args.china_csdl)
        problems = check_requests([json.loads(line) for line in lines if line.strip()], schemas)
        sys.stderr.write("".join(f"{p}\n" for p in problems))
        return 1 if problems else 0
    text = build(args.csdl, args.china_csdl)
    if args.check:
        if INDEX.read_text(encoding="utf-8") != text:
            sys.stderr.write(f"{INDEX.relative_to(ROOT)} is stale: run python scripts/schema_index.py\n")
            return 1
        return 0
    INDEX.write_text(text, encoding="utf-8")
    sys.stderr.write(f"wrote {INDEX.relative_to(ROOT)} ({len(text.encode())} bytes)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
