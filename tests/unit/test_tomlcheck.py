"""The shared TOML field checker (config.toml and the manifest) and the one GUID test."""

from __future__ import annotations

from provisioner import tomlcheck as tc
from provisioner.ids import is_guid

FIELDS = {
    "name": tc.Field(tc.STR, required=True),
    "count": tc.Field(tc.INT),
    "enabled": tc.Field(tc.BOOL, wrong="must be true or false (without quotes)"),
    "note": tc.Field(tc.TEXT, required=True, missing="missing; every entry needs a note"),
}


def test_unknown_keys_sorted_then_fields_in_order():
    problems = tc.check({"zeta": 1, "cuont": 2, "count": True, "enabled": "yes"}, FIELDS, prefix="t.")
    assert [(p.key, p.message) for p in problems] == [
        ("cuont", "unknown key (known keys here: name, count, enabled, note); did you mean t.count?"),
        ("zeta", "unknown key (known keys here: name, count, enabled, note); remove it"),
        ("name", "missing; add name = ..."),
        ("count", "expected an integer, got a boolean; write it like key = 10"),
        ("enabled", "must be true or false (without quotes)"),
        ("note", "missing; every entry needs a note"),
    ]


def test_a_hint_replaces_the_known_keys_and_good_tables_pass():
    [unknown, *_] = tc.check({"x": 1}, FIELDS, hint="use name and note")
    assert unknown.message == "unknown key; use name and note"
    assert tc.check({"name": "a", "count": 3, "note": " n "}, FIELDS) == []
    assert tc.check({"name": "a", "note": "  "}, FIELDS)[0].key == "note"


def test_is_guid():
    assert is_guid("62e90394-69f5-4237-9190-012177145E10")
    assert not is_guid("62e90394-69f5-4237-9190-012177145e10\n")
    assert not is_guid("{62e90394-69f5-4237-9190-012177145e10}")
    assert not is_guid("admin@contoso.com")
