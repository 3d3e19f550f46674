"""docs/manifest.schema.json is what scripts/manifest_schema.py makes of the manifest reader's rules,
and the documented example manifest is one the reader accepts."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from provisioner.inputs import read_manifest

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_schema_is_current() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "manifest_schema.py"), "--check"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, "docs/manifest.schema.json is stale: run python scripts/manifest_schema.py"


def test_the_documented_example_reads(tmp_path: Path) -> None:
    example = re.search(r"```toml\n(.*?)```", (ROOT / "docs" / "manifest.md").read_text(encoding="utf-8"), re.S)
    path = tmp_path / "m.toml"
    path.write_text(example.group(1), encoding="utf-8")
    manifest = read_manifest(path)
    assert [u.upn for u in manifest.users] == ["alice@contoso.onmicrosoft.com", "bob@contoso.onmicrosoft.com"]
    assert [u.roles_given for u in manifest.users] == [True, False]
