"""Pure rules of the leaver commands: who may reset whose password (L§4.2/§4.3), and seat counting
in a license plan (L§6.1)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from provisioner import permissions as perms
from provisioner.errors import Refused
from provisioner.licenses import Plan, Sku, resolve_sku
from provisioner.model import TenantState, User
from provisioner.plan.licenses import Held, LicenseEdit, plan_licenses

E5 = Sku("06ebc4ee-1bb5-47dd-8120-11324bc54e06", "SPE_E5", 2, 2, 0, 0, "Enabled", "User",
         (Plan("8a256a2b-b617-496d-b51b-e76466e88db0", "MFA_PREMIUM", "Success"),))


def test_resetters_follow_the_table_and_the_app_only_floor() -> None:
    assert perms.resetters(set(), app_only=False)[0] == perms.PASSWORD_ADMIN
    assert perms.resetters(set(), app_only=True) == (perms.USER_ADMIN, perms.PRIV_AUTH_ADMIN, perms.GLOBAL_ADMIN)
    assert perms.resetters({perms.HELPDESK_ADMIN}, app_only=False) == (
        perms.HELPDESK_ADMIN, perms.USER_ADMIN, perms.PRIV_AUTH_ADMIN, perms.GLOBAL_ADMIN)
    assert perms.resetters({perms.GLOBAL_ADMIN}, app_only=True) == (perms.PRIV_AUTH_ADMIN, perms.GLOBAL_ADMIN)


def _state(*names: str) -> TenantState:
    users = {f"{n}@c.com": User(id=f"0000000{i}-0000-0000-0000-000000000000", user_principal_name=f"{n}@c.com",
                                display_name=n, account_enabled=True, usage_location="GB")
             for i, n in enumerate(names)}
    return TenantState(now=datetime(2026, 1, 1, tzinfo=UTC), users=users)


def test_seats_freed_in_the_same_plan_count_and_shortage_names_the_numbers() -> None:
    state = _state("ann", "bob")
    ann, bob = (u.id.lower() for u in state.users.values())
    held = {ann: {E5.id: Held()}}
    swap = [LicenseEdit("ann@c.com", remove=(E5.id,)), LicenseEdit("bob@c.com", add={E5.id: ()})]
    planned = plan_licenses(swap, state, [E5], held)
    assert len(planned.plan.changes) == 2
    with pytest.raises(Refused) as refused:
        plan_licenses([LicenseEdit("bob@c.com", add={E5.id: ()})], state, [E5], held)
    assert "SPE_E5 (Microsoft 365 E5): 1 seat(s) needed, 0 free (2 enabled, 2 consumed)" in str(refused.value)
    group_only = {ann: {E5.id: Held(direct=False)}}
    with pytest.raises(Refused, match="gets SPE_E5 from a group"):
        plan_licenses([LicenseEdit("ann@c.com", remove=(E5.id,))], state, [E5], group_only)
    assert resolve_sku("microsoft 365 e5", [E5]) is E5 and bob


def test_free_never_goes_below_zero() -> None:
    over = Sku("x", "SPE_E5", 1, 3, 0, 0, "Enabled", "User", ())
    assert over.free == 0
