"""Permissions decided the way Graph decides them (graph-quirks.md "Permission model", §11): the
token's `roles`, `scp` and `wids` against each endpoint's least-privileged permission, the delegated
admin roles, and the privileged-target rules; 403 `Authorization_RequestDenied` otherwise."""

from __future__ import annotations

import pytest
from graph_kit import PASSWORD, assert_error, create, new_user
from starlette.testclient import TestClient

from provisioner.local import permissions as perms
from provisioner.local.app import create_app
from provisioner.local.graph_app import ROUTES

ADMIN = "admin@contoso.onmicrosoft.com"
ASSIGNMENTS = "/v1.0/roleManagement/directory/roleAssignments"
DENIED = "Insufficient privileges to complete the operation."
APP_MARKER = "0997a1d0-0d1d-4acb-b408-d5ca73121e90"
BILLING_ADMIN = "b0f54661-2d74-4c50-afa3-1ec803f12efe"


@pytest.fixture
def tenant(tmp_path):
    """The whole local tenant ($batch included); requests carry a token that is not a JWT: full access."""
    with TestClient(create_app(tmp_path / "t.db"), base_url="http://local.tenant",
                    headers={"Authorization": "Bearer local"}) as c:
        yield c


def token(**claims) -> dict[str, str]:
    return {"Authorization": "Bearer " + perms.unsigned_token(claims)}


def app(*roles: str, wids: tuple[str, ...] = ()) -> dict[str, str]:
    """An app-only token: application permissions in `roles`, the service principal's roles in `wids`."""
    return token(idtyp="app", roles=list(roles), wids=[*wids, APP_MARKER])


def person(scopes: str, *wids: str) -> dict[str, str]:
    """A delegated token: scopes in `scp`, the signed-in admin's roles in `wids`."""
    return token(scp=scopes, wids=list(wids))


def holder(tenant, alias: str, *roles: str) -> str:
    """A new user holding `roles` (template ids); its id."""
    uid = create(tenant, alias)["id"]
    for role in roles:
        body = {"principalId": uid, "roleDefinitionId": role, "directoryScopeId": "/"}
        assert tenant.post(ASSIGNMENTS, json=body).status_code == 201
    return uid


def admin_id(tenant) -> str:
    return tenant.get(f"/v1.0/users/{ADMIN}").json()["id"]


def denied(resp) -> None:
    assert_error(resp, 403, "Authorization_RequestDenied", DENIED)


def test_every_route_has_a_rule() -> None:
    from provisioner.local.license_routes import ROUTES as LICENSE_ROUTES
    from provisioner.local.lifecycle_routes import ROUTES as LIFECYCLE_ROUTES
    from provisioner.local.pim_routes import ROUTES as PIM_ROUTES

    routes = [*ROUTES, *LIFECYCLE_ROUTES, *LICENSE_ROUTES, *PIM_ROUTES]
    assert {route.endpoint.__name__ for route in routes} == set(perms.RULES)


def test_revoking_sessions_needs_its_permission(tenant) -> None:
    uid = tenant.post("/v1.0/users", json=new_user("ann")).json()["id"]
    path = f"/v1.0/users/{uid}/revokeSignInSessions"
    assert tenant.post(path, headers=app("User.Read.All")).status_code == 403
    assert tenant.post(path, headers=app("User.RevokeSessions.All")).status_code == 200


@pytest.mark.parametrize("headers", [{"Authorization": "Bearer opaque-token"}, {"Authorization": "Bearer a.!!!.c"}])
def test_a_token_that_is_not_a_jwt_keeps_full_access(tenant, headers) -> None:
    assert tenant.post("/v1.0/users", json=new_user("ann"), headers=headers).status_code == 201
    assert tenant.delete(f"/v1.0/users/{admin_id(tenant)}", headers=headers).status_code == 204


@pytest.mark.parametrize("headers", [{"Authorization": ""}, {"Authorization": "Basic a.b.c"}])
def test_no_bearer_token_is_401_before_any_permission_is_weighed(tenant, headers) -> None:
    assert tenant.post("/v1.0/users", json=new_user("ann"), headers=headers).status_code == 401


def test_the_least_privileged_permission_of_each_endpoint(tenant) -> None:
    reader = app("User.Read.All")
    assert tenant.get("/v1.0/users", headers=reader).status_code == 200
    assert tenant.get(f"/v1.0/users/{ADMIN}", headers=reader).status_code == 200
    assert tenant.get("/v1.0/directory/deletedItems/microsoft.graph.user", headers=reader).status_code == 200
    denied(tenant.post("/v1.0/users", json=new_user("ann"), headers=reader))
    denied(tenant.get("/v1.0/roleManagement/directory/roleDefinitions", headers=reader))
    denied(tenant.get(ASSIGNMENTS, headers=reader))
    roles = app("RoleManagement.Read.Directory")
    assert tenant.get("/v1.0/roleManagement/directory/roleDefinitions", headers=roles).status_code == 200
    assert tenant.get(ASSIGNMENTS, headers=roles).status_code == 200
    denied(tenant.get("/v1.0/users", headers=roles))


def test_app_only_user_read_basic_is_not_honoured_by_users(tenant) -> None:
    # OBSERVED (graph-quirks.md §11 case 1): the application permission User.ReadBasic.All -> 403.
    denied(tenant.get("/v1.0/users", headers=app("User.ReadBasic.All")))
    assert tenant.get("/v1.0/users", headers=person("User.ReadBasic.All")).status_code == 200


def test_a_higher_permission_satisfies_a_lower_one(tenant) -> None:
    for higher in ("User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"):
        assert tenant.get("/v1.0/users", headers=app(higher)).status_code == 200
    assert tenant.post("/v1.0/users", json=new_user("ann"), headers=app("Directory.ReadWrite.All")).status_code == 201
    writer = app("RoleManagement.ReadWrite.Directory")
    assert tenant.get(ASSIGNMENTS, headers=writer).status_code == 200


def test_permission_names_are_not_case_sensitive(tenant) -> None:
    assert tenant.get("/v1.0/users", headers=app("user.read.all")).status_code == 200


def test_delete_restore_and_purge_permissions(tenant) -> None:
    ann, bob = create(tenant, "ann")["id"], create(tenant, "bob")["id"]
    # Directory.ReadWrite.All does not allow deleting users.
    denied(tenant.delete(f"/v1.0/users/{ann}", headers=app("Directory.ReadWrite.All")))
    assert tenant.delete(f"/v1.0/users/{ann}", headers=app("User.DeleteRestore.All")).status_code == 204
    assert tenant.delete(f"/v1.0/users/{bob}", headers=app("User.ReadWrite.All")).status_code == 204
    restore = f"/v1.0/directory/deletedItems/{ann}/restore"
    denied(tenant.post(restore, headers=app("User.Read.All")))
    assert tenant.post(restore, headers=app("User.ReadWrite.All")).status_code == 200
    # Permanent delete, app-only: User.DeleteRestore.All only; delegated also the older User.ReadWrite.All.
    denied(tenant.delete(f"/v1.0/directory/deletedItems/{bob}", headers=app("User.ReadWrite.All")))
    assert tenant.delete(f"/v1.0/directory/deletedItems/{bob}",
                         headers=app("User.DeleteRestore.All")).status_code == 204


def test_a_token_with_neither_roles_nor_scp_is_refused(tenant) -> None:
    denied(tenant.get("/v1.0/users", headers=token(tid="t", wids=[perms.GLOBAL_ADMIN])))


def test_app_only_deleting_a_privileged_user_needs_a_role_on_the_service_principal(tenant) -> None:
    ga = admin_id(tenant)
    plain = create(tenant, "ann")["id"]
    rw = "User.ReadWrite.All"
    denied(tenant.delete(f"/v1.0/users/{ga}", headers=app(rw)))
    denied(tenant.delete(f"/v1.0/users/{ga}", headers=app(rw, wids=(perms.USER_ADMIN,))))
    assert tenant.delete(f"/v1.0/users/{plain}", headers=app(rw)).status_code == 204
    assert tenant.get(f"/v1.0/users/{ga}").status_code == 200
    assert tenant.delete(f"/v1.0/users/{ga}", headers=app(rw, wids=(perms.PRIV_AUTH_ADMIN,))).status_code == 204


def test_who_may_act_on_whom_follows_the_sensitive_actions_table(tenant) -> None:
    rw = "User.ReadWrite.All"
    helpdesk = holder(tenant, "hd", perms.HELPDESK_ADMIN)
    password = holder(tenant, "pw", perms.PASSWORD_ADMIN)
    billing = holder(tenant, "bill", BILLING_ADMIN)  # a built-in role the table does not list
    auth = holder(tenant, "au", perms.AUTH_ADMIN)
    both = holder(tenant, "both", perms.PASSWORD_ADMIN, perms.HELPDESK_ADMIN)
    as_auth_admin = app(rw, wids=(perms.AUTH_ADMIN,))
    as_user_admin = app(rw, wids=(perms.USER_ADMIN,))
    denied(tenant.delete(f"/v1.0/users/{helpdesk}", headers=as_auth_admin))
    denied(tenant.delete(f"/v1.0/users/{billing}", headers=as_user_admin))
    denied(tenant.delete(f"/v1.0/users/{auth}", headers=as_user_admin))
    denied(tenant.delete(f"/v1.0/users/{both}", headers=as_auth_admin))  # must cover every role held
    assert tenant.delete(f"/v1.0/users/{password}", headers=as_auth_admin).status_code == 204
    assert tenant.delete(f"/v1.0/users/{auth}", headers=as_auth_admin).status_code == 204
    assert tenant.delete(f"/v1.0/users/{helpdesk}", headers=as_user_admin).status_code == 204
    assert tenant.delete(f"/v1.0/users/{both}", headers=as_user_admin).status_code == 204
    assert tenant.delete(f"/v1.0/users/{billing}", headers=app(rw, wids=(perms.GLOBAL_ADMIN,))).status_code == 204


def test_updates_of_a_privileged_user_are_refused_only_for_sensitive_properties(tenant) -> None:
    ga = admin_id(tenant)
    rw = app("User.ReadWrite.All")
    url = f"/v1.0/users/{ga}"
    assert tenant.patch(url, json={"displayName": "Admin"}, headers=rw).status_code == 204
    for body in ({"accountEnabled": False}, {"mobilePhone": "+1 555 0100"}, {"displayName": "A", "otherMails": []}):
        denied(tenant.patch(url, json=body, headers=rw))
    assert tenant.patch(url, json={"accountEnabled": True},
                        headers=app("User.ReadWrite.All", wids=(perms.PRIV_AUTH_ADMIN,))).status_code == 204


def test_update_permissions(tenant) -> None:
    ann = f"/v1.0/users/{create(tenant, 'ann')['id']}"
    assert tenant.patch(ann, json={"displayName": "A"}, headers=app("User.ReadUpdate.All")).status_code == 204
    assert tenant.patch(ann, json={"accountEnabled": False},
                        headers=app("User.EnableDisableAccount.All")).status_code == 204
    denied(tenant.patch(ann, json={"displayName": "A"}, headers=app("User.EnableDisableAccount.All")))
    denied(tenant.patch(ann, json={"displayName": "A"}, headers=app("User.Read.All")))


def test_app_only_password_reset_needs_user_administrator_even_for_ordinary_users(tenant) -> None:
    ann = f"/v1.0/users/{create(tenant, 'ann')['id']}"
    reset = {"passwordProfile": {"password": PASSWORD + "x", "forceChangePasswordNextSignIn": True}}
    denied(tenant.patch(ann, json=reset, headers=app("User.ReadWrite.All")))
    denied(tenant.patch(ann, json=reset, headers=app("Directory.ReadWrite.All", wids=(perms.USER_ADMIN,))))
    assert tenant.patch(ann, json=reset, headers=app("User-PasswordProfile.ReadWrite.All",
                                                     wids=(perms.USER_ADMIN,))).status_code == 204
    ga = f"/v1.0/users/{admin_id(tenant)}"
    denied(tenant.patch(ga, json=reset, headers=app("User.ReadWrite.All", wids=(perms.USER_ADMIN,))))
    assert tenant.patch(ga, json=reset, headers=app("User.ReadWrite.All",
                                                    wids=(perms.PRIV_AUTH_ADMIN,))).status_code == 204


def test_restoring_a_deleted_privileged_user_needs_the_role_too(tenant) -> None:
    uid = holder(tenant, "ga2", perms.GLOBAL_ADMIN)
    assert tenant.delete(f"/v1.0/users/{uid}").status_code == 204
    restore = f"/v1.0/directory/deletedItems/{uid}/restore"
    denied(tenant.post(restore, headers=app("User.DeleteRestore.All")))
    assert tenant.post(restore, headers=app("User.DeleteRestore.All", wids=(perms.PRIV_AUTH_ADMIN,))).status_code == 200
    # Permanent delete is not a sensitive action: the permission alone is enough.
    assert tenant.delete(f"/v1.0/users/{uid}").status_code == 204
    assert tenant.delete(f"/v1.0/directory/deletedItems/{uid}",
                         headers=app("User.DeleteRestore.All")).status_code == 204


def test_delegated_callers_need_their_admin_role(tenant) -> None:
    scopes = "User.ReadWrite.All openid profile"
    denied(tenant.post("/v1.0/users", json=new_user("ann"), headers=person(scopes)))
    denied(tenant.post("/v1.0/users", json=new_user("ann"), headers=person(scopes, perms.HELPDESK_ADMIN)))
    assert tenant.post("/v1.0/users", json=new_user("ann"), headers=person(scopes, perms.USER_ADMIN)).status_code == 201
    assert tenant.post("/v1.0/users", json=new_user("bob"),
                       headers=person("Directory.AccessAsUser.All", perms.GLOBAL_ADMIN)).status_code == 201
    # Reading users needs no admin role.
    assert tenant.get("/v1.0/users", headers=person("User.Read.All")).status_code == 200
    # A User Administrator may not delete a Global Administrator; a Privileged Authentication Administrator may.
    ga = f"/v1.0/users/{admin_id(tenant)}"
    denied(tenant.delete(ga, headers=person(scopes, perms.USER_ADMIN)))
    assert tenant.delete(ga, headers=person(scopes, perms.PRIV_AUTH_ADMIN)).status_code == 204


def test_role_assignments_need_privileged_role_administrator_when_delegated(tenant) -> None:
    ann = create(tenant, "ann")["id"]
    body = {"principalId": ann, "roleDefinitionId": perms.GLOBAL_ADMIN, "directoryScopeId": "/"}
    denied(tenant.post(ASSIGNMENTS, json=body, headers=app("RoleManagement.Read.Directory")))
    denied(tenant.post(ASSIGNMENTS, json=body, headers=app("Directory.ReadWrite.All")))
    scp = "RoleManagement.ReadWrite.Directory"
    denied(tenant.post(ASSIGNMENTS, json=body, headers=person(scp, perms.USER_ADMIN)))
    created = tenant.post(ASSIGNMENTS, json=body, headers=person(scp, perms.PRIV_ROLE_ADMIN))
    assert created.status_code == 201
    # App-only needs no directory role for role management.
    revoke = f"{ASSIGNMENTS}/{created.json()['id']}"
    assert tenant.delete(revoke, headers=app("RoleManagement.ReadWrite.Directory")).status_code == 204


def test_the_app_only_marker_in_wids_is_not_a_role(tenant) -> None:
    denied(tenant.delete(f"/v1.0/users/{admin_id(tenant)}", headers=app("User.ReadWrite.All")))


def test_each_batch_item_is_authorised_on_its_own(tenant) -> None:
    payload = {"requests": [
        {"id": "1", "method": "GET", "url": "/users?$select=id"},
        {"id": "2", "method": "POST", "url": "/users", "headers": {"Content-Type": "application/json"},
         "body": new_user("ann")},
    ]}
    resp = tenant.post("/v1.0/$batch", json=payload, headers=app("User.Read.All"))
    assert resp.status_code == 200
    items = {item["id"]: item for item in resp.json()["responses"]}
    assert items["1"]["status"] == 200
    assert items["2"]["status"] == 403
    error = items["2"]["body"]["error"]
    assert (error["code"], error["message"]) == ("Authorization_RequestDenied", DENIED)
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    assert [u["userPrincipalName"] for u in tenant.get("/v1.0/users").json()["value"]] == [ADMIN]


def test_caller_from_claims() -> None:
    c = perms.caller("Bearer " + perms.unsigned_token({"roles": ["User.Read.All"], "wids": [APP_MARKER, "X"]}))
    assert c == perms.Caller(False, frozenset({"user.read.all"}), frozenset({"x"}))
    c = perms.caller("bearer " + perms.unsigned_token({"scp": "User.Read.All openid", "roles": ["ignored"]}))
    assert c == perms.Caller(True, frozenset({"user.read.all", "openid"}), frozenset())
    assert perms.caller("Bearer " + perms.unsigned_token({})) == perms.Caller(False, frozenset(), frozenset())
    for header in (None, "", "Bearer", "Bearer x.y", "Bearer a.bm90IGpzb24.c", "Bearer a.WzFd.c"):
        assert perms.caller(header) is None


def test_the_product_and_the_local_tenant_read_the_same_tables() -> None:
    # Two implementations of one reference (the product never imports the local tenant): each write the
    # product makes needs, by its own table, exactly the application permissions the tenant accepts.
    from provisioner import permissions as product
    from provisioner.changes import Action

    routes = {Action.CREATE: "create_user", Action.UPDATE: "update_user", Action.DELETE: "delete_user",
              Action.RESTORE: "restore_deleted_item", Action.PURGE: "purge_deleted_item",
              Action.ASSIGN: "create_role_assignment", Action.REVOKE: "delete_role_assignment"}
    for action, route in routes.items():
        assert product.WRITE_NEEDS[action].permissions == perms.RULES[route].app, action
        assert set(product.WRITE_NEEDS[action].person) == set(perms.RULES[route].roles or ()), action
    assert product.READ_USERS == perms.RULES["list_users"].app
    assert product.READ_DELETED == perms.RULES["list_deleted_users"].app
    assert product.READ_ROLES == perms.RULES["list_role_assignments"].app
    assert product.SENSITIVE_PROPERTIES == perms.SENSITIVE_PROPERTIES
    for target, able in product.ACTS_ON.items():
        assert set(able) == perms.SENSITIVE[target], target
    assert set(product.ACTS_ON) == set(perms.SENSITIVE)


# -- PIM (graph-pim-baseline P§A5) ----------------------------------------------------------------

PIM = "/v1.0/roleManagement/directory"
PRIV_ROLE_ADMIN = "e8611ab8-c189-46e8-94e1-60213ab1f814"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"


def test_pim_reads_and_writes_need_their_permissions(tenant) -> None:
    instances = f"{PIM}/roleEligibilityScheduleInstances"
    assert tenant.get(instances, headers=app("RoleEligibilitySchedule.Read.Directory")).status_code == 200
    denied(tenant.get(instances, headers=app("RoleAssignmentSchedule.Read.Directory")))
    # Listing requests needs ReadWrite in practice (observed 403).
    denied(tenant.get(f"{PIM}/roleEligibilityScheduleRequests", headers=app("RoleEligibilitySchedule.Read.Directory")))
    uid = create(tenant, "ann")["id"]
    body = {"action": "adminAssign", "principalId": uid, "roleDefinitionId": BILLING_ADMIN, "directoryScopeId": "/"}
    url = f"{PIM}/roleEligibilityScheduleRequests"
    denied(tenant.post(url, json=body, headers=person("RoleEligibilitySchedule.ReadWrite.Directory", USER_ADMIN)))
    assert tenant.post(url, json=body, headers=person("RoleEligibilitySchedule.ReadWrite.Directory",
                                                      PRIV_ROLE_ADMIN)).status_code == 201


def test_pim_rule_patch_is_delegated_only(tenant) -> None:
    flt = f"scopeId eq '/' and scopeType eq 'DirectoryRole' and roleDefinitionId eq '{BILLING_ADMIN}'"
    pid = tenant.get("/v1.0/policies/roleManagementPolicyAssignments", params={"$filter": flt}).json()["value"][0][
        "policyId"]
    url = f"/v1.0/policies/roleManagementPolicies/{pid}/rules/Expiration_Admin_Eligibility"
    body = {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule", "maximumDuration": "P90D"}
    denied(tenant.patch(url, json=body, headers=app("RoleManagementPolicy.ReadWrite.Directory")))
    assert tenant.patch(url, json=body, headers=person("RoleManagementPolicy.ReadWrite.Directory",
                                                       PRIV_ROLE_ADMIN)).status_code == 204
