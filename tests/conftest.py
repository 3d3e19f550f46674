"""Suite-wide: every request the product sends to the local tenant is recorded, and at the end of the
session checked against Graph's full published v1.0 schema, worldwide and 21Vianet (not the compact
index the tenant enforces). A request either cloud's Graph would refuse fails the session.

`PROVISIONER_SCHEMA_RECORD=FILE` also writes the distinct requests seen (names only, never values of
bodies) as JSON lines; `python scripts/schema_index.py --requests FILE` checks such a file again."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from provisioner.local import schema_guard

ROOT = Path(__file__).resolve().parent.parent
# The tenant's own wire tests send what Graph refuses on purpose; of tests/local only these drive the
# product or the SDK the way a client does.
WIRE_TESTS = ROOT / "tests" / "local"
CLIENT_FILES = {"test_cli_local.py", "test_sdk.py"}

_recorded: dict[str, str] = {}  # request as JSON -> the first test that sent it
_problems: list[str] = []


def _schema_index_script():
    spec = importlib.util.spec_from_file_location("schema_index", ROOT / "scripts" / "schema_index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _record_graph_requests(request):
    path = Path(str(request.node.path))
    if path.is_relative_to(WIRE_TESTS) and path.name not in CLIENT_FILES:
        yield
        return
    nodeid = request.node.nodeid

    def record(seen: dict) -> None:
        _recorded.setdefault(json.dumps(seen, sort_keys=True), nodeid)

    schema_guard.add_recorder(record)
    try:
        yield
    finally:
        schema_guard.remove_recorder(record)


def pytest_sessionfinish(session, exitstatus):
    if not _recorded:
        return
    target = os.environ.get("PROVISIONER_SCHEMA_RECORD")
    if target:
        Path(target).write_text("".join(f"{key}\n" for key in sorted(_recorded)), encoding="utf-8")
    script = _schema_index_script()
    schemas = script.full_schemas()
    for key, nodeid in _recorded.items():
        for problem in script.check_requests([json.loads(key)], schemas):
            _problems.append(f"{problem}  (sent by {nodeid})")
    if _problems:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if not _recorded:
        return
    if _problems:
        terminalreporter.section("requests Graph's v1.0 schema does not declare")
        for line in _problems:
            terminalreporter.write_line(line)
    else:
        terminalreporter.write_line(
            f"schema: {len(_recorded)} distinct requests sent to the local tenant, each declared by Graph v1.0 "
            "(worldwide and 21Vianet)"
        )
