"""Graph's published v1.0 schema as the local tenant knows it: what a path, a query option or a body may
name for each type, and the answers Graph gives when they name something the schema does not declare.

The data is `schema_index.json` (generated from Microsoft's CSDL by scripts/schema_index.py); the same
class reads the full model the script builds, so a check against all of Graph uses this one logic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from .wire import GraphError

NAMESPACE = "microsoft.graph"


@dataclass(frozen=True)
class Target:
    """What a path addresses: a type, one object or a collection of them, or an operation's parameters."""

    type: str
    collection: bool = False
    operation: dict | None = None
    served: bool = True  # False: declared by Graph, but beyond what this schema holds


def segment_error(segment: str) -> GraphError:
    """Graph's answer to a path segment its model does not have (OBSERVED, microsoft-graph-docs#7767)."""
    return GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")


def select_error(name: str, type_name: str) -> GraphError:
    """Graph's OData layer on a `$select`/`$expand` name (OBSERVED wording, microsoft-graph-docs#9988)."""
    return GraphError(
        400,
        "BadRequest",
        f"Parsing OData Select and Expand failed: Could not find a property named '{name}' on type "
        f"'{NAMESPACE}.{type_name}'.",
    )


def filter_error(name: str) -> GraphError:
    """The directory's answer to a `$filter` on an undeclared property (OBSERVED, msgraph-sdk-php#329)."""
    message = f"Property '{name}' does not exist as a declared property or extension property."
    return GraphError(400, "Request_UnsupportedQuery", message)


def sort_error(name: str, type_name: str) -> GraphError:
    """`$orderby` on an undeclared property: the directory's sort refusal (wording OBSERVED for a declared
    property, graph-quirks §8; for an undeclared one UNVERIFIED)."""
    resource = type_name[:1].upper() + type_name[1:]
    return GraphError(400, "Request_UnsupportedQuery", f"Unsupported sort property '{name}' for '{resource}'.")


def body_error(name: str, type_name: str, open_type: bool) -> GraphError:
    """A body property the type does not declare. Directory objects are open types and the directory
    answers (OBSERVED on a group, pnp/PnP-Sites-Core#1807); other types meet the OData reader (UNVERIFIED)."""
    if open_type:
        return GraphError(400, "Request_BadRequest", f"Invalid property '{name}'.")
    return GraphError(
        400,
        "BadRequest",
        f"The property '{name}' does not exist on type '{NAMESPACE}.{type_name}'. Make sure to only use "
        "property names that are defined by the type or mark the type as open type.",
    )


def parameter_error(name: str, operation: str) -> GraphError:
    """An action body naming a parameter the action does not declare (OData reader wording, UNVERIFIED)."""
    return GraphError(
        400,
        "BadRequest",
        f"The parameter '{name}' in the request payload is not a valid parameter for the operation '{operation}'.",
    )


def _element(type_ref: str) -> tuple[str, bool]:
    if type_ref.startswith("Collection(") and type_ref.endswith(")"):
        return type_ref[11:-1], True
    return type_ref, False


class Schema:
    """Lookups over a schema model (`root`, `types`, `operations`), compact or full. Names in paths and
    query options are matched without regard to case, as Graph matches them; body names exactly."""

    def __init__(self, model: dict):
        self.types: dict = model["types"]
        self.root = {name.lower(): found for name, found in model["root"].items()}
        self.operations = {
            binding: {name.lower(): (name, op) for name, op in ops.items()}
            for binding, ops in model["operations"].items()
        }
        self._members: dict[str, dict[str, tuple[str, str, str]]] = {}
        self._derived: dict[str, set[str]] = {}
        self._declared: dict[tuple[str, str, bool], str | None] = {}  # answers repeat: every list asks them
        # Every request resolves its path and every write checks its body's names: the answers repeat.
        self._resolved: dict[tuple[str, ...], Target | None] = {}
        self._body_members: dict[tuple[str, str], tuple[str, str, str] | None] = {}
        for name, described in self.types.items():
            members = self._members[name] = {}
            for kind in ("properties", "navigation"):
                for member, type_ref in described[kind].items():
                    members[member.lower()] = ("navigation" if kind == "navigation" else "property", member, type_ref)
            for ancestor in self.lineage(name)[1:]:
                self._derived.setdefault(ancestor, set()).add(name)

    def lineage(self, name: str) -> list[str]:
        """The type and its base types, nearest first."""
        out = []
        while name in self.types and name not in out:
            out.append(name)
            name = self.types[name].get("base", "")
        return out

    def is_open(self, name: str) -> bool:
        return any(self.types[t].get("open") for t in self.lineage(name))

    def member(self, type_name: str, name: str, *, exact: bool = False) -> tuple[str, str, str] | None:
        """(kind "property" | "navigation", declared name, type) of a member of the type or a base type."""
        for t in self.lineage(type_name):
            found = self._members[t].get(name.lower())
            if found and (not exact or found[1] == name):
                return found
        return None

    def declared(self, type_name: str, name: str, *, navigation_only: bool = False) -> str | None:
        """The declared spelling of `name` on the type, a base type, or (for an open type, whose objects
        are often of a derived type: `directoryObject` answers users) a derived type; else None."""
        key = (type_name, name.lower(), navigation_only)
        if key not in self._declared:
            _bounded(self._declared)[key] = self._find_declared(type_name, name, navigation_only)
        return self._declared[key]

    def _find_declared(self, type_name: str, name: str, navigation_only: bool) -> str | None:
        candidates = [type_name]
        if self.is_open(type_name):
            candidates += sorted(self._derived.get(type_name, ()))
        for t in candidates:
            found = self.member(t, name)
            if found and (not navigation_only or found[0] == "navigation"):
                return found[1]
        return None

    def cast(self, segment: str, base: str) -> str | None:
        """`microsoft.graph.user` (or the alias `graph.user`) naming `base` or a type derived from it."""
        lowered = segment.lower()
        for prefix in (NAMESPACE + ".", "graph."):
            if lowered.startswith(prefix):
                wanted = lowered[len(prefix):]
                for name in [base, *self._derived.get(base, ())]:
                    if name.lower() == wanted:
                        return name
        return None

    def operation(self, type_name: str, collection: bool, name: str) -> tuple[str, dict] | None:
        """(declared name, operation) of a bound action or function on the type or a base type."""
        lowered = name.lower().removeprefix(NAMESPACE + ".").removeprefix("graph.")
        for t in self.lineage(type_name):
            found = self.operations.get(f"Collection({t})" if collection else t, {}).get(lowered)
            if found is not None:
                return found
        return None

    def resolve(self, segments: list[str]) -> Target | None:
        """What the path (segments after `/v1.0`) addresses; raises Graph's segment error at the first
        segment the model does not declare. None when it is not an entity path (`$batch`, `$metadata`)
        or ends in something only the routes judge (`$count`, `$ref`, a key such as `$x@y`)."""
        key = tuple(segments)
        if key not in self._resolved:
            found = self._resolve(segments)  # an error is raised, not kept
            _bounded(self._resolved)[key] = found
        return self._resolved[key]

    def _resolve(self, segments: list[str]) -> Target | None:
        if not segments or segments[0].startswith("$"):
            return None
        head, _, key = segments[0].partition("(")
        found = self.root.get(head.lower())
        if found is None:
            raise segment_error(head)
        here = Target(found[1], collection=found[0] == "set" and not key)
        for segment in segments[1:]:
            if here.operation is not None or here.type not in self.types:
                return Target(here.type, served=False)
            if segment.startswith("$"):
                return None
            cast = self.cast(segment, here.type)
            if cast is not None:
                here = Target(cast, here.collection)
                continue
            operation = self.operation(here.type, here.collection, segment.partition("(")[0])
            if operation is not None:
                here = Target(here.type, here.collection, {"name": operation[0], **operation[1]})
                continue
            if here.collection:
                here = Target(here.type)  # a key
                continue
            member = self.member(here.type, segment.partition("(")[0])
            if member is None:
                raise segment_error(segment)
            element, many = _element(member[2])
            here = Target(element, many, served=element in self.types)
        return here

    # -- query options and bodies ---------------------------------------------------------------

    def check_select(self, type_name: str, names: list[str]) -> None:
        for name in names:
            if "/" not in name and name != "*" and not self.declared(type_name, name):
                raise select_error(name, type_name)

    def check_expand(self, type_name: str, names: list[str]) -> None:
        for name in names:
            if name != "*" and not self.declared(type_name, name, navigation_only=True):
                raise select_error(name, type_name)

    def check_filter(self, type_name: str, names: list[str]) -> None:
        for name in names:
            if not self.declared(type_name, name):
                raise filter_error(name)

    def check_orderby(self, type_name: str, names: list[str]) -> None:
        for name in names:
            if "/" not in name and not self.declared(type_name, name):
                raise sort_error(name, type_name)

    def check_body(self, type_name: str, body: dict) -> None:
        """Every property of an entity or complex body is declared; complex values are checked too."""
        named = body.get("@odata.type")
        if isinstance(named, str) and named.lstrip("#").removeprefix(NAMESPACE + ".") in self.types:
            type_name = named.lstrip("#").removeprefix(NAMESPACE + ".")  # a derived type, as Graph reads it
        if type_name not in self.types:
            return
        for name, value in body.items():
            if "@" in name:
                continue  # instance annotations: @odata.type, principal@odata.bind, ...
            key = (type_name, name)
            if key not in self._body_members:
                _bounded(self._body_members)[key] = self.member(type_name, name, exact=True)
            member = self._body_members[key]
            if member is None:
                raise body_error(name, type_name, self.is_open(type_name))
            element, _ = _element(member[2])
            items = value if isinstance(value, list) else [value]
            if element in self.types and self.types[element]["kind"] == "complex":
                for item in items:
                    if isinstance(item, dict):
                        self.check_body(element, item)

    def check_parameters(self, operation: dict, body: dict) -> None:
        for key in body:
            if "@" not in key and key not in operation["parameters"]:
                raise parameter_error(key, operation["name"])

    def undeclared(self, type_name: str, value: object, path: str = "") -> list[str]:
        """Property paths in an answer (an object of `type_name`) that the schema does not declare;
        `@odata.type` switches to the type it names. Used by tests over every route's answers."""
        if not isinstance(value, dict):
            return []
        named = value.get("@odata.type", "")
        if isinstance(named, str) and named.startswith("#"):
            type_name = named[1:].removeprefix(NAMESPACE + ".")
        out = []
        for name, item in value.items():
            if "@" in name:
                continue
            if type_name not in self.types:
                continue
            member = self.member(type_name, name, exact=True)
            if member is None:
                out.append(f"{path}{name}")
                continue
            element, _ = _element(member[2])
            for entry in item if isinstance(item, list) else [item]:
                if element in self.types:
                    out += self.undeclared(element, entry, f"{path}{name}.")
        return out


def _bounded(memo: dict) -> dict:
    """`memo`, emptied when it has grown large: `local serve` takes any client's names and paths."""
    if len(memo) > 10_000:
        memo.clear()
    return memo


@cache
def index() -> Schema:
    """The compact index the package ships."""
    text = resources.files("provisioner.local").joinpath("schema_index.json").read_text(encoding="utf-8")
    return Schema(json.loads(text))
