"""Saved plans and lifecycle changes: what a plan file may not carry."""

from __future__ import annotations

import pytest
from unit_tenant import ADMIN

from provisioner.changes import Action, Change, PasswordSource, Plan
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
