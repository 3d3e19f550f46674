"""Saved plans and lifecycle changes: what a plan file may not carry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from unit_tenant import ADMIN

from provisioner.changes import Action, Change, PasswordSource, Plan
from provisioner.licenses import Plan as ServicePlan
from provisioner.licenses import Sku
from provisioner.model import TenantState, User
from provisioner.plan.licenses import Held, saved_problems
from provisioner.planfile import PlanFormatError


def _reset(source: PasswordSource) -> dict:
    change = Change(Action.PASSWORD, ADMIN.user_principal_name, ADMIN.id, password=source,
                    properties={"forceChangePasswordNextSignIn": False})
    return Plan((change,), tenant="contoso", fingerprint="f" * 64).to_json()


def test_a_saved_reset_to_a_random_password_nobody_sees_is_refused() -> None:
    with pytest.raises(PlanFormatError) as e:
        Plan.from_json(_reset(PasswordSource.HIDDEN))
    assert str(e.value) == (
        f"change 1 (reset-password {ADMIN.user_principal_name}): password must be \"generate\", not \"random\": a "
        "reset to a password nobody sees is only made by users offboard, never from a file")
    assert Plan.from_json(_reset(PasswordSource.GENERATE)).changes[0].password is PasswordSource.GENERATE
    data = _reset(PasswordSource.GENERATE)
    data["changes"][0]["password"] = "supplied"
    with pytest.raises(PlanFormatError, match=r'password must be "generate" \(never a password itself\)$'):
        Plan.from_json(data)


# --- an edited license change: what it says the user holds must be true -----------------------------

MFA = ServicePlan("8a256a2b-b617-496d-b51b-e76466e88db0", "MFA_PREMIUM", "Success")
E5 = Sku("06ebc4ee-1bb5-47dd-8120-11324bc54e06", "SPE_E5", 5, 1, 0, 0, "Enabled", "User", (MFA,))
O365E3 = Sku("6fd2c87f-b296-42f0-b197-1e91e994b900", "ENTERPRISEPACK", 5, 0, 0, 0, "Enabled", "User", ())
ANN_ID = "00000000-0000-0000-0000-0000000000a1"


def _ann() -> TenantState:
    ann = User(id=ANN_ID, user_principal_name="ann@c.com", usage_location="GB")
    return TenantState(now=datetime(2026, 1, 1, tzinfo=UTC), users={"ann@c.com": ann})


def _license(updates: dict) -> Plan:
    return Plan((Change(Action.LICENSE, "ann@c.com", ANN_ID, updates=updates),), tenant="contoso", fingerprint="f" * 64)


def test_a_saved_license_change_must_say_truly_what_the_user_holds() -> None:
    holds_e5 = {ANN_ID: {E5.id: Held((MFA.id,))}}
    skus = [E5, O365E3]
    # An addition shown as a change of disabled plans (it would take a seat).
    assert saved_problems(_license({O365E3.id: ([], [])}), _ann(), skus, holds_e5) == [
        "ann@c.com does not hold ENTERPRISEPACK directly: the plan shows a change of its disabled plans, but it would "
        "add the license (a seat); make the plan again"]
    # A SKU held shown as added; disabled plans other than those held.
    assert saved_problems(_license({E5.id: (None, [])}), _ann(), skus, holds_e5) == [
        "ann@c.com already holds SPE_E5: the plan shows it as added; make the plan again"]
    assert saved_problems(_license({E5.id: ([], [MFA.id])}), _ann(), skus, holds_e5) == [
        f"ann@c.com holds SPE_E5 with disabled plans ['{MFA.id}'], not none as the plan shows; make the plan again"]
    # Removing a SKU the user does not hold.
    assert saved_problems(_license({O365E3.id: ([], None)}), _ann(), skus, holds_e5) == [
        "ann@c.com does not hold ENTERPRISEPACK directly: the plan cannot remove it; make the plan again"]
    # True ones pass.
    assert saved_problems(_license({E5.id: ([MFA.id], []), O365E3.id: (None, [])}), _ann(), skus, holds_e5) == []
    assert saved_problems(_license({E5.id: ([MFA.id], None)}), _ann(), skus, holds_e5) == []


def test_a_license_plan_file_names_each_sku_once_in_any_case() -> None:
    data = _license({O365E3.id: (None, [])}).to_json()
    data["changes"][0]["updates"] = {O365E3.id: [None, []], O365E3.id.upper(): [[], None]}
    with pytest.raises(PlanFormatError) as e:
        Plan.from_json(data)
    assert str(e.value) == (
        f"change 1 (license ann@c.com): updates names license {O365E3.id} twice (skuIds are the same in any case); "
        "keep one [before, after] pair for it")
    # One spelling in capitals is read as the same id (and so matches the digest of the plan made).
    data["changes"][0]["updates"] = {O365E3.id.upper(): [None, [MFA.id.upper()]]}
    assert Plan.from_json({**data, "digest": _license({O365E3.id: (None, [MFA.id])}).digest}).changes[0].updates == {
        O365E3.id: (None, [MFA.id])}
