"""No traceback, for any input, ever: files in the wrong encoding or not text at all (manifests,
config, plans), a tenant file that is not one, values too long for a URL or a date, unwritable
outputs, an unreachable Graph. Each is one line naming the file, key or value and the fix, exit 64
for bad usage or input and 1 otherwise, and the tenant is untouched (its file's sha256).

The --from user files have their own hostile cases in test_files.py."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cli_tenant import DOMAIN, Tenant

from provisioner.local import advance_clock, tenant_now


@dataclass
class Case:
    args: list[str]
    code: int
    says: str  # what the one error line must say (it names the file, key or value, and the fix)
    env: dict[str, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)  # named files that must stay as they were


Build = Callable[[Tenant, Path], Case]
CASES: dict[str, Build] = {}
U = f"u@{DOMAIN}"
SAVE_UTF8 = "a TOML file is UTF-8: save it as UTF-8 (in Notepad: Save as, Encoding UTF-8)"
REMAKE = "make it with: provisioner sync MANIFEST --out PLAN.json"


def case(name: str) -> Callable[[Build], Build]:
    def register(build: Build) -> Build:
        CASES[name] = build
        return build
    return register


def _write(tmp: Path, name: str, data: bytes | str) -> Path:
    path = tmp / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


BINARY = bytes((i * 7919) % 256 for i in range(3000)).replace(b"\x00", b"\x01")
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
XLSX = b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 100


# --- manifests (sync MANIFEST) -----------------------------------------------------------------

MANIFEST = f'[scope]\ndomains = ["{DOMAIN}"]\n\n[[users]]\nuserPrincipalName = "{U}"\ndisplayName = "Jos\u00e9"\n'
MANIFESTS: dict[str, tuple[bytes, str]] = {
    "latin-1": (MANIFEST.encode("latin-1"), f"file: line 6: byte 0xE9 (offset 123) is not UTF-8; {SAVE_UTF8}"),
    "UTF-16 with BOM": (MANIFEST.encode("utf-16"), f"file: is UTF-16 text; {SAVE_UTF8}"),
    "UTF-16 without BOM": (MANIFEST.encode("utf-16-le"), f"file: is UTF-16 text; {SAVE_UTF8}"),
    "binary": (BINARY, "file: holds binary data, not TOML text; give a TOML file"),
    "PNG": (PNG, "file: holds binary data, not TOML text; give a TOML file"),
    "xlsx": (XLSX, "file: holds binary data, not TOML text; give a TOML file"),
    "100,000 deep": (b"a = " + b"[" * 100_000 + b"]" * 100_000,
                     "file: nested too deeply to read; tables and lists here nest a few levels at most"),
    "5,000-digit number": (b"a = " + b"9" * 5000,
                           "file: holds a number too long to read (over 4,300 digits); no setting is that large"),
    "NUL in a key": (b"[scope]\x00\n", "file: holds binary data, not TOML text; give a TOML file"),
    "broken syntax": (b"[scope\n", "file: not valid TOML: Expected ']' at the end of a table declaration"),
}


for _name, (_data, _says) in MANIFESTS.items():
    def _manifest(t: Tenant, tmp: Path, data: bytes = _data, says: str = _says) -> Case:
        path = _write(tmp, "m.toml", data)
        return Case(["sync", str(path), "--yes"], 64, f"{path}: {says}", files=[path])
    case(f"manifest {_name}")(_manifest)


# --- config.toml --------------------------------------------------------------------------------

CONFIG = '[execution]\njournal = "journal.jsonl"\n# \u00e9t\u00e9\n'
CONFIGS: dict[str, tuple[bytes, str]] = {
    "latin-1": (CONFIG.encode("latin-1"), f"line 3: byte 0xE9 (offset 40) is not UTF-8; {SAVE_UTF8}"),
    "UTF-16 with BOM": (CONFIG.encode("utf-16"), f"is UTF-16 text; {SAVE_UTF8}"),
    "UTF-16 without BOM": (CONFIG.encode("utf-16-le"), f"is UTF-16 text; {SAVE_UTF8}"),
    "binary": (BINARY, "holds binary data, not TOML text; give a TOML file"),
    "xlsx": (XLSX, "holds binary data, not TOML text; give a TOML file"),
    "100,000 deep": (b"a = " + b"[" * 100_000 + b"]" * 100_000,
                     "nested too deeply to read; tables and lists here nest a few levels at most"),
    "5,000-digit number": (b"[execution]\nwrite_budget = " + b"9" * 5000,
                           "holds a number too long to read (over 4,300 digits); no setting is that large"),
    "write_window_seconds = inf": (b"[execution]\nwrite_window_seconds = inf\n",
                                   "execution.write_window_seconds: must be a finite number, got inf; write it like "
                                   "key = 150"),
    "write_window_seconds = nan": (b"[execution]\nwrite_window_seconds = nan\n",
                                   "execution.write_window_seconds: must be a finite number, got nan; write it like "
                                   "key = 150"),
    "write_window_seconds = -inf": (b"[execution]\nwrite_window_seconds = -inf\n",
                                    "execution.write_window_seconds: must be a finite number, got -inf"),
    "write_window_seconds = 0": (b"[execution]\nwrite_window_seconds = 0\n",
                                 "execution.write_window_seconds: must be at least 1, got 0; set a larger value"),
    "write_budget = 1e999": (b"[execution]\nwrite_budget = 1e999\n",
                             "execution.write_budget: expected an integer, got a number; write it like key = 10"),
    "NUL in the journal path": (b'[execution]\njournal = "a\\u0000b"\n',
                                "execution.journal: a path cannot hold a NUL character (\\u0000); remove it"),
    "broken syntax": (b"[execution\n", "not valid TOML: Expected ']' at the end of a table declaration"),
}

for _name, (_data, _says) in CONFIGS.items():
    def _config(t: Tenant, tmp: Path, data: bytes = _data, says: str = _says) -> Case:
        path = _write(tmp, "bad-config.toml", data)
        return Case(["users", "create", U, "--display-name", "U", "--yes"], 1, f"{path}: {says}",
                    env={"PROVISIONER_CONFIG": str(path)}, files=[path])
    case(f"config {_name}")(_config)


# --- saved plans (apply PLAN.json) --------------------------------------------------------------

HEX = "0" * 64
GLOBAL = "62e90394-69f5-4237-9190-012177145e10"


def _plan(**change: object) -> dict:
    create = {"action": "create", "userPrincipalName": U, "reason": "",
              "properties": {"userPrincipalName": U, "displayName": "Jos\u00e9"}, "password": "generate"}
    return {"formatVersion": 2, "tenant": "local", "fingerprint": HEX, "digest": HEX,
            "changes": [{**create, **change}]}


ASSIGN_NULL_UPN = {"action": "assign", "userPrincipalName": None, "roleDefinitionId": GLOBAL,
                   "roleName": "Global Administrator", "reason": ""}
PLAN_TEXT = json.dumps(_plan(), ensure_ascii=False, indent=2)
PLANS: dict[str, tuple[bytes | str, str]] = {
    "latin-1": (PLAN_TEXT.encode("latin-1"), "not a plan written by provisioner (byte 0xE9 at offset 440 is not "
                f"UTF-8: binary data, or re-saved in another encoding); {REMAKE}"),
    "UTF-16 with BOM": (PLAN_TEXT.encode("utf-16"), "not a plan written by provisioner (byte 0xFF at offset 0 is not "
                        f"UTF-8: binary data, or re-saved in another encoding); {REMAKE}"),
    "UTF-16 without BOM": (PLAN_TEXT.encode("utf-16-le"), "not a plan written by provisioner (byte 0xE9 at offset 880 "
                           f"is not UTF-8: binary data, or re-saved in another encoding); {REMAKE}"),
    "binary": (PNG, "not a plan written by provisioner (byte 0x89 at offset 0 is not UTF-8: binary data, or re-saved "
               f"in another encoding); {REMAKE}"),
    "100,000 deep": ("[" * 100_000 + "]" * 100_000, f"not a provisioner plan (nested too deeply); {REMAKE}"),
    "5,000-digit number": ("9" * 5000, f"not a provisioner plan (a number over 4,300 digits); {REMAKE}"),
    "null UPN in a create": (json.dumps(_plan(userPrincipalName=None)),
                             f"change 1 (create None): userPrincipalName must be a string; {REMAKE}"),
    "null UPN in an assign": (json.dumps({**_plan(), "changes": [ASSIGN_NULL_UPN]}),
                              f"change 1 (assign None): userPrincipalName must be a string; {REMAKE}"),
    "null changes": (json.dumps({**_plan(), "changes": None}), f"the plan's changes must be a list; {REMAKE}"),
    "null change": (json.dumps({**_plan(), "changes": [None]}), f"change 1 must be a JSON object; {REMAKE}"),
    "null action": (json.dumps(_plan(action=None)), "change 1: action must be one of create, update, manager, "
                    "revoke-sessions, reset-password, restore, assign, revoke, reschedule, license, delete, purge, "
                    "policy-rule, "
                    f"not None; {REMAKE}"),
    "NaN format version": (PLAN_TEXT.replace('"formatVersion": 2', '"formatVersion": NaN'),
                           f"not a provisioner plan (formatVersion 2 expected); {REMAKE}"),
    "empty": ("", f"not valid JSON (Expecting value: line 1, column 1); {REMAKE}"),
    "a list": ("[]", f"not a provisioner plan (a JSON object expected); {REMAKE}"),
    "cut short": (PLAN_TEXT[:100], f"not valid JSON (Unterminated string starting at: line 4, column 18); {REMAKE}"),
}

for _name, (_data, _says) in PLANS.items():
    def _applied(t: Tenant, tmp: Path, data: bytes | str = _data, says: str = _says) -> Case:
        path = _write(tmp, "plan.json", data)
        return Case(["apply", str(path), "--yes"], 64, f"{path}: {says}", files=[path])
    case(f"plan {_name}")(_applied)


# --- a tenant file that is not one (--state, $PROVISIONER_LOCAL_STATE) ---------------------------

HINT = "point $PROVISIONER_LOCAL_STATE (or --state) at a local tenant file; a new tenant is made where none is"
NOT_A_TENANT = f"is not a local tenant (file is not a database); move it away, or {HINT}"
DAMAGED = f"is damaged (cut short?) (database disk image is malformed); move it away, or {HINT}"
DIRECTORY = f"is a directory, not a local tenant file; {HINT}"
DEVICE = f"is not a regular file (a device or a pipe), so it cannot hold the local tenant; {HINT}"
COMMANDS = {
    "users list": ["users", "list"],
    "users create": ["users", "create", U, "--display-name", "U", "--yes"],
    "local clock show": ["local", "clock", "show"],
    "local clock advance": ["local", "clock", "advance", "1d"],
    "local init": ["local", "init", "--seed-users", "3"],
}


def _text_file(t: Tenant, tmp: Path) -> Path:
    return _write(tmp, "notes.db", "these are notes, not a tenant\n")


def _truncated(t: Tenant, tmp: Path) -> Path:
    return _write(tmp, "cut.db", t.state.read_bytes()[:5000])


def _directory(t: Tenant, tmp: Path) -> Path:
    (tmp / "dir.db").mkdir()
    return tmp / "dir.db"


STATES: dict[str, tuple[Callable[[Tenant, Path], Path], str, tuple[str, ...]]] = {
    "a text file": (_text_file, NOT_A_TENANT, ("users list", "users create", "local clock show", "local init")),
    "a truncated database": (_truncated, DAMAGED, ("users list", "users create", "local clock advance")),
    "a directory": (_directory, DIRECTORY, ("users list", "users create")),
    "/dev/null": (lambda t, tmp: Path("/dev/null"), DEVICE, ("users list", "users create", "local clock show")),
}

for _what, (_make, _says, _commands) in STATES.items():
    for _command in _commands:
        def _state(t: Tenant, tmp: Path, make=_make, says: str = _says, command: str = _command) -> Case:
            path = make(t, tmp)
            files = [path] if path.is_file() else []
            return Case(COMMANDS[command], 64, f"{path}: {says}", env={"PROVISIONER_LOCAL_STATE": str(path)},
                        files=files)
        case(f"--state {_what}, {_command}")(_state)


@case("--state an immutable file, users create")
def _immutable(t: Tenant, tmp: Path) -> Case:
    path = tmp / "frozen.db"
    shutil.copy(t.state, path)
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    says = (f"{path}: cannot write the local tenant file (it is read-only); nothing was written. Make it "
            f"writable (chmod u+w; chattr -i when immutable), or {HINT}")
    return Case(COMMANDS["users create"], 1, says, env={"PROVISIONER_LOCAL_STATE": str(path)}, files=[path])


# --- values too long, too far, outputs that cannot be written, a Graph that does not answer ----

LONG_UPN = "a" * 100_000 + f"@{DOMAIN}"
TOO_LONG = "a value given is too long to send to Graph (URL too long"


@case("users show, a 100,000-character UPN")
def _show_long(t: Tenant, tmp: Path) -> Case:
    return Case(["users", "show", LONG_UPN], 64, TOO_LONG)


@case("users show, a 100,000-character id")
def _show_long_id(t: Tenant, tmp: Path) -> Case:
    return Case(["users", "show", "x" * 100_000], 64, TOO_LONG)


@case("roles assign, a 100,000-character UPN")
def _assign_long(t: Tenant, tmp: Path) -> Case:
    return Case(["roles", "assign", LONG_UPN, "global", "--yes"], 64, TOO_LONG)


@case("users list --upn-prefix, 100,000 characters")
def _prefix_long(t: Tenant, tmp: Path) -> Case:
    return Case(["users", "list", "--upn-prefix", "a" * 100_000], 64, TOO_LONG)


@case("users create, a 100,000-character UPN")
def _create_long(t: Tenant, tmp: Path) -> Case:
    return Case(["users", "create", LONG_UPN, "--display-name", "A", "--yes"], 64,
                "(100,024 characters) is not a valid user principal name")


@case("deleted list --expiring-within 99999999999d")
def _expiring(t: Tenant, tmp: Path) -> Case:
    return Case(["deleted", "list", "--expiring-within", "99999999999d"], 64,
                "Invalid value for --expiring-within: '99999999999d' is too long; use at most 36500d")


@case("audit --expiring-within 99999999999d")
def _audit_expiring(t: Tenant, tmp: Path) -> Case:
    return Case(["audit", "--expiring-within", "99999999999d"], 64,
                "'99999999999d' is too long; use at most 36500d")


@case("local clock advance 99999999d")
def _advance_far(t: Tenant, tmp: Path) -> Case:
    return Case(["local", "clock", "advance", "99999999d"], 64,
                "Invalid value for DURATION: '99999999d' is too long; use at most 36500d")


@case("local clock advance past 9899, after the clock was moved near it")
def _advance_to_the_end(t: Tenant, tmp: Path) -> Case:
    # As if `local clock advance 36500d` had been repeated 79 times.
    advance_clock(t.state, datetime(9898, 6, 1, tzinfo=UTC) - tenant_now(t.state))
    return Case(["local", "clock", "advance", "36500d"], 64,
                "Invalid value for DURATION: '36500d' would move the tenant clock past 9899-01-01, the latest it keeps")


@case("local clock advance, not a duration")
def _advance_words(t: Tenant, tmp: Path) -> Case:
    return Case(["local", "clock", "advance", "soon"], 64, "Invalid value for DURATION")


@case("--results a directory")
def _results_dir(t: Tenant, tmp: Path) -> Case:
    (tmp / "out").mkdir()
    return Case(["users", "create", U, "--display-name", "U", "--yes", "--results", str(tmp / "out")], 64,
                "Invalid value for '--results'")


@case("--results under a file")
def _results_under_file(t: Tenant, tmp: Path) -> Case:
    parent = _write(tmp, "plain.txt", "x")
    path = parent / "results.csv"
    return Case(["users", "create", U, "--display-name", "U", "--yes", "--results", str(path)], 1,
                f"cannot write the results file (--results) {path}: File exists; nothing was written")


@case("--results on a full device")
def _results_full(t: Tenant, tmp: Path) -> Case:
    path = tmp / "results.csv"
    path.symlink_to("/dev/full")
    return Case(["users", "create", U, "--display-name", "U", "--yes", "--results", str(path)], 1,
                f"cannot write the results file (--results) {path}: No space left on device; nothing was written")


@case("an unreachable graph_url")
def _unreachable(t: Tenant, tmp: Path) -> Case:
    config = _write(tmp, "remote.toml", '[tenants.prod]\nkind = "graph"\nauth = "token"\ntoken_env = "HOSTILE_TOKEN"\n'
                    'tenant_id = "00000000-0000-0000-0000-000000000001"\n'
                    'client_id = "00000000-0000-0000-0000-000000000002"\ngraph_url = "http://127.0.0.1:9/v1.0"\n')
    return Case(["--tenant", "prod", "users", "list"], 1, "Graph did not answer",
                env={"PROVISIONER_CONFIG": str(config), "HOSTILE_TOKEN": "x"})


# --- the test -------------------------------------------------------------------------------------


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_there_are_at_least_60_hostile_inputs() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_is_one_line_with_its_exit_code_and_the_tenant_is_untouched(
        tenant: Tenant, tmp_path: Path, name: str) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    c = CASES[name](tenant, inputs)
    tenant.extra_env.update(c.env)
    before = _sha(tenant.state)
    named = {p: _sha(p) for p in c.files}
    try:
        result = tenant.run(*c.args)
    finally:
        if name.startswith("--state an immutable"):
            subprocess.run(["chattr", "-i", str(c.files[0])], check=True)
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert result.exit_code == c.code, output[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and result.stderr.endswith(errors[0] + "\n"), result.stderr[-2000:]
    others = [line for line in result.stderr.splitlines()[:-1]
              if not line.startswith(("Target: ", "Usage: ", "Try ")) and line]
    assert others == [], others
    assert c.says in errors[0], errors[0][:2000]
    assert _sha(tenant.state) == before
    assert {p: _sha(p) for p in c.files} == named
    assert tenant.journal_lines() == []


def test_the_tenant_stays_usable_after_the_clock_is_refused(tenant: Tenant) -> None:
    for _ in range(100):
        result = tenant.run("local", "clock", "advance", "36500d")
        if result.exit_code != 0:
            break
    assert result.exit_code == 64 and "would move the tenant clock past 9899-01-01" in result.stderr
    assert tenant_now(tenant.state).year == 9821
    tenant.create("later")
    tenant.ok("users", "delete", f"later@{DOMAIN}", "--yes")
    assert list(tenant.deleted()) == [f"later@{DOMAIN}"]
    tenant.ok("deleted", "list", "--expiring-within", "36500d")
    tenant.ok("audit")
    assert tenant_now(tenant.state) < datetime(9899, 1, 1, tzinfo=UTC)


def test_a_journal_that_reads_without_end_counts_no_recent_writes() -> None:
    # [execution] journal = "/dev/full" (or /dev/zero): reading its "tail" must not read forever.
    from provisioner.journal import recent_writes

    assert recent_writes(Path("/dev/zero"), "prod", 150) == 0
