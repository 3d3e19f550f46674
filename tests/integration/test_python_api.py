"""The README's Python API example runs as written, on a fresh local tenant, and prints what it says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _example() -> tuple[str, str]:
    section = README.read_text(encoding="utf-8").split("## Python API", 1)[1].split("\n## ", 1)[0]
    code, output = re.findall(r"```(?:python|text)\n(.*?)```", section, flags=re.S)
    return code, output


def test_the_readme_example_creates_a_user_with_a_role(tmp_path: Path) -> None:
    code, expected = _example()
    env = {**os.environ, "PROVISIONER_LOCAL_STATE": str(tmp_path / "tenant.db"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data")}
    for name in ("PROVISIONER_TENANT", "PROVISIONER_CONFIG"):  # no config: the built-in local tenant
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected
    journal = tmp_path / "data" / "provisioner" / "journal.jsonl"
    assert len(journal.read_text(encoding="utf-8").splitlines()) == 2  # the create and the assignment
