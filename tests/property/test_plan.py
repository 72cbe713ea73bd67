"""Planning over any readable customer and any profile Klaviyo might answer: a plan, no crash."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from core.mapping import load_template
from core.model import (
    Change,
    Collection,
    FieldDiff,
    KlaviyoList,
    MappedProfile,
    OptIn,
    Profile,
    ProfileDataError,
    Route,
)
from core.plan import PlanSettings, Resolution, field_diff, payload_attributes, plan_push
from core.plan.diff import _rank_of, diff_flat, flatten, same_value
from core.plan.route import _payload
from tests.property.strategies import SMALL, customers, json_values, mutated
from tests.property.test_clients import PROFILE

SHIPPED = load_template()


def _profile(resource: Any) -> Profile | None:
    try:
        return Profile.from_api(resource)
    except ProfileDataError:
        return None


profiles = st.one_of(st.none(), mutated(PROFILE, rounds=3).map(_profile))
lists = st.dictionaries(
    st.sampled_from(["Sms Subscribers", "Preview List"]),
    st.one_of(st.none(), st.builds(KlaviyoList, id=st.sampled_from(["L1", "L2"]),
                                   name=st.sampled_from(["Sms Subscribers", "Preview List"]),
                                   opt_in_process=st.sampled_from(list(OptIn)))),
)


@SMALL
@given(customers, st.one_of(st.none(), st.just("01HPROFILE")), profiles, profiles, profiles,
       lists, st.booleans())
def test_any_customer_and_profile_give_a_plan(
    customer: Any, link: str | None, linked: Profile | None, by_email: Profile | None,
    by_phone: Profile | None, named: dict[str, KlaviyoList | None], sms: bool,
) -> None:
    resolution = Resolution(link=link, linked_profile=linked, email_match=by_email,
                            phone_match=by_phone, lists=named)
    plan = plan_push(customer, SHIPPED, resolution, PlanSettings(sms_consent=sms))
    assert isinstance(plan.route, Route)
    json.dumps(plan.to_json())


# Attribute names the planner treats specially (identifiers, nested objects, read-only
# bookkeeping, resource keys), beside any text.
_KEYS = st.one_of(
    st.sampled_from(["email", "phone_number", "first_name", "location", "properties", "created",
                     "id", "type", "location.city", "properties.x", "image"]),
    st.text(max_size=6),
)
_VALUES = st.one_of(
    json_values,
    st.dictionaries(st.one_of(st.sampled_from(["city", "zip", "x", "1"]), st.text(max_size=4)),
                    json_values, max_size=5),
)


@SMALL
@given(st.dictionaries(_KEYS, _VALUES, max_size=8),
       st.dictionaries(st.text(max_size=5), json_values, max_size=4),
       st.one_of(st.none(), st.dictionaries(_KEYS, _VALUES, max_size=8)))
def test_the_plan_s_one_pass_payload_diffs_as_field_diff_does(
    attributes: dict[str, Any], properties: dict[str, Any], current: dict[str, Any] | None
) -> None:
    mapped = MappedProfile(customer_id="1", collection=Collection.ADD, attributes=attributes,
                           properties=properties, subscribe=None)
    payload, flat = _payload(mapped)
    assert payload == payload_attributes(mapped)
    assert list(flat.items()) == list(flatten(payload).items())
    assert diff_flat(flatten(current), flat) == field_diff(current, payload)


def _diff_by_definition(now: dict[str, Any], out: dict[str, Any]) -> list[FieldDiff]:
    """design §9 spelled out with same_value for every field both sides have."""
    names = sorted([*out, *(name for name in now if name not in out)], key=_rank_of)
    diffs = []
    for name in names:
        was, sent = now.get(name), out.get(name)
        if sent is None:
            change = Change.KEPT
        elif was is None:
            change = Change.ADDED
        else:
            change = Change.UNCHANGED if same_value(name, was, sent) else Change.CHANGED
        diffs.append(FieldDiff(name, was, sent, change))
    return diffs


_LOOSE_VALUES = st.one_of(
    json_values, st.sampled_from(["A@x.io", " a@X.io", "+1 202-555-0143", "+12025550143", 1, 1.0,
                                  True, float("nan")]))


@SMALL
@given(st.dictionaries(_KEYS, _LOOSE_VALUES, max_size=8),
       st.dictionaries(_KEYS, _LOOSE_VALUES, max_size=8))
def test_the_diff_s_shortcuts_agree_with_same_value_field_by_field(
    current: dict[str, Any], sent: dict[str, Any]
) -> None:
    # diff_flat answers equal values and unequal non-identifier fields without same_value, and
    # a new profile without comparing at all; both must give what same_value gives.
    now, out = flatten(current), flatten(sent)
    assert list(diff_flat(now, out)) == _diff_by_definition(now, out)
    assert list(diff_flat({}, out)) == _diff_by_definition({}, out)


@SMALL
@given(st.dictionaries(_KEYS, _LOOSE_VALUES, max_size=8),
       st.dictionaries(_KEYS, _LOOSE_VALUES, max_size=8), st.randoms(use_true_random=False))
def test_a_diff_order_remembered_for_the_same_names_fits_other_values(
    current: dict[str, Any], sent: dict[str, Any], rng: Any
) -> None:
    # diff_flat remembers each pair of name sequences' order; the next customer with the same
    # names (other values) must still diff by the definition.
    now, out = flatten(current), flatten(sent)
    diff_flat(now, out)
    diff_flat({}, out)
    values = list(now.values()) + list(out.values())
    now2 = {name: rng.choice(values) for name in now}
    out2 = {name: rng.choice(values) for name in out}
    assert list(diff_flat(now2, out2)) == _diff_by_definition(now2, out2)
    assert list(diff_flat({}, out2)) == _diff_by_definition({}, out2)
