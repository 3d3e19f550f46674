"""Graph's published v1.0 schema: the shipped index is current, the local tenant refuses what the schema
does not declare as Graph does, and none of its answers holds a property the schema does not declare."""

from __future__ import annotations

import importlib.util
import tomllib
from importlib import resources
from pathlib import Path

import pytest
from graph_kit import DOMAIN, assert_error, create

from provisioner.local.schema import Schema, index

ROOT = Path(__file__).resolve().parents[2]
BASE = "/v1.0/roleManagement/directory"
HELPDESK = "729827e3-9c14-49f7-bb1b-9608f156bbb8"


def _script():
    spec = importlib.util.spec_from_file_location("schema_index", ROOT / "scripts" / "schema_index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script():
    return _script()


@pytest.fixture(scope="module")
def full(script):
    return script.full_schemas()["worldwide"]


def test_shipped_index_is_what_the_csdl_gives(script):
    shipped = resources.files("provisioner.local").joinpath("schema_index.json").read_bytes()
    assert shipped == script.build().encode()
    assert len(shipped) < 32_000  # PIM's request, schedule, instance and policy-rule types took it past 20 kB


def test_package_ships_the_index_and_not_the_csdl():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "local/*.json" in pyproject["tool"]["setuptools"]["package-data"]["provisioner"]
    assert not list((ROOT / "provisioner").rglob("*.csdl*"))


def test_index_holds_the_served_types_with_their_bases():
    schema = index()
    assert schema.lineage("user") == ["user", "directoryObject", "entity"]
    assert schema.member("unifiedRoleDefinition", "isPrivileged") is None
    assert schema.member("user", "passwordProfile") == ("property", "passwordProfile", "passwordProfile")
    assert schema.member("user", "manager") == ("navigation", "manager", "directoryObject")
    assert schema.member("user", "businessPhones")[2] == "Collection(Edm.String)"
    assert schema.operation("directoryObject", False, "restore")[1]["parameters"] == {
        "autoReconcileProxyConflict": "Edm.Boolean",
        "newUserPrincipalName": "Edm.String",
    }
    assert index().types["unifiedRoleAssignment"]["absentIn21Vianet"] == ["principalOrganizationId"]


# -- refusals -----------------------------------------------------------------------------------------

SEGMENT = "Resource not found for the segment '{}'."
SELECT = "Parsing OData Select and Expand failed: Could not find a property named '{}' on type 'microsoft.graph.{}'."


@pytest.mark.parametrize(
    "url,code,message",
    [
        ("/v1.0/people", "BadRequest", SEGMENT.format("people")),
        ("/v1.0/users/x/shoes", "BadRequest", SEGMENT.format("shoes")),
        (f"{BASE}/roleDefinitionz", "BadRequest", SEGMENT.format("roleDefinitionz")),
        ("/v1.0/users?$select=id,shoeSize", "BadRequest", SELECT.format("shoeSize", "user")),
        (f"{BASE}/roleDefinitions?$select=isPrivileged", "BadRequest",
         SELECT.format("isPrivileged", "unifiedRoleDefinition")),
        (f"{BASE}/roleAssignments?$select=createdDateTime", "BadRequest",
         SELECT.format("createdDateTime", "unifiedRoleAssignment")),
        (f"{BASE}/roleAssignments?$expand=principal,owner", "BadRequest",
         SELECT.format("owner", "unifiedRoleAssignment")),
        ("/v1.0/users?$expand=displayName", "BadRequest", SELECT.format("displayName", "user")),
        ("/v1.0/users?$filter=startswith(shoeSize,'4')", "Request_UnsupportedQuery",
         "Property 'shoeSize' does not exist as a declared property or extension property."),
        (f"{BASE}/roleDefinitions?$filter=isPrivileged eq true", "Request_UnsupportedQuery",
         "Property 'isPrivileged' does not exist as a declared property or extension property."),
        ("/v1.0/users?$orderby=shoeSize desc", "Request_UnsupportedQuery",
         "Unsupported sort property 'shoeSize' for 'User'."),
    ],
)
def test_undeclared_names_in_path_and_query_are_refused(client, url, code, message):
    assert_error(client.get(url), 400, code, message)


def test_declared_names_pass_in_any_case_and_unheld_ones_answer_null(client):
    ann = create(client, "ann")
    body = client.get(f"/v1.0/users/{ann['id']}?$select=DisplayName,aboutMe").json()
    assert (body["displayName"], body["aboutMe"]) == ("Ann", None)
    assert client.get("/v1.0/users?$filter=DISPLAYNAME eq 'Ann'&$select=id").json()["value"] == [{"id": ann["id"]}]
    # Declared by Graph but not filterable: the directory's refusal, not the schema's.
    assert_error(
        client.get("/v1.0/users?$filter=officeLocation eq 'x'"),
        400,
        "Request_UnsupportedQuery",
        "Unsupported or invalid query filter clause specified for property 'officeLocation' of resource 'User'.",
    )


def test_undeclared_body_properties_are_refused(client):
    ann = create(client, "ann")
    assert_error(client.patch(f"/v1.0/users/{ann['id']}", json={"shoeSize": 9}), 400, "Request_BadRequest",
                 "Invalid property 'shoeSize'.")
    body = {"passwordProfile": {"password": "xWwvJ]6NMw+bWH-d", "expires": True}}
    assert_error(
        client.patch(f"/v1.0/users/{ann['id']}", json=body),
        400,
        "BadRequest",
        "The property 'expires' does not exist on type 'microsoft.graph.passwordProfile'. Make sure to only use "
        "property names that are defined by the type or mark the type as open type.",
    )
    assignment = {"roleDefinitionId": HELPDESK, "principalId": ann["id"], "directoryScopeId": "/", "scope": "/"}
    assert_error(
        client.post(f"{BASE}/roleAssignments", json=assignment),
        400,
        "BadRequest",
        "The property 'scope' does not exist on type 'microsoft.graph.unifiedRoleAssignment'. Make sure to only "
        "use property names that are defined by the type or mark the type as open type.",
    )
    assert client.delete(f"/v1.0/users/{ann['id']}").status_code == 204
    assert_error(
        client.post(f"/v1.0/directory/deletedItems/{ann['id']}/restore", json={"newUpn": f"a@{DOMAIN}"}),
        400,
        "BadRequest",
        "The parameter 'newUpn' in the request payload is not a valid parameter for the operation 'restore'.",
    )
    # Nothing was changed by the refused requests.
    assert client.get(f"/v1.0/directory/deletedItems/{ann['id']}").status_code == 200


def test_batch_items_meet_the_schema_too(state):
    from starlette.testclient import TestClient

    from provisioner.local.app import create_app

    with TestClient(create_app(state), base_url="http://local.tenant",
                    headers={"Authorization": "Bearer local"}) as batch_client:
        answer = batch_client.post("/v1.0/$batch", json={"requests": [
            {"id": "1", "method": "GET", "url": "/users?$select=shoeSize"},
            {"id": "2", "method": "GET", "url": "/users?$select=id"},
        ]}).json()
    by_id = {r["id"]: r for r in answer["responses"]}
    assert (by_id["1"]["status"], by_id["1"]["body"]["error"]["code"]) == (400, "BadRequest")
    assert by_id["2"]["status"] == 200


# -- answers ------------------------------------------------------------------------------------------


def test_no_route_answers_a_property_the_schema_does_not_declare(client, full):
    """Every route, with and without options, against the compact index and the full CSDL."""
    ann, bob = create(client, "ann", jobTitle="Clerk"), create(client, "bob")
    made = client.post(f"{BASE}/roleAssignments",
                       json={"roleDefinitionId": HELPDESK, "principalId": ann["id"], "directoryScopeId": "/"})
    assert made.status_code == 201
    assert client.delete(f"/v1.0/users/{bob['id']}").status_code == 204
    answers = [
        ("user", ann),
        ("unifiedRoleAssignment", made.json()),
        ("user", client.get("/v1.0/users").json()),
        ("user", client.get("/v1.0/users?$select=id,passwordProfile,createdDateTime,mail").json()),
        ("user", client.get(f"/v1.0/users/{ann['id']}").json()),
        ("directoryObject", client.get("/v1.0/directory/deletedItems/microsoft.graph.user").json()),
        ("directoryObject", client.get(f"/v1.0/directory/deletedItems/{bob['id']}").json()),
        ("unifiedRoleDefinition", client.get(f"{BASE}/roleDefinitions").json()),
        ("unifiedRoleDefinition", client.get(f"{BASE}/roleDefinitions/{HELPDESK}").json()),
        ("unifiedRoleAssignment", client.get(f"{BASE}/roleAssignments?$expand=principal").json()),
        ("unifiedRoleAssignment", client.get(f"{BASE}/roleAssignments?$expand=roleDefinition").json()),
        ("unifiedRoleAssignment", client.get(f"{BASE}/roleAssignments/{made.json()['id']}?$expand=principal").json()),
        ("directoryObject", client.post(f"/v1.0/directory/deletedItems/{bob['id']}/restore").json()),
    ]
    for schema in (index(), full):
        for type_name, body in answers:
            for item in body.get("value", [body]):
                assert schema.undeclared(type_name, item) == [], (type_name, item)
    # The check does look: a beta property is caught, inside an expanded object too.
    assert index().undeclared("unifiedRoleAssignment", {"roleDefinition": {"isPrivileged": True}}) == [
        "roleDefinition.isPrivileged"
    ]


# -- the full-schema check of recorded requests --------------------------------------------------------


def test_recorded_requests_are_checked_against_the_full_schema(script):
    schemas = script.full_schemas()
    fine = [
        {"method": "GET", "path": "/users/a@b.c/memberOf", "query": {"$select": "displayName"}, "body": None},
        {"method": "POST", "path": "/users/x/revokeSignInSessions", "query": {}, "body": None},
        {"method": "POST", "path": "/users", "query": {}, "body": {"passwordProfile": {"password": None}}},
    ]
    assert script.check_requests(fine, schemas) == []
    wrong = [
        {"method": "GET", "path": "/roleManagement/directory/roleDefinitions", "query": {"$select": "isPrivileged"},
         "body": None},
        {"method": "POST", "path": "/roleManagement/directory/roleAssignments", "query": {},
         "body": {"principalOrganizationId": None}},
    ]
    assert script.check_requests(wrong, schemas) == [
        "worldwide: GET /roleManagement/directory/roleDefinitions?$select=isPrivileged -> BadRequest: "
        + SELECT.format("isPrivileged", "unifiedRoleDefinition"),
        "21Vianet: GET /roleManagement/directory/roleDefinitions?$select=isPrivileged -> BadRequest: "
        + SELECT.format("isPrivileged", "unifiedRoleDefinition"),
        "21Vianet: POST /roleManagement/directory/roleAssignments? -> BadRequest: The property "
        "'principalOrganizationId' does not exist on type 'microsoft.graph.unifiedRoleAssignment'. Make sure to "
        "only use property names that are defined by the type or mark the type as open type.",
    ]


def test_schema_reads_any_model():
    tiny = Schema({
        "root": {"things": ["set", "thing"]},
        "types": {"thing": {"kind": "entity", "properties": {"id": "Edm.String"}, "navigation": {}}},
        "operations": {},
    })
    assert tiny.resolve(["things", "1"]).type == "thing"
    with pytest.raises(Exception, match="segment 'colour'"):
        tiny.resolve(["things", "1", "colour"])
