"""The joiner / mover / leaver example of README.md, run exactly as written (the commands between
its lifecycle-example markers) against a fresh local tenant, with the state checked after each
part. docs/lifecycle.md shows the same commands; if either drifts, this fails."""

from __future__ import annotations

import shlex
from pathlib import Path

from cli_tenant import DOMAIN, Tenant

ROOT = Path(__file__).resolve().parents[2]
START, END = "<!-- lifecycle-example:start -->", "<!-- lifecycle-example:end -->"
ADELE = f"adele@{DOMAIN}"


def example(path: Path) -> list[tuple[str, list[str]]]:
    """The example's parts in order: (the comment that opens it, its commands as argument lists)."""
    text = path.read_text(encoding="utf-8")
    block = text[text.index(START) + len(START):text.index(END)]
    lines = block.strip().removeprefix("```sh").removesuffix("```").strip().replace("\\\n", " ").splitlines()
    parts: list[tuple[str, list[str]]] = [("setup", [])]
    for line in (line.strip() for line in lines if line.strip()):
        if line.startswith("#"):
            parts.append((line.lstrip("# ").split(":")[0], []))
        else:
            parts[-1][1].append(line)
    return parts


def seats(t: Tenant) -> dict[str, int]:
    return {s["skuPartNumber"]: s["consumed"] for s in t.json("licenses", "list")}


def test_the_readme_example_runs_as_written(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[execution]\njournal = "journal.jsonl"\n', encoding="utf-8")
    t = Tenant(tmp_path, tmp_path / "tenant.db", config, tmp_path / "journal.jsonl", {})
    parts = example(ROOT / "README.md")
    assert [name for name, _ in parts] == ["setup", "joiner", "mover", "leaver"]
    assert [c.split()[1:3] for c in parts[1][1]] == [["users", "create"]]  # a joiner is one step
    ran = []
    for name, commands in parts:
        for command in commands:
            args = shlex.split(command)
            assert args[0] == "provisioner", command
            t.ok(*args[1:])
            ran.append(args[1:3])
        if name == "setup":
            assert list(t.users()) == [f"admin@{DOMAIN}"]
            assert seats(t) == {"ENTERPRISEPACK": 0, "SPE_E5": 0}
        elif name == "joiner":
            adele = t.json("users", "show", ADELE)
            assert (adele["displayName"], adele["department"], adele["usageLocation"], adele["accountEnabled"],
                    adele["licenses"]) == ("Adele Vance", "Sales", "US", True, ["SPE_E5"])
            assert seats(t) == {"ENTERPRISEPACK": 0, "SPE_E5": 1}
        elif name == "mover":
            adele = t.json("users", "show", ADELE)
            assert (adele["department"], adele["jobTitle"], adele["licenses"]) == (
                "Marketing", "Brand lead", ["ENTERPRISEPACK"])
            assert seats(t) == {"ENTERPRISEPACK": 1, "SPE_E5": 0}
        else:
            assert ADELE not in t.users()
            assert list(t.deleted()) == [ADELE]
            assert seats(t) == {"ENTERPRISEPACK": 0, "SPE_E5": 0}
    assert ran[0] == ["local", "init"]
    # The mover's manager was set, and the leaver's cleared: the journal has both, and every step.
    steps = [(r["action"], r["status"]) for r in t.journal_lines()]
    assert steps == [
        ("create", "ok"), ("license", "ok"),
        ("update", "ok"), ("manager", "ok"), ("license", "ok"), ("license", "ok"),
        ("update", "ok"), ("revoke-sessions", "ok"), ("reset-password", "ok"), ("manager", "ok"), ("license", "ok"),
        ("delete", "ok"),
    ]


def test_docs_lifecycle_shows_the_same_commands() -> None:
    assert example(ROOT / "docs" / "lifecycle.md") == example(ROOT / "README.md")
