"""A saved plan's license changes, checked again at apply time (pure): the fingerprint covers the
licenses its users hold, the names it shows are the SKUs' and plans' own, the seats and usage
locations are counted again, and the plan file keeps the names."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from provisioner.changes import Action, Change, Plan
from provisioner.licenses import Plan as ServicePlan
from provisioner.licenses import Sku
from provisioner.model import TenantState, User
from provisioner.plan import check_labels, fingerprint
from provisioner.plan.licenses import Held, LicenseEdit, Wanted, add_wanted, plan_licenses, saved_problems
from provisioner.planfile import PlanFormatError

MFA = ServicePlan("8a256a2b-b617-496d-b51b-e76466e88db0", "MFA_PREMIUM", "Success")
E5 = Sku("06ebc4ee-1bb5-47dd-8120-11324bc54e06", "SPE_E5", 2, 1, 0, 0, "Enabled", "User", (MFA,))
O365E3 = Sku("6fd2c87f-b296-42f0-b197-1e91e994b900", "ENTERPRISEPACK", 5, 0, 0, 0, "Enabled", "User", ())
ANN_ID, BOB_ID = "00000000-0000-0000-0000-0000000000a1", "00000000-0000-0000-0000-0000000000b1"


def tenant(**locations: str | None) -> TenantState:
    users = {f"{n}@c.com": User(id=oid, user_principal_name=f"{n}@c.com", usage_location=locations.get(n, "GB"))
             for n, oid in (("ann", ANN_ID), ("bob", BOB_ID))}
    return TenantState(now=datetime(2026, 1, 1, tzinfo=UTC), users=users)


def give(ref: str, *skus: Sku, disabled: tuple[str, ...] = ()) -> LicenseEdit:
    return LicenseEdit(ref, {s.id: disabled for s in skus})


def test_the_fingerprint_covers_the_licenses_of_the_users_a_license_change_names() -> None:
    state, held = tenant(), {ANN_ID: {O365E3.id: Held()}}
    plan = plan_licenses([give("ann@c.com", E5)], state, [E5, O365E3], held).plan
    assert plan.fingerprint == fingerprint(state, plan, held)
    assert fingerprint(state, plan, {ANN_ID: {}}) != plan.fingerprint  # removed by hand
    assert fingerprint(state, plan, {ANN_ID: {O365E3.id: Held((MFA.id,))}}) != plan.fingerprint
    assert fingerprint(state, plan, {ANN_ID: {O365E3.id: Held(direct=False)}}) != plan.fingerprint
    assert fingerprint(state, plan, {**held, BOB_ID: {E5.id: Held()}}) == plan.fingerprint  # not in the plan
    # A plan without license changes digests what it always did.
    update = Plan((Change(Action.UPDATE, "ann@c.com", ANN_ID, updates={"jobTitle": (None, "Chef")}),))
    assert fingerprint(state, update, held) == fingerprint(state, update)


def test_a_sync_plan_with_licenses_carries_that_fingerprint() -> None:
    state, held = tenant(), {ANN_ID: {}}
    planned = add_wanted(plan_licenses([], state, [], {}), [Wanted("ann@c.com", (E5.id,))], state,
                         [E5], held)
    [change] = planned.plan.changes
    assert change.properties == {E5.id: "SPE_E5"}
    assert planned.plan.fingerprint == fingerprint(state, planned.plan, held)


def test_names_are_re_derived_from_the_ids() -> None:
    state, skus = tenant(), [E5, O365E3]
    plan = plan_licenses([give("ann@c.com", E5, disabled=(MFA.id,))], state, skus, {}).plan
    [change] = plan.changes
    assert change.properties == {E5.id: "SPE_E5", MFA.id: "MFA_PREMIUM"}
    assert check_labels(plan, state, skus) == []

    def labels(updates: dict, properties: dict, skus: list[Sku] = skus) -> list[str]:
        return check_labels(Plan((Change(Action.LICENSE, "ann@c.com", ANN_ID, updates=updates,
                                         properties=properties),)), state, skus)

    assert labels({O365E3.id: (None, [])}, {O365E3.id: "SPE_E5"}) == [
        f"change the licenses of ann@c.com: license {O365E3.id} is ENTERPRISEPACK, not SPE_E5"]
    assert labels({E5.id: (None, [MFA.id])}, {E5.id: "spe_e5", MFA.id: "INTUNE_A"}) == [
        f"change the licenses of ann@c.com: service plan {MFA.id} is MFA_PREMIUM, not INTUNE_A"]
    other = "11111111-1111-1111-1111-111111111111"
    assert labels({O365E3.id: (None, [other])}, {}) == [
        f"change the licenses of ann@c.com: service plan {other} is not a plan of ENTERPRISEPACK"]
    # Every problem of a change, one line each; a name left out is shown as the id, no disagreement.
    assert labels({E5.id: (None, [])}, {E5.id: "ENTERPRISEPACK"}, []) == [
        f"change the licenses of ann@c.com: license {E5.id} (ENTERPRISEPACK) is not a license of this tenant "
        "(see: provisioner licenses list)"]
    assert labels({E5.id: (None, []), O365E3.id: ([], None)}, {}) == []
    # Removing a license the tenant no longer has: allowed, under its id only.
    assert labels({other: ([], None)}, {other: other}, []) == []
    assert labels({other: ([], None)}, {other: "SPE_E5"}, []) == [
        f"change the licenses of ann@c.com: license {other} is not a license of this tenant, not SPE_E5"]


def test_seats_and_usage_locations_are_counted_again() -> None:
    skus = [E5, O365E3]
    plan = plan_licenses([give("ann@c.com", E5)], tenant(), skus, {}).plan
    assert saved_problems(plan, tenant(), skus, {}) == []
    # The last seat went to someone else since.
    full = Sku(E5.id, "SPE_E5", 2, 2, 0, 0, "Enabled", "User", (MFA,))
    assert saved_problems(plan, tenant(), [full], {}) == [
        "SPE_E5 (Microsoft 365 E5): 1 seat(s) needed, 0 free (2 enabled, 2 consumed); free seats first or buy more"]
    # A seat the same plan frees counts; a license a group gives takes no second seat.
    swap = plan_licenses([give("ann@c.com", E5), LicenseEdit("bob@c.com", remove=(E5.id,))], tenant(), [E5],
                         {BOB_ID: {E5.id: Held()}}).plan
    assert saved_problems(swap, tenant(), [full], {BOB_ID: {E5.id: Held()}}) == []
    assert saved_problems(plan, tenant(), [full], {ANN_ID: {E5.id: Held(direct=False)}}) == []
    # The usage location: the user's own, else refused.
    assert saved_problems(plan, tenant(ann=None), skus, {}) == [
        "ann@c.com has no usage location, which a license needs; set one (provisioner users update ann@c.com "
        "--usage-location US, two letters) and make the plan again"]
    # Removing what only a group gives.
    revoke = Plan((Change(Action.LICENSE, "bob@c.com", BOB_ID, updates={E5.id: ([], None)}),))
    assert saved_problems(revoke, tenant(), skus, {BOB_ID: {E5.id: Held(direct=False)}}) == [
        "bob@c.com gets SPE_E5 from a group: it cannot be removed from the user; remove the user from that group "
        "(or the license from the group) instead"]
    # A skuId in capitals is the same SKU: its seats are counted all the same.
    shouted = Plan((Change(Action.LICENSE, "ann@c.com", ANN_ID, updates={E5.id.upper(): (None, [])}),))
    assert len(saved_problems(shouted, tenant(), [full], {})) == 1


def test_a_saved_plans_missing_usage_location_is_worded_as_when_it_was_made() -> None:
    # The same sentence as at plan time, naming the input row; the fix fits the user: one the plan
    # creates does not exist yet, so `users update` cannot reach it.
    row = Plan((Change(Action.LICENSE, "ann@c.com", ANN_ID, updates={E5.id: (None, [])}, reason="row 3"),))
    assert saved_problems(row, tenant(ann=None), [E5], {}) == [
        "ann@c.com (row 3) has no usage location, which a license needs; set one (provisioner users update "
        "ann@c.com --usage-location US, two letters) and make the plan again"]
    located = Plan((Change(Action.UPDATE, "ann@c.com", ANN_ID, updates={"usageLocation": (None, "FR")}), *row.changes))
    assert saved_problems(located, tenant(ann=None), [E5], {}) == []
    new = Plan((Change(Action.CREATE, "cy@c.com", properties={"displayName": "Cy"}),
                Change(Action.LICENSE, "cy@c.com", None, updates={E5.id: (None, [])}, reason="row 4")))
    assert saved_problems(new, tenant(), [E5], {}) == [
        "cy@c.com (row 4) has no usage location, which a license needs; give it one where the plan came from "
        "(usageLocation in the file or manifest: two letters, like US) and make the plan again"]
    with_location = Plan((replace(new.changes[0], properties={"displayName": "Cy", "usageLocation": "GB"}),
                          new.changes[1]))
    assert saved_problems(with_location, tenant(), [E5], {}) == []


def test_the_plan_file_keeps_the_names_and_only_names_of_ids_it_shows() -> None:
    plan = plan_licenses([give("ann@c.com", E5, disabled=(MFA.id,))], tenant(), [E5], {}).plan
    saved = json.loads(json.dumps(plan.to_json()))
    assert saved["changes"][0]["properties"] == {E5.id: "SPE_E5", MFA.id: "MFA_PREMIUM"}
    assert Plan.from_json(saved) == plan

    def load(properties: object) -> None:
        saved["changes"][0]["properties"] = properties
        Change.from_json(saved["changes"][0])

    with pytest.raises(PlanFormatError, match=f"properties key '{O365E3.id}' is not a skuId in updates nor a plan"):
        load({O365E3.id: "ENTERPRISEPACK"})
    with pytest.raises(PlanFormatError, match=f"properties.{E5.id} must be the name of that license or plan"):
        load({E5.id: ""})
    with pytest.raises(PlanFormatError, match="properties must be a JSON object of skuId or service plan id: name"):
        load(["SPE_E5"])


def test_removing_a_direct_license_a_group_also_gives_frees_no_seat() -> None:
    """L§6.7: the user still takes a seat through the group, so the seat cannot go to someone else."""
    from provisioner.errors import Refused

    full = replace(E5, consumed=2)  # 2 enabled, 0 free
    state = tenant()
    edits = [LicenseEdit("ann@c.com", remove=(E5.id,)), give("bob@c.com", full)]
    with pytest.raises(Refused, match="SPE_E5 \\(Microsoft 365 E5\\): 1 seat\\(s\\) needed, 0 free"):
        plan_licenses(edits, state, [full], {ANN_ID: {E5.id: Held(direct=True, by_group=True)}, BOB_ID: {}})
    # Held directly only, the removal frees the seat bob needs.
    planned = plan_licenses(edits, state, [full], {ANN_ID: {E5.id: Held()}, BOB_ID: {}})
    assert [c.upn for c in planned.plan.changes] == ["ann@c.com", "bob@c.com"]


def test_a_license_held_directly_and_through_a_group_is_read_as_both() -> None:
    from provisioner.services.licenses import held_licenses

    states = [{"skuId": E5.id.upper(), "assignedByGroup": None}, {"skuId": E5.id, "assignedByGroup": "g-1"},
              {"skuId": O365E3.id, "assignedByGroup": "g-1"}]
    body = {"assignedLicenses": [{"skuId": E5.id, "disabledPlans": []}, {"skuId": O365E3.id}],
            "licenseAssignmentStates": states}
    assert held_licenses(body) == {E5.id: Held((), direct=True, by_group=True),
                                   O365E3.id: Held((), direct=False, by_group=True)}
