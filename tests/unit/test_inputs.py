from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.errors import InputError, RowError
from provisioner.inputs import KNOWN_COLUMNS, Manifest, ReadOptions, read_manifest, read_users
from provisioner.inputs.records import HeadingProblem
from provisioner.model import UserSpec

FIXTURES = Path(__file__).parent.parent / "fixtures"


def specs(name, action="create", **kw):
    rows, problems = read_users(FIXTURES / name, for_action=action, **kw)
    return list(rows), problems


def test_entra_template_as_downloaded_every_column_example_row_and_trailing_columns():
    held, problems = read_users(FIXTURES / "entra-bulk-create.csv", for_action="create")
    rows = list(held)
    assert problems == []
    assert [(s.upn, dict(s.attributes), s.row) for s in rows] == [
        (
            "alice@contoso.com",
            {
                "displayName": "Alice Archer",
                "givenName": "Alice",
                "surname": "Archer",
                "jobTitle": "Engineer",
                "department": "R&D",
                "usageLocation": "US",
                "officeLocation": "B2/1021",
                "streetAddress": "1 Main Street",
                "city": "Seattle",
                "state": "WA",
                "postalCode": "98101",
                "country": "United States",
                "businessPhones": ["+1 206 555 0100"],
                "mobilePhone": "+1 206 555 0199",
                "accountEnabled": True,
            },
            4,
        ),
        ("bob@contoso.com", {"displayName": "Bob Baker", "accountEnabled": False}, 5),
    ]
    assert held.notes == ['row 3 is the template\'s example row (it starts with "Example:"); skipped']
    assert rows[0].password == "Welcome-2026!x"
    assert "Welcome" not in repr(rows[0])


def test_plain_csv_and_json_read_the_same_way():
    csv_rows, _ = specs("users.csv")
    json_rows, _ = specs("users.json")
    assert csv_rows == [
        UserSpec(
            "alice@contoso.com",
            {"displayName": "Alice Archer", "jobTitle": "Engineer", "accountEnabled": True},
            ("global", "user"),
            row=2,
        ),
        UserSpec("bob@contoso.com", {"displayName": "Bob Baker", "accountEnabled": False}, (), row=3),
    ]
    assert [(s.upn, s.roles) for s in json_rows] == [
        ("alice@contoso.com", ("global", "user")),
        ("bob@contoso.com", ("billing",)),
    ]


BAD = [
    RowError(2, "userPrincipalName", "missing; every row needs a userPrincipalName"),
    RowError(
        3,
        "userPrincipalName",
        "'al ice@contoso.com' is not a valid user principal name: use letters, digits and ' . - _ ! # ^ ~ $ "
        "(at most 64) before the @ and a domain after it, like alice@contoso.com",
    ),
    RowError(4, "usageLocation", "'USA' is not a country code; use two letters (ISO 3166), like US or DE"),
    RowError(4, "accountEnabled", "'maybe' is not true or false"),
    RowError(
        4,
        "password",
        "the password is too short: at least 8 characters are required; or leave it empty to generate one",
    ),
    RowError(4, "roles", "'global;;user' has an empty entry; separate roles with a single ';'"),
    RowError(5, "userPrincipalName", "bob@contoso.com is already in row 4; list each user once"),
]


def test_every_bad_row_is_reported_at_once():
    with pytest.raises(InputError) as e:
        specs("bad-users.csv")
    assert e.value.problems == BAD
    assert str(e.value).splitlines()[0] == f"{FIXTURES / 'bad-users.csv'}: 7 invalid row(s), nothing was written:"
    assert "short" not in str(e.value).split("password:")[0]


def test_skip_invalid_keeps_the_good_rows():
    rows, problems = specs("bad-users.csv", skip_invalid=True)
    assert problems == BAD
    assert [(s.upn, s.row) for s in rows] == [("carol@contoso.com", 7)]


def test_restore_template_by_object_id():
    rows, problems = specs("restore.csv", "restore", skip_invalid=True)
    assert [s.upn for s in rows] == ["c0ffee00-0000-4000-8000-000000000001"]
    assert problems == [RowError(4, "Object ID [objectId] Required", "'not-a-guid' is not an object id (a GUID)")]


def test_delete_needs_only_the_upn_and_assign_needs_roles(tmp_path):
    delete = tmp_path / "delete.csv"
    delete.write_text("User name [userPrincipalName] Required\nalice@contoso.com\n")
    rows, _ = read_users(delete, for_action="delete")
    assert list(rows) == [UserSpec("alice@contoso.com", {}, (), row=2)]
    assign = tmp_path / "assign.csv"
    assign.write_text("userPrincipalName,roles\nalice@contoso.com,\n")
    with pytest.raises(InputError) as e:
        read_users(assign, for_action="assign")
    assert e.value.problems == [RowError(2, "roles", "missing; list the roles separated by ';', like global;user")]


def test_rows_are_read_once_and_held_as_validated(tmp_path):
    users = tmp_path / "users.csv"
    users.write_text("userPrincipalName,displayName,department,roles,password\n"
                     "alice@contoso.com,Alice,Sales,user;billing,\nbob@contoso.com,Bob,Sales,,Xy7!abcdefg\n")
    rows, _ = read_users(users, for_action="create")
    users.write_text("userPrincipalName,displayName\nnot-a-upn,Bob\n")
    users.unlink()
    expected = [
        UserSpec("alice@contoso.com", {"displayName": "Alice", "department": "Sales"}, ("user", "billing"), row=2),
        UserSpec("bob@contoso.com", {"displayName": "Bob", "department": "Sales"}, (), "Xy7!abcdefg", row=3),
    ]
    assert list(rows) == list(rows) == expected
    assert (len(rows), rows.refs, rows.any_roles) == (2, ["alice@contoso.com", "bob@contoso.com"], True)
    assert rows.passwords == {"bob@contoso.com": "Xy7!abcdefg"}


def test_unknown_columns_are_ignored_with_one_note_or_refused_when_strict(tmp_path):
    path = tmp_path / "users.csv"
    path.write_text("userPrincipalName,title,displayName,Mail\nalice@contoso.com,Boss,Alice,a@x.com\n")
    rows, problems = read_users(path, for_action="create")
    assert (list(rows), problems) == ([UserSpec("alice@contoso.com", {"displayName": "Alice"}, row=2)], [])
    assert rows.notes == ["ignored 2 column(s) this tool does not read: title, Mail (--strict-columns makes them "
                          "an error)"]
    with pytest.raises(InputError) as e:
        read_users(path, for_action="create", skip_invalid=True, options=ReadOptions(strict_columns=True))
    accepted = ", ".join(KNOWN_COLUMNS)
    assert e.value.problems == [
        HeadingProblem(1, heading, f"unknown column (--strict-columns); accepted: {accepted}, or the Entra admin "
                                   "center template's")
        for heading in ("title", "Mail")
    ]


def test_a_heading_problem_is_on_row_1_and_names_the_heading(tmp_path):
    path = tmp_path / "users.csv"
    path.write_text("userPrincipalName,Name [displayName],displayName\nalice@contoso.com,A,B\n")
    with pytest.raises(InputError) as e:
        read_users(path, for_action="create", skip_invalid=True)
    assert str(e.value) == (f"{path}: row 1, column displayName: names displayName, as 'Name [displayName]' does; "
                            "keep one of them (nothing was written)")


def test_semicolon_delimiter_and_template_columns_are_set(tmp_path):
    path = tmp_path / "users.csv"
    path.write_text(
        "version:v1.0\nUser name [userPrincipalName] Required;Name [displayName] Required;City [city]\n"
        "alice@contoso.com;Alice;\nbob@contoso.com;Bob;Oslo\n"
    )
    rows, problems = read_users(path, for_action="create")
    assert (list(rows), problems) == ([
        UserSpec("alice@contoso.com", {"displayName": "Alice"}, row=3),
        UserSpec("bob@contoso.com", {"displayName": "Bob", "city": "Oslo"}, row=4),
    ], [])


def test_manifest():
    assert read_manifest(FIXTURES / "manifest.toml") == Manifest(
        users=(
            UserSpec(
                "alice@contoso.com",
                {"displayName": "Alice Archer", "accountEnabled": True, "jobTitle": "Engineer"},
                ("user",),
                row=1,
            ),
            UserSpec("bob@contoso.com", {"displayName": "Bob Baker", "usageLocation": "DE"}, (), row=2,
                     roles_given=False),
        ),
        scope_domains=("contoso.com",),
        managed_roles=("global", "billing", "password", "service", "user"),
    )


def test_bad_manifest_names_each_entry_and_key():
    with pytest.raises(InputError) as e:
        read_manifest(FIXTURES / "bad-manifest.toml")
    assert [str(p) for p in e.value.problems] == [
        "[scope], key owner: unknown key; [scope] has domains and managed_roles",
        "[[users]] entry 1 (alice@contoso.com), key accountEnabled: must be true or false (without quotes)",
        "[[users]] entry 2 (olga@fabrikam.com), key password: passwords do not belong in a manifest; "
        "new users get a generated one",
        "[[users]] entry 2 (olga@fabrikam.com), key userPrincipalName: its domain is outside [scope] domains "
        "(contoso.com); add the domain to the scope or remove the user",
        "[[users]] entry 3 (alice@contoso.com), key userPrincipalName: already listed in entry 1; list each user once",
        '[[users]] entry 3 (alice@contoso.com), key roles: must be a list of roles, like ["user", { role = '
        '"global", eligible = true, duration = "P180D" }]',
    ]
    assert "Welcome" not in str(e.value)


def test_manifest_entry_problems_all_at_once_in_key_order(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('scope = 3\nusers = 4\n')
    with pytest.raises(InputError) as e:
        read_manifest(path)
    assert [str(p) for p in e.value.problems] == [
        'top level, key scope: must be a table; add [scope] with domains = ["contoso.onmicrosoft.com"]',
        "top level, key users: must be an array of tables: write each user as [[users]]",
    ]
    path.write_text('[scope]\ndomains = ["contoso.com"]\nmanaged_roles = ["user", " "]\n\n[[users]]\n'
                    'userPrincipalName = " a@contoso.com "\nusageLocation = "Germany"\njobTitle = ""\n'
                    'nickname = "x"\n\n[[users]]\nuserPrincipalName = "b@contoso.com"\nusageLocation = " de "\n')
    with pytest.raises(InputError) as e:
        read_manifest(path)
    assert [str(p) for p in e.value.problems] == [
        '[scope], key managed_roles: must be a list of roles, like ["global", "user"]',
        "[[users]] entry 1 (a@contoso.com), key nickname: unknown key; use userPrincipalName, displayName, "
        "accountEnabled, givenName, surname, jobTitle, department, usageLocation, companyName, employeeId, "
        "employeeType, officeLocation, streetAddress, city, state, postalCode, country, businessPhones, mobilePhone, "
        "preferredLanguage, employeeHireDate, roles, licenses",
        '[[users]] entry 1 (a@contoso.com), key jobTitle: must be non-empty text in quotes, like "Engineer"',
        "[[users]] entry 1 (a@contoso.com), key usageLocation: must be a two-letter country code (ISO 3166), like US",
    ]
    path.write_text('[scope]\ndomains = ["contoso.com"]\n\n[[users]]\nuserPrincipalName = "b@contoso.com"\n'
                    'usageLocation = " de "\n')
    assert read_manifest(path).users == (UserSpec("b@contoso.com", {"usageLocation": "DE"}, (), row=1,
                                                  roles_given=False),)


def test_manifest_without_scope_and_invalid_toml(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('[[users]]\nuserPrincipalName = "a@contoso.com"\n')
    with pytest.raises(InputError) as e:
        read_manifest(path)
    assert [str(p) for p in e.value.problems] == [
        '[scope], key domains: missing; add [scope] with domains = ["contoso.onmicrosoft.com"]'
    ]
    path.write_text("[scope\n")
    with pytest.raises(InputError) as e:
        read_manifest(path)
    assert str(e.value.problems[0]).startswith("file: not valid TOML: ")
