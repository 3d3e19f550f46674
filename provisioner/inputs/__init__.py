"""Input files: user rows from CSV or JSON (``rows``, read by ``records``) and the desired-state
manifest (TOML, ``manifest``), with the field checks they share (``fields``).

Everything is validated before anything is planned, and every problem is reported at once with
its row (or entry), its column (or key) and the fix.
"""

from __future__ import annotations

from provisioner.inputs.fields import EntryError, country_problem, upn_problem
from provisioner.inputs.manifest import read_manifest
from provisioner.inputs.records import KNOWN_COLUMNS, ReadOptions
from provisioner.inputs.rows import ACTIONS, UserRows, read_users
from provisioner.model import Manifest

__all__ = [
    "ACTIONS",
    "KNOWN_COLUMNS",
    "EntryError",
    "Manifest",
    "ReadOptions",
    "UserRows",
    "country_problem",
    "read_manifest",
    "read_users",
    "upn_problem",
]
