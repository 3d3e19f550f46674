"""The role vocabulary: the five classic Office 365 admin roles, their legacy names, and resolution
of whatever an admin types (alias, display name, legacy name, template id) to a tenant's role.

Why ``password`` means Helpdesk Administrator: the classic Office 365 "Password administrator"
reset passwords, managed service requests and monitored service health, which is today's
Helpdesk Administrator (Microsoft: "This role was previously named Password Administrator in the
Azure portal"). Entra also has a separate, narrower built-in role whose display name is
"Password Administrator" (966707d0-...): it can only reset passwords. That full name could mean
either, so it is refused with how to name each (alias or template id).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from provisioner.errors import ExitCode, NotFound, ProvisionerError
from provisioner.model import RoleDefinition

GLOBAL_ADMIN_ID = "62e90394-69f5-4237-9190-012177145e10"


@dataclass(frozen=True)
class ClassicRole:
    """One of the five classic admin roles, with the Entra built-in role it became."""

    alias: str
    classic_name: str
    entra_name: str
    template_id: str
    privileged: bool


CLASSIC_ROLES: tuple[ClassicRole, ...] = (
    ClassicRole("global", "Global administrator", "Global Administrator", GLOBAL_ADMIN_ID, True),
    ClassicRole(
        "billing",
        "Billing administrator",
        "Billing Administrator",
        "b0f54661-2d74-4c50-afa3-1ec803f12efe",
        False,
    ),
    ClassicRole(
        "password",
        "Password administrator",
        "Helpdesk Administrator",
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        True,
    ),
    ClassicRole(
        "service",
        "Service administrator",
        "Service Support Administrator",
        "f023fd81-a637-4b56-95fd-791ac0226033",
        False,
    ),
    ClassicRole(
        "user",
        "User management administrator",
        "User Administrator",
        "fe930be7-5e62-47db-91af-98c3a49a38b1",
        True,
    ),
)

# Names the MSOnline module, the legacy directoryRoles API and the old portals used. "Password
# Administrator" is deliberately absent: it is the display name of a role that exists today.
LEGACY_NAMES: dict[str, str] = {
    "Company Administrator": GLOBAL_ADMIN_ID,
    "Company Administrators": GLOBAL_ADMIN_ID,
    "User Account Administrator": "fe930be7-5e62-47db-91af-98c3a49a38b1",
    "Service Administrator": "f023fd81-a637-4b56-95fd-791ac0226033",
}

# Template ids Entra's built-in roles reference labels "Privileged", used when the tenant does not
# say (Graph returns isPrivileged on beta only).
PRIVILEGED_TEMPLATE_IDS: frozenset[str] = frozenset(
    {
        GLOBAL_ADMIN_ID,
        "e8611ab8-c189-46e8-94e1-60213ab1f814",  # Privileged Role Administrator
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",  # Privileged Authentication Administrator
        "194ae4cb-b126-40b2-bd5b-6091b380977d",  # Security Administrator
        "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f",  # Security Operator
        "5d6b6bb7-de71-4623-b4af-96380a352509",  # Security Reader
        "fe930be7-5e62-47db-91af-98c3a49a38b1",  # User Administrator
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",  # Helpdesk Administrator
        "966707d0-3269-4727-9be2-8c3a10f19b9d",  # Password Administrator
        "c4e39bd9-1100-46d3-8c65-fb160da0071f",  # Authentication Administrator
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",  # Application Administrator
        "cf1c38e5-3621-4004-a7cb-879624dced7c",  # Application Developer
        "158c047a-c907-4556-b7ef-446551a6b5f7",  # Cloud Application Administrator
        "7698a772-787b-4ac8-901f-60d6b08affd2",  # Cloud Device Administrator
        "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",  # Conditional Access Administrator
        "3a2c62db-5318-420d-8d74-23affee5d9d5",  # Intune Administrator
        "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2",  # Hybrid Identity Administrator
        "8329153b-31d0-4727-b945-745eb3bc5f31",  # Domain Name Administrator
        "be2f45a1-457d-42af-a067-6ec1fa63bc45",  # External Identity Provider Administrator
        "9360feb5-f418-4baa-8175-e2a00bac4301",  # Directory Writers
        "f2ef992c-3afb-46b9-b7cf-a126ee74c451",  # Global Reader
        "59d46f88-662b-457b-bceb-5c3809e5908f",  # Lifecycle Workflows Administrator
        "25a516ed-2fa0-40ea-a2d0-12923a21473a",  # Authentication Extensibility Administrator
        "aaf43236-0c0d-4d5f-883a-6955382ac081",  # B2C IEF Keyset Administrator
        "4ba39ca4-527c-499a-b93d-d9b492c50246",  # Partner Tier1 Support
        "e00e864a-17c5-4a4b-9c06-f5b95a8d5bd8",  # Partner Tier2 Support
    }
)

PASSWORD_ADMIN_ID = "966707d0-3269-4727-9be2-8c3a10f19b9d"  # Entra's narrower role: resets passwords only


class AmbiguousRole(ProvisionerError):
    """A role name that means two roles: refused, with how to name each."""

    exit_code = ExitCode.USAGE


_BY_ALIAS = {r.alias: r for r in CLASSIC_ROLES}
# Names that mean two roles. "Password administrator" is the classic name of Helpdesk Administrator
# (what `roles list` shows) and the display name of Entra's narrower Password Administrator.
_AMBIGUOUS = {
    "passwordadministrator": (
        "'Password administrator' names two roles: the classic Password administrator, today's Helpdesk "
        "Administrator (alias password, 729827e3-9c14-49f7-bb1b-9608f156bbb8), and Entra's narrower Password "
        f"Administrator, which only resets passwords ({PASSWORD_ADMIN_ID}); name one: 'password' or "
        f"'Helpdesk Administrator' for the first, '{PASSWORD_ADMIN_ID}' for the second"
    ),
}
_BY_TEMPLATE = {r.template_id: r for r in CLASSIC_ROLES}
_SEPARATORS = re.compile(r"[\s_\-]+")


def _norm(name: str) -> str:
    return _SEPARATORS.sub("", name).casefold()


def classic_for(template_id: str) -> ClassicRole | None:
    """The classic role a template id belongs to, or None for any other role."""
    return _BY_TEMPLATE.get(template_id.lower())


def is_privileged(definition: RoleDefinition) -> bool:
    """Whether a role is privileged: the tenant's own flag when it gives one, else Entra's label."""
    if definition.is_privileged is not None:
        return definition.is_privileged
    return definition.template_id.lower() in PRIVILEGED_TEMPLATE_IDS


def _builtin(classic: ClassicRole) -> RoleDefinition:
    # A built-in role's definition id is its template id in every tenant, so a classic role
    # still resolves when the tenant's role list was not read.
    return RoleDefinition(
        id=classic.template_id,
        display_name=classic.entra_name,
        template_id=classic.template_id,
        is_privileged=classic.privileged,
    )


def classic_definitions() -> list[RoleDefinition]:
    """The five classic roles as role definitions, for a plan made without reading the tenant's."""
    return [_builtin(c) for c in CLASSIC_ROLES]


def resolve_role(ref: str, definitions: Sequence[RoleDefinition]) -> RoleDefinition:
    """Resolve a role reference to one of the tenant's role definitions.

    Accepted, in this order: one of the five aliases (``global``, ``billing``, ``password``,
    ``service``, ``user``), a template id or definition id, a display name, a legacy MSOnline
    name (``Company Administrator``, ``User Account Administrator``, ``Service Administrator``)
    and a classic Office 365 name (``User management administrator``). Names are matched without
    regard to case, spaces, underscores or hyphens. Raises ``NotFound`` with suggestions.
    """
    text = ref.strip()
    key = _norm(text)
    by_template = {d.template_id.lower(): d for d in definitions}

    def for_template(template_id: str) -> RoleDefinition:
        found = by_template.get(template_id)
        if found is not None:
            return found
        classic = _BY_TEMPLATE.get(template_id)
        if classic is not None:
            return _builtin(classic)
        raise NotFound(f"role {text!r} is not available in this tenant")

    alias = _BY_ALIAS.get(text.lower())
    if alias is not None:
        return for_template(alias.template_id)
    if key in _AMBIGUOUS:
        raise AmbiguousRole(_AMBIGUOUS[key])
    for d in definitions:
        if text.lower() in (d.id.lower(), d.template_id.lower()):
            return d
    if text.lower() in _BY_TEMPLATE:
        return for_template(text.lower())
    for d in definitions:
        if _norm(d.display_name) == key:
            return d
    for name, template_id in LEGACY_NAMES.items():
        if _norm(name) == key:
            return for_template(template_id)
    for classic in CLASSIC_ROLES:
        if key in (_norm(classic.classic_name), _norm(classic.entra_name)):
            return for_template(classic.template_id)
    raise NotFound(_unknown_message(text, definitions))


def _unknown_message(ref: str, definitions: Sequence[RoleDefinition]) -> str:
    names = sorted({d.display_name for d in definitions} | {r.entra_name for r in CLASSIC_ROLES})
    names += sorted(LEGACY_NAMES)
    by_norm: dict[str, str] = {}
    for name in names:
        by_norm.setdefault(name.casefold(), name)
    close = difflib.get_close_matches(ref.casefold(), list(by_norm), n=3, cutoff=0.6)
    aliases = ", ".join(r.alias for r in CLASSIC_ROLES)
    message = f"unknown role {ref!r}; use an alias ({aliases}), a role name or a template id"
    if close:
        message += "; did you mean " + " or ".join(repr(by_norm[c]) for c in close) + "?"
    else:
        message += "."
    return message + " See every role with: provisioner roles list --all"
