"""--from files the way admins make them: Excel's encodings and delimiters, the Entra template as
downloaded, files this tool and PowerShell export fed straight back in, and hostile input refused
in one line before anything is written."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cli_tenant import DOMAIN, Tenant

FIXTURES = Path(__file__).parent.parent / "fixtures"
TARGET = "Target: local (local tenant, simulated)\n"
SAVE_AS = 'or in Excel use Save As "CSV UTF-8 (Comma delimited)"'


def _user(tenant: Tenant, upn: str) -> dict:
    return tenant.json("users", "show", upn)


# --- Excel's encodings and delimiters -----------------------------------------------------------


def test_excel_windows_1252_csv_needs_encoding_and_then_opens(tenant: Tenant) -> None:
    path = tenant.root / "users.csv"
    path.write_bytes(f"userPrincipalName,displayName\r\nrene@{DOMAIN},Ren\xe9 Dupont\r\n".encode("cp1252"))
    refused = tenant.run("users", "create", "--from", str(path), "--yes")
    assert refused.exit_code == 64
    offset = len(f"userPrincipalName,displayName\r\nrene@{DOMAIN},Ren")
    assert refused.stderr == (
        f"Error: {path}: row 2: byte 0xE9 (offset {offset}) is not UTF-8; name the file's encoding, like "
        f'--encoding cp1252 (Excel\'s "CSV (Comma delimited)"), {SAVE_AS} (nothing was written)\n')
    created = tenant.ok("users", "create", "--from", str(path), "--encoding", "cp1252", "--yes")
    assert created.stderr.startswith(TARGET)
    assert _user(tenant, f"rene@{DOMAIN}")["displayName"] == "René Dupont"


def test_excel_unicode_text_utf16_tab_separated_opens(tenant: Tenant) -> None:
    path = tenant.root / "users.txt"
    text = f"userPrincipalName\tdisplayName\tcity\r\nzoe@{DOMAIN}\tZoë Ångström\tMalmö\r\n"
    path.write_bytes(text.encode("utf-16"))  # with a byte-order mark, as Excel writes it
    tenant.ok("users", "create", "--from", str(path), "--yes")
    user = _user(tenant, f"zoe@{DOMAIN}")
    assert (user["displayName"], user["city"]) == ("Zoë Ångström", "Malmö")


def test_delimiter_is_sniffed_or_forced(tenant: Tenant) -> None:
    path = tenant.root / "users.csv"
    path.write_text(f"userPrincipalName;displayName;department\nann@{DOMAIN};Ann, Jr.;R&D\n", encoding="utf-8-sig")
    tenant.ok("users", "create", "--from", str(path), "--yes")
    assert _user(tenant, f"ann@{DOMAIN}")["displayName"] == "Ann, Jr."
    path.write_text(f"userPrincipalName|displayName\nbea@{DOMAIN}|Bea\n", encoding="utf-8")
    tenant.ok("users", "create", "--from", str(path), "--delimiter", "|", "--yes")
    assert _user(tenant, f"bea@{DOMAIN}")["displayName"] == "Bea"
    bad = tenant.run("users", "create", "--from", str(path), "--delimiter", "ab")
    assert bad.exit_code == 64
    assert "Invalid value for '--delimiter': 'ab': give one character, like ';' or ',' (or tab)" in bad.stderr
    bad = tenant.run("users", "delete", "--from", str(path), "--encoding", "klingon")
    assert bad.exit_code == 64
    assert ("Invalid value for '--encoding': 'klingon' is not an encoding; use a name like cp1252, latin-1 or "
            "utf-16") in bad.stderr


# --- row numbers ----------------------------------------------------------------------------------


def test_rows_are_numbered_as_the_spreadsheet_shows_them(tenant: Tenant) -> None:
    plain = tenant.root / "plain.csv"
    plain.write_text(f"userPrincipalName,displayName\nok@{DOMAIN},Ok\n\nnot-a-upn,Bad\n")
    result = tenant.run("users", "create", "--from", str(plain), "--yes")
    assert result.exit_code == 64
    assert result.stderr == (
        f"Error: {plain}: row 4, column userPrincipalName: 'not-a-upn' is not a valid user principal name: use "
        "letters, digits and ' . - _ ! # ^ ~ $ (at most 64) before the @ and a domain after it, like "
        "alice@contoso.com (nothing was written)\n")
    template = tenant.root / "template.csv"
    template.write_text("version:v1.0\nUser name [userPrincipalName] Required,Name [displayName] Required\n"
                        f"ok@{DOMAIN},Ok\nbad@{DOMAIN},\n")
    result = tenant.run("users", "create", "--from", str(template), "--yes")
    assert result.exit_code == 64
    assert result.stderr == (f"Error: {template}: row 4, column Name [displayName] Required: missing; a new user "
                             "needs a display name (nothing was written)\n")


# --- the Entra template as downloaded -------------------------------------------------------------


def test_entra_bulk_create_template_sets_every_column(tenant: Tenant) -> None:
    path = tenant.root / "entra-bulk-create.csv"
    path.write_bytes((FIXTURES / "entra-bulk-create.csv").read_bytes().replace(b"@contoso.com", f"@{DOMAIN}".encode()))
    result = tenant.ok("users", "create", "--from", str(path), "--yes")
    assert result.stderr.splitlines()[0] == (
        "Note: entra-bulk-create.csv: row 3 is the template's example row (it starts with \"Example:\"); skipped.")
    alice = _user(tenant, f"alice@{DOMAIN}")
    assert {k: alice[k] for k in ("displayName", "usageLocation", "streetAddress", "city", "state", "postalCode",
                                  "country", "officeLocation", "businessPhones", "mobilePhone", "accountEnabled")} == {
        "displayName": "Alice Archer", "usageLocation": "US", "streetAddress": "1 Main Street", "city": "Seattle",
        "state": "WA", "postalCode": "98101", "country": "United States", "officeLocation": "B2/1021",
        "businessPhones": ["+1 206 555 0100"], "mobilePhone": "+1 206 555 0199", "accountEnabled": True,
    }
    assert _user(tenant, f"bob@{DOMAIN}")["accountEnabled"] is False
    assert f"chris@{DOMAIN}" not in tenant.users()


# --- exported files feed straight back in -------------------------------------------------------


def test_deleted_list_csv_feeds_users_restore(tenant: Tenant) -> None:
    upns = [tenant.create("dora"), tenant.create("eric")]
    tenant.ok("users", "delete", *upns, "--yes")
    exported = tenant.root / "deleted.csv"
    exported.write_text(tenant.ok("deleted", "list", "-o", "csv").stdout)
    result = tenant.run("users", "restore", "--from", str(exported), "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[0] == (
        "Note: deleted.csv: ignored 5 column(s) this tool does not read: deletedUserPrincipalName, "
        "onPremisesSyncEnabled, deletedDateTime, expiresDateTime, daysLeft (--strict-columns makes them an error).")
    assert set(upns) <= set(tenant.users())
    assert tenant.deleted() == {}


def test_filtered_users_list_csv_feeds_users_delete(tenant: Tenant) -> None:
    for name in ("tmp-one", "tmp-two", "keep"):
        tenant.create(name)
    exported = tenant.root / "users.csv"
    exported.write_text(tenant.ok("users", "list", "--upn-prefix", "tmp-", "-o", "csv").stdout)
    result = tenant.run("users", "delete", "--from", str(exported), "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[0] == (
        "Note: users.csv: ignored 3 column(s) this tool does not read: mailNickname, onPremisesSyncEnabled, "
        "createdDateTime (--strict-columns makes them an error).")
    assert sorted(tenant.deleted()) == [f"tmp-one@{DOMAIN}", f"tmp-two@{DOMAIN}"]
    assert f"keep@{DOMAIN}" in tenant.users()
    strict = tenant.run("users", "delete", "--from", str(exported), "--strict-columns", "--yes")
    assert strict.exit_code == 64
    assert strict.stderr.splitlines()[0] == f"Error: {exported}: 3 invalid row(s), nothing was written:"


def test_powershell_export_csv_of_get_mguser_feeds_users_create(tenant: Tenant) -> None:
    result = tenant.run("users", "create", "--from", str(FIXTURES / "get-mguser-export.csv"), "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[:2] == [
        "Note: get-mguser-export.csv: ignored 8 column(s) this tool does not read: AboutMe, AgeGroup, "
        "AssignedLicenses, CreatedDateTime, Mail, MailNickname, UserType, AdditionalProperties "
        "(--strict-columns makes them an error).",
        "Note: get-mguser-export.csv: column BusinessPhones holds 'System.String[]', PowerShell's text for a list "
        "or an object, not a value; ignored (export lists with -join).",
    ]
    megan = _user(tenant, f"MeganB@{DOMAIN}")
    assert {k: megan[k] for k in ("displayName", "givenName", "surname", "jobTitle", "department", "city",
                                  "companyName", "employeeId", "mobilePhone", "businessPhones", "accountEnabled")} == {
        "displayName": "Megan Bowen", "givenName": "Megan", "surname": "Bowen", "jobTitle": "Marketing Manager",
        "department": "Marketing", "city": "Pittsburgh", "companyName": "Contoso", "employeeId": "1042",
        "mobilePhone": "+1 412 555 0109", "businessPhones": [], "accountEnabled": True,
    }
    assert _user(tenant, f"LeeG@{DOMAIN}")["accountEnabled"] is False


# --- hostile input: refused in one line, nothing written -----------------------------------------


def _json_deep(depth: int) -> str:
    return "[" * depth + "]" * depth


HOSTILE: dict[str, tuple[str, bytes, tuple[str, ...], str]] = {
    # id: (file name, content, extra args, the message after "Error: <path>: ")
}


def _case(name: str, filename: str, content: bytes | str, message: str, *args: str) -> None:
    data = content.encode("utf-8") if isinstance(content, str) else content
    HOSTILE[name] = (filename, data, args, message)


HEAD = "userPrincipalName,displayName\n"
U = f"u@{DOMAIN}"
_case("unbalanced quote", "q.csv", f'{HEAD}{U},"Alice Archer\nb@{DOMAIN},Bob\nc@{DOMAIN},Carol\n',
      "row 2, column displayName: the cell runs from line 2 to line 4: a quote (\") opened in it is not closed "
      "where the cell ends; close the quote or remove the line break")
_case("field over the csv limit", "big.csv", f'{HEAD}{U},"{"x" * 200_000}"\n',
      "row 2: cannot be read as CSV (field larger than field limit (131072)); no user property is that long: "
      "check the quotes in this row")
_case("NUL", "nul.csv", f"{HEAD}{U},Al\x00ice\n", "row 2, column displayName: has NUL at character 3; remove it")
_case("ESC", "esc.csv", f"{HEAD}{U},\x1b]0;pwned\x07Alice\n",
      "row 2, column displayName: has ESC at character 1; remove it")
_case("BEL", "bel.csv", f"{HEAD}{U},Ali\x07ce\n",
      "row 2, column displayName: has the control character U+0007 at character 4; remove it")
_case("C1 control", "c1.csv", f"{HEAD}{U},Ali\x85ce\n",
      "row 2, column displayName: has the control character U+0085 at character 4; remove it")
_case("tab in a comma file", "tab.csv", f"{HEAD}{U},Ali\tce\n",
      "row 2, column displayName: has a tab at character 4; remove it")
_case("display name over 256", "long.csv", f"{HEAD}{U},{'A' * 257}\n",
      "row 2, column displayName: is 257 characters long; Entra allows at most 256 for displayName")
_case("employee id over 16", "emp.csv", f"userPrincipalName,displayName,employeeId\n{U},A,{'1' * 17}\n",
      "row 2, column employeeId: is 17 characters long; Entra allows at most 16 for employeeId")
_case("two office phones", "phones.json",
      json.dumps([{"userPrincipalName": U, "displayName": "A", "businessPhones": ["1", "2"]}]),
      "row 1, column businessPhones: Entra keeps one office phone number; give one")
_case("binary", "png.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
      f"file: holds binary data, not text; give a CSV or JSON file ({SAVE_AS})")
_case("random bytes", "bin.csv", bytes((i * 7919) % 256 for i in range(3000)).replace(b"\x00", b"\x01"),
      f"file: holds binary data, not text; give a CSV or JSON file ({SAVE_AS})")
_case("xlsx workbook", "users.csv", b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 100,
      f"file: is a ZIP archive (an Excel .xlsx workbook?), not a CSV or JSON file; export it as CSV, {SAVE_AS}")
_case("latin-1 CSV", "latin1.csv", f"{HEAD}{U},Jos\xe9\n".encode("latin-1"),
      f"row 2: byte 0xE9 (offset {len(HEAD) + len(U) + 4}) is not UTF-8; name the file's encoding, like --encoding "
      f'cp1252 (Excel\'s "CSV (Comma delimited)"), {SAVE_AS}')
_case("UTF-16 without BOM", "u16.csv", f"{HEAD}{U},A\n".encode("utf-16-le"),
      f"file: holds NUL bytes throughout: UTF-16 without a byte-order mark? name it with --encoding utf-16-le, "
      f"{SAVE_AS}")
_case("UTF-16 cut short", "u16b.csv", f"{HEAD}{U},A\n".encode("utf-16-le")[:-1],
      f"row 2: the file ends inside a character: it is not UTF-16; name the file's encoding with --encoding, "
      f"{SAVE_AS}", "--encoding", "utf-16-le")
_case("JSON in latin-1", "latin1.json", json.dumps([{"userPrincipalName": U, "displayName": "Jos\xe9"}],
                                                   ensure_ascii=False).encode("latin-1"),
      f"row 1: byte 0xE9 (offset 71) is not UTF-8; name the file's encoding, like --encoding cp1252 (Excel's "
      f'"CSV (Comma delimited)"), {SAVE_AS}')
_case("JSON 100,000 deep", "deep.json", _json_deep(100_000),
      'file: nested too deeply; a user file is a list of flat objects: [{"userPrincipalName": "...", '
      '"displayName": "..."}]')
_case("JSON 5,000-digit number", "num.json", f'[{{"userPrincipalName": "{U}", "displayName": {"9" * 5000}}}]',
      "row 1, column displayName: must be text")
_case("JSON not a list", "obj.json", json.dumps({"userPrincipalName": U}),
      "file: expected a JSON list of user objects: [{...}, {...}]")
_case("JSON broken", "broken.json", '[{"userPrincipalName": }]',
      "line 1, column 24: not valid JSON (Expecting value); fix the file")
_case("empty file", "empty.csv", "", "row 1: has no headings; the first row names the columns, like "
      "userPrincipalName,displayName")
_case("value under no heading", "nohead.csv", f"userPrincipalName,displayName,\n{U},A,oops\n",
      "row 2, column C (no heading): a value under no heading; name the column or clear the cell")
_case("more cells than headings", "extra.csv", f"{HEAD}{U},Archer, Alice\n",
      "row 2, column -: 3 cells but 2 headings; quote cells that contain ','")
_case("unknown column, strict", "strict.csv", f"userPrincipalName,displayName,Nickname\n{U},A,a\n",
      "row 1, column Nickname: unknown column (--strict-columns); accepted: userPrincipalName, objectId, "
      "displayName, givenName, surname, jobTitle, department, usageLocation, companyName, employeeId, "
      "employeeType, officeLocation, streetAddress, city, state, postalCode, country, businessPhones, mobilePhone, "
      "preferredLanguage, employeeHireDate, accountEnabled, password, roles, licenses, manager, "
      "newUserPrincipalName, or the Entra admin center template's", "--strict-columns")
_case("ESC in a role", "roles.csv", f"userPrincipalName,displayName,roles\n{U},A,global;\x1b[2Juser\n",
      "row 2, column roles: has ESC at character 1; remove it")
_case("huge UPN", "upn.csv", f"{HEAD}{'a' * 100_000}@{DOMAIN},A\n",
      "row 2, column userPrincipalName: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...ft.com' (100,024 "
      "characters) is not a valid user principal name: use letters, digits and ' . - _ ! # ^ ~ $ (at most 64) "
      "before the @ and a domain after it, like alice@contoso.com")


def _fingerprint(tenant: Tenant) -> str:
    return hashlib.sha256(tenant.state.read_bytes()).hexdigest()


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_input_is_refused_in_one_line_before_any_write(tenant: Tenant, case: str) -> None:
    filename, data, args, message = HOSTILE[case]
    path = tenant.root / filename
    path.write_bytes(data)
    before = _fingerprint(tenant)
    result = tenant.run("users", "create", "--from", str(path), *args, "--yes")
    assert (result.exit_code, result.stdout) == (64, "")
    assert result.stderr == f"Error: {path}: {message} (nothing was written)\n"
    assert _fingerprint(tenant) == before
    assert not tenant.journal.exists()


# --- the new properties through a manifest, a saved plan and a re-run ----------------------------


def test_manifest_sets_address_and_phone_through_a_saved_plan_and_converges(tenant: Tenant) -> None:
    manifest = tenant.root / "m.toml"
    manifest.write_text(f'[scope]\ndomains = ["{DOMAIN}"]\n\n[[users]]\nuserPrincipalName = "fay@{DOMAIN}"\n'
                        'displayName = "Fay"\ncity = "Oslo"\nbusinessPhones = ["+47 22 00 00 00"]\n'
                        'employeeId = "E-7"\n', encoding="utf-8")
    plan = tenant.root / "plan.json"
    tenant.ok("sync", str(manifest), "--out", str(plan))
    tenant.ok("apply", str(plan), "--yes")
    fay = _user(tenant, f"fay@{DOMAIN}")
    assert (fay["city"], fay["businessPhones"], fay["employeeId"]) == ("Oslo", ["+47 22 00 00 00"], "E-7")
    again = tenant.ok("sync", str(manifest), "--dry-run")
    assert "No changes" in again.stdout + again.stderr


def test_a_formula_quoted_on_export_comes_back_as_it_was(tenant: Tenant) -> None:
    tenant.ok("users", "create", f"plus@{DOMAIN}", "--display-name", "+1 Team")
    exported = tenant.root / "export.csv"
    exported.write_text(tenant.ok("users", "list", "--upn-prefix", "plus", "-o", "csv").stdout)
    assert "'+1 Team" in exported.read_text()
    tenant.ok("users", "delete", f"plus@{DOMAIN}", "--yes")
    tenant.ok("users", "purge", f"plus@{DOMAIN}", "--yes")
    tenant.ok("users", "create", "--from", str(exported), "--yes")
    assert tenant.users()[f"plus@{DOMAIN}"]["displayName"] == "+1 Team"
