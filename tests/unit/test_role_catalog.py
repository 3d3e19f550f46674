from __future__ import annotations

import pytest
from unit_tenant import (
    BILLING,
    EXCHANGE_ADMIN,
    GA,
    HELPDESK,
    PASSWORD_ADMIN,
    ROLES,
    SECURITY_ADMIN,
    SERVICE,
    USER_ADMIN,
)

from provisioner.errors import NotFound
from provisioner.model import RoleDefinition
from provisioner.roles import CLASSIC_ROLES, classic_for, is_privileged, resolve_role
from provisioner.roles.catalog import AmbiguousRole


@pytest.mark.parametrize(
    ("ref", "name"),
    [
        ("global", "Global Administrator"),
        ("GLOBAL", "Global Administrator"),
        ("billing", "Billing Administrator"),
        ("password", "Helpdesk Administrator"),
        ("service", "Service Support Administrator"),
        ("user", "User Administrator"),
    ],
)
def test_every_alias(ref, name):
    assert resolve_role(ref, ROLES).display_name == name


@pytest.mark.parametrize(
    ("ref", "template"),
    [
        ("Company Administrator", GA),
        ("company administrator", GA),
        ("User Account Administrator", USER_ADMIN),
        ("Service Administrator", SERVICE),
        ("User management administrator", USER_ADMIN),
        ("Global administrator", GA),
        ("Billing administrator", BILLING),
    ],
)
def test_legacy_and_classic_names(ref, template):
    assert resolve_role(ref, ROLES).template_id == template


@pytest.mark.parametrize(
    "ref", ["Helpdesk Administrator", "helpdesk-administrator", "HELPDESK_ADMINISTRATOR", HELPDESK]
)
def test_display_name_is_tolerant_and_template_id_works(ref):
    assert resolve_role(ref, ROLES).template_id == HELPDESK


@pytest.mark.parametrize("roles", [ROLES, [], [d for d in ROLES if d.template_id != PASSWORD_ADMIN]])
def test_password_administrator_by_name_is_ambiguous_and_refused_with_how_to_name_each(roles):
    with pytest.raises(AmbiguousRole) as e:
        resolve_role("Password Administrator", roles)
    assert str(e.value) == (
        "'Password administrator' names two roles: the classic Password administrator, today's Helpdesk "
        "Administrator (alias password, 729827e3-9c14-49f7-bb1b-9608f156bbb8), and Entra's narrower Password "
        "Administrator, which only resets passwords (966707d0-3269-4727-9be2-8c3a10f19b9d); name one: "
        "'password' or 'Helpdesk Administrator' for the first, '966707d0-3269-4727-9be2-8c3a10f19b9d' for the second")
    assert resolve_role("password", roles).template_id == HELPDESK


def test_the_narrower_password_administrator_by_template_id():
    assert resolve_role(PASSWORD_ADMIN, ROLES).template_id == PASSWORD_ADMIN


def test_classic_names_mean_the_classic_roles():
    for name, template in (("User management administrator", "fe930be7-5e62-47db-91af-98c3a49a38b1"),
                           ("Service administrator", "f023fd81-a637-4b56-95fd-791ac0226033")):
        assert resolve_role(name, []).template_id == template


def test_any_builtin_role_and_definition_id():
    assert resolve_role("exchange administrator", ROLES).template_id == EXCHANGE_ADMIN
    custom = RoleDefinition(
        "11111111-2222-3333-4444-555555555555", "Custom Ops", "99999999-2222-3333-4444-555555555555"
    )
    assert resolve_role("11111111-2222-3333-4444-555555555555", [custom]) is custom
    assert resolve_role("99999999-2222-3333-4444-555555555555", [custom]) is custom


def test_classic_alias_resolves_without_the_tenant_list():
    role = resolve_role("user", [])
    assert role == RoleDefinition(USER_ADMIN, "User Administrator", USER_ADMIN, is_privileged=True)


def test_unknown_role_lists_aliases_and_suggestions():
    with pytest.raises(NotFound) as e:
        resolve_role("Global Admnistrator", ROLES)
    assert str(e.value) == (
        "unknown role 'Global Admnistrator'; use an alias (global, billing, password, service, user), "
        "a role name or a template id; did you mean 'Global Administrator' or 'Company Administrator' or "
        "'Billing Administrator'? "
        "See every role with: provisioner roles list --all"
    )


def test_unknown_role_without_close_match():
    with pytest.raises(NotFound) as e:
        resolve_role("zzz", ROLES)
    assert str(e.value) == (
        "unknown role 'zzz'; use an alias (global, billing, password, service, user), "
        "a role name or a template id. See every role with: provisioner roles list --all"
    )


def test_classic_catalog():
    assert [(r.alias, r.entra_name, r.privileged) for r in CLASSIC_ROLES] == [
        ("global", "Global Administrator", True),
        ("billing", "Billing Administrator", False),
        ("password", "Helpdesk Administrator", True),
        ("service", "Service Support Administrator", False),
        ("user", "User Administrator", True),
    ]
    assert classic_for(HELPDESK).classic_name == "Password administrator"
    assert classic_for(EXCHANGE_ADMIN) is None


def test_is_privileged_prefers_the_tenant_flag_then_the_reference():
    assert is_privileged(RoleDefinition(SECURITY_ADMIN, "Security Administrator", SECURITY_ADMIN)) is True
    assert is_privileged(RoleDefinition(EXCHANGE_ADMIN, "Exchange Administrator", EXCHANGE_ADMIN)) is False
    assert is_privileged(RoleDefinition(GA, "Global Administrator", GA, is_privileged=False)) is False
