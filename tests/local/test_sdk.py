"""msgraph-sdk's GraphServiceClient against the local tenant in-process (httpx.ASGITransport)."""

from __future__ import annotations

import asyncio

import httpx
from graph_kit import DOMAIN, PASSWORD
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.unified_role_assignment import UnifiedRoleAssignment
from msgraph.generated.models.user import User
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from msgraph.graph_request_adapter import options as GRAPH_DEFAULT_OPTIONS
from msgraph_core import GraphClientFactory

from provisioner.local.graph_app import graph_app

BASE = "http://local.tenant/v1.0"
HELPDESK = "729827e3-9c14-49f7-bb1b-9608f156bbb8"


def sdk_client(app) -> GraphServiceClient:
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE),
        options=GRAPH_DEFAULT_OPTIONS,
    )
    adapter = GraphRequestAdapter(AnonymousAuthenticationProvider(), client=http)
    adapter.base_url = BASE
    return GraphServiceClient(request_adapter=adapter)


def test_sdk_round_trip(state):
    app = graph_app(state)

    async def scenario():
        client = sdk_client(app)
        created = []
        for i in range(5):
            user = User(
                account_enabled=True,
                display_name=f"Sdk {i}",
                mail_nickname=f"sdk{i}",
                user_principal_name=f"sdk{i}@{DOMAIN}",
                password_profile=PasswordProfile(password=PASSWORD, force_change_password_next_sign_in=True),
            )
            created.append(await client.users.post(user))
        assert [u.user_principal_name for u in created] == [f"sdk{i}@{DOMAIN}" for i in range(5)]

        try:
            await client.users.post(
                User(
                    account_enabled=True,
                    display_name="Dup",
                    mail_nickname="sdk0",
                    user_principal_name=f"sdk0@{DOMAIN}",
                    password_profile=PasswordProfile(password=PASSWORD),
                )
            )
            raise AssertionError("duplicate accepted")
        except ODataError as err:
            assert err.response_status_code == 400
            assert err.error.code == "Request_BadRequest"
            assert err.error.details[0].code == "ObjectConflict"

        params = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            select=["id", "userPrincipalName"], top=2, filter="startswith(userPrincipalName,'sdk')"
        )
        page = await client.users.get(RequestConfiguration(query_parameters=params))
        seen = [u.user_principal_name for u in page.value]
        pages = 1
        while page.odata_next_link:
            page = await client.users.with_url(page.odata_next_link).get()
            seen += [u.user_principal_name for u in page.value]
            pages += 1
        assert pages == 3 and seen == [f"sdk{i}@{DOMAIN}" for i in range(5)]

        target = created[1]
        assignment = await client.role_management.directory.role_assignments.post(
            UnifiedRoleAssignment(role_definition_id=HELPDESK, principal_id=target.id, directory_scope_id="/")
        )
        assert assignment.id.endswith("-1")
        listed = await client.role_management.directory.role_assignments.get(
            RequestConfiguration(
                query_parameters=client.role_management.directory.role_assignments.RoleAssignmentsRequestBuilderGetQueryParameters(
                    filter=f"principalId eq '{target.id}'", expand=["principal"]
                )
            )
        )
        assert [a.id for a in listed.value] == [assignment.id]
        assert listed.value[0].principal.display_name == "Sdk 1"

        await client.users.by_user_id(target.id).delete()
        deleted = await client.directory.deleted_items.graph_user.get()
        assert [u.id for u in deleted.value] == [target.id]
        assert deleted.value[0].user_principal_name == target.id.replace("-", "") + f"sdk1@{DOMAIN}"

        restored = await client.directory.deleted_items.by_directory_object_id(target.id).restore.post()
        assert isinstance(restored, User) and restored.user_principal_name == f"sdk1@{DOMAIN}"
        again = await client.role_management.directory.role_assignments.by_unified_role_assignment_id(
            assignment.id
        ).get()
        assert again.principal_id == target.id
        await client.role_management.directory.role_assignments.by_unified_role_assignment_id(
            assignment.id
        ).delete()

        await client.users.by_user_id(target.id).delete()
        await client.directory.deleted_items.by_directory_object_id(target.id).delete()
        assert (await client.directory.deleted_items.graph_user.get()).value == []
        try:
            await client.users.by_user_id(target.id).get()
            raise AssertionError("purged user still readable")
        except ODataError as err:
            assert err.response_status_code == 404 and err.error.code == "Request_ResourceNotFound"

        definitions = await client.role_management.directory.role_definitions.get()
        assert any(d.template_id == HELPDESK for d in definitions.value)

    asyncio.run(scenario())
    app.state.store.close()
