"""--record writes every Graph exchange without secrets; ``local replay`` finds where a fresh local
tenant answers differently."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from cli_tenant import ADMIN, DOMAIN, Tenant
from click.testing import CliRunner

from provisioner.cli import cli
from provisioner.record import REDACTED, scrub, scrub_body


def replay(path: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["local", "replay", str(path)], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_read_only_scenario_replays_without_difference(tenant: Tenant, tmp_path: Path) -> None:
    record = tmp_path / "reads.jsonl"
    for args in (["users", "list"], ["users", "show", ADMIN], ["roles", "list"], ["roles", "members", "global"],
                 ["deleted", "list"], ["audit"]):
        tenant.ok("--record", str(record), *args)
    exchanges = lines(record)
    assert len(exchanges) >= 6
    assert {e["method"] for e in exchanges} <= {"GET", "POST"}
    first = exchanges[0]
    assert list(first) == ["seq", "method", "url", "requestHeaders", "requestBody", "status", "responseHeaders",
                           "responseBody"]
    assert first["url"].startswith("http://local.tenant/v1.0/")
    assert all(e["status"] == 200 for e in exchanges)
    assert oct(os.stat(record).st_mode & 0o777) == "0o600"
    assert replay(record) == (0, "", f"No differences in {len(exchanges)} exchange(s).\n")


def test_lifecycle_record_has_no_secret_and_replays(tenant: Tenant, tmp_path: Path) -> None:
    record = tmp_path / "life.jsonl"
    upn = f"rec@{DOMAIN}"
    created = tenant.ok("--record", str(record), "users", "create", upn, "--display-name", "Rec", "--role", "billing",
                        "--yes")
    password = re.search(r"Initial password for \S+: (\S+)", created.stderr).group(1)  # type: ignore[union-attr]
    chosen = "Chosen-Pa55word!"
    tenant.ok("--record", str(record), "users", "create", f"own@{DOMAIN}", "--display-name", "Own",
              "--password-stdin", "--yes", input=chosen + "\n")
    for args in (["users", "delete", upn], ["users", "restore", upn], ["roles", "revoke", upn, "billing"],
                 ["users", "delete", upn], ["users", "purge", upn]):
        tenant.ok("--record", str(record), *args, "--yes")

    text = record.read_text(encoding="utf-8")
    assert password not in text and chosen not in text
    assert "authorization" not in text.lower()
    creates = [item for e in lines(record) for item in (e["requestBody"] or {}).get("requests", [])
               if item["method"] == "POST" and item["url"] == "/users"]
    assert [c["body"]["passwordProfile"] for c in creates] == [
        {"forceChangePasswordNextSignIn": True, "password": REDACTED}] * 2
    # Every write recorded with its answer: the ids handed out here are mapped to the fresh tenant's.
    assert replay(record) == (0, "", f"No differences in {len(lines(record))} exchange(s).\n")


def test_replay_names_each_difference(tenant: Tenant, tmp_path: Path) -> None:
    """Users the recorded tenant had and a fresh tenant lacks: one line per difference, exit 1."""
    upn = tenant.create("bob", "billing")
    record = tmp_path / "show.jsonl"
    tenant.ok("--record", str(record), "users", "show", upn)
    # The user, then in one batch its role assignments and its PIM instances (how each role is held).
    assert [(e["method"], e["url"].split("?")[0]) for e in lines(record)] == [
        ("GET", f"http://local.tenant/v1.0/users/{upn}"), ("POST", "http://local.tenant/v1.0/$batch")]
    user_id = tenant.users()[upn]["id"]
    code, out, err = replay(record)
    shown = (f"line 1: GET /users/{upn}?$select=id,userPrincipalName,displayName,accountEnabled,givenName,surname,"
             "jobTitle...")
    held = (f"line 2: POST /$batch item held GET /roleManagement/directory/roleAssignments?$filter=principalId eq "
            f"'{user_id}'")
    active = (f"line 2: POST /$batch item ac:{user_id} GET /roleManagement/directory/roleAssignmentScheduleInstances"
              f"?$filter=principalId eq '{user_id}'")
    instance = ("appScopeId", "assignmentType", "directoryScopeId", "endDateTime", "id", "memberType", "principalId",
                "roleAssignmentOriginId", "roleAssignmentScheduleId", "roleDefinitionId", "startDateTime")
    # Bob is missing, and so is his Billing Administrator assignment (an empty list has no properties).
    assert (code, out.splitlines(), err) == (1, [
        f"{shown}: status 200 recorded, 404 locally",
        f"{shown}: error none recorded, Request_ResourceNotFound locally",
        *(f"{held}: property value[].{p} only recorded" for p in ("directoryScopeId", "id", "principalId",
                                                                   "roleDefinitionId")),
        *(f"{active}: property value[].{p} only recorded" for p in instance),
    ], "17 difference(s) in 2 exchange(s).\n")


def test_replay_reports_a_real_service_answer_the_local_tenant_does_not_give(tmp_path: Path) -> None:
    """A recorded refusal (real Graph's 400 for $top on role definitions) against the local answer."""
    body = {"error": {"code": "Request_UnsupportedQuery",
                      "message": "This resource requires a minimum page size of 20.",
                      "innerError": {"date": "2026-11-30T10:00:00", "request-id": "r", "client-request-id": "c"}}}
    entry = {"seq": 1, "method": "GET", "url": "https://graph.microsoft.com/v1.0/roleManagement/directory/"
             "roleDefinitions?$top=1&$select=id", "requestHeaders": {}, "requestBody": None, "status": 400,
             "responseHeaders": {}, "responseBody": body}
    record = tmp_path / "real.jsonl"
    record.write_text(json.dumps(entry) + "\n", encoding="utf-8")
    # The local tenant has learned this answer (graph-quirks §1): no difference left.
    assert replay(record) == (0, "", "No differences in 1 exchange(s).\n")
    entry["status"], body["error"]["code"] = 200, "Other"
    record.write_text(json.dumps(entry) + "\n", encoding="utf-8")
    label = "line 1: GET /roleManagement/directory/roleDefinitions?$top=1&$select=id"
    code, out, _ = replay(record)
    assert (code, out.splitlines()) == (1, [f"{label}: status 200 recorded, 400 locally",
                                           f"{label}: error Other recorded, Request_UnsupportedQuery locally"])


@pytest.mark.parametrize(("content", "message"), [
    ("not json\n", "Error: FILE line 1: not a recorded exchange (Expecting value: line 1 column 1 (char 0)); "
                   "give a file written by --record"),
    ('{"url": "https://graph.microsoft.com/v1.0/users"}\n',
     "Error: FILE line 1: not a recorded exchange (missing 'method'); give a file written by --record"),
    ('{"method": "GET", "url": "https://example.com/users"}\n',
     "Error: FILE line 1: not a recorded exchange (url 'https://example.com/users' is not a Microsoft Graph URL); "
     "give a file written by --record"),
])
def test_replay_refuses_a_file_that_is_not_a_recording(tmp_path: Path, content: str, message: str) -> None:
    record = tmp_path / "bad.jsonl"
    record.write_text(content, encoding="utf-8")
    code, out, err = replay(record)
    assert (code, out, err) == (1, "", message + "\n")


def test_record_refuses_a_link_and_a_directory(tenant: Tenant, tmp_path: Path) -> None:
    (tmp_path / "elsewhere.jsonl").write_text("", encoding="utf-8")
    link = tmp_path / "link.jsonl"
    link.symlink_to(tmp_path / "elsewhere.jsonl")
    result = tenant.run("--record", str(link), "users", "list")
    assert result.exit_code == 1
    assert result.stderr == (f"Error: --record: cannot write {link}: it is a symbolic link; name a regular file "
                             "you can write\n")
    missing = tmp_path / "no" / "such.jsonl"
    result = tenant.run("--record", str(missing), "users", "list")
    assert result.exit_code == 1
    assert result.stderr == (f"Error: --record: cannot write {missing}: No such file or directory; name a regular "
                             "file you can write\n")


def test_scrub_removes_every_secret_but_keeps_the_shape() -> None:
    batch = {"requests": [{"id": "1", "method": "POST", "url": "/users",
                           "headers": {"Authorization": "Bearer abc"},
                           "body": {"passwordProfile": {"password": "p1", "forceChangePasswordNextSignIn": False},
                                    "clientSecret": "s1", "secretHint": 7, "passwordPolicies": None,
                                    "displayName": "x", "nested": [{"newPassword": "p2"}]}}]}
    assert scrub(batch) == {"requests": [{"id": "1", "method": "POST", "url": "/users",
                                          "headers": {"Authorization": REDACTED},
                                          "body": {"passwordProfile": {"password": REDACTED,
                                                                       "forceChangePasswordNextSignIn": False},
                                                   "clientSecret": REDACTED, "secretHint": REDACTED,
                                                   "passwordPolicies": None, "displayName": "x",
                                                   "nested": [{"newPassword": REDACTED}]}}]}
    assert scrub_body(b'{"password": "tru') == '{"password": "<redacted>"'
    assert scrub_body(b"client_secret=abc&grant_type=x") == 'client_secret="<redacted>"&grant_type=x'
    assert scrub_body(b"") is None
