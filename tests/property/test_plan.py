"""Planning over any readable customer and any profile Klaviyo might answer: a plan, no crash."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from core.mapping import load_template
from core.model import (
    Change,
    ConsentState,
    GuardKind,
    KlaviyoList,
    OptIn,
    Profile,
    ProfileDataError,
    Route,
    Subscriptions,
)
from core.plan import (
    ConsentPolicy,
    Facts,
    PlanSettings,
    Resolution,
    field_diff,
    plan_customer,
    plan_push,
)
from core.plan.diff import flatten
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


_IDS = ["01HPROFILE", "01HOTHER", "01HPHONE"]
_LIST_IDS = ["L1", "L2", "L3"]
_TIMES = ["2026-12-01T10:00:00+00:00", "2026-01-01T00:00:00", "2026-12-07T12:00:00Z", "",
          "yesterday", "2026-12-07T11:59:59+05:00"]
_consent = st.one_of(st.none(), st.builds(Subscriptions, email=st.sampled_from(list(ConsentState)),
                                          sms=st.sampled_from(list(ConsentState))))
candidates = st.one_of(st.none(), st.builds(
    Profile, id=st.sampled_from(_IDS),
    attributes=st.fixed_dictionaries({}, optional={
        "email": st.sampled_from(["ann@example.com", "ANN@example.com", "other@example.com"]),
        "phone_number": st.sampled_from(["+14155552671", "+15005550006"]),
    }),
    subscriptions=_consent,
    list_ids=st.one_of(st.none(), st.frozensets(st.sampled_from(_LIST_IDS)))))
named_lists = st.dictionaries(
    st.sampled_from(["Sms Subscribers", "Preview List", "Newsletter"]),
    st.one_of(st.none(), st.builds(KlaviyoList, id=st.sampled_from(_LIST_IDS),
                                   name=st.sampled_from(["Sms Subscribers", "Preview List"]),
                                   opt_in_process=st.sampled_from(list(OptIn)))),
)
policies = st.builds(ConsentPolicy, hold=st.frozensets(st.sampled_from(list(GuardKind))),
                     account_opt_in=st.sampled_from(list(OptIn)),
                     resend_days=st.integers(min_value=0, max_value=60))
facts_of_all_kinds = st.builds(
    Facts, customer=customers, link=st.one_of(st.none(), st.sampled_from(_IDS)),
    linked_profile=candidates, email_match=candidates, phone_match=candidates,
    lists=named_lists,
    memberships=st.one_of(st.none(), st.dictionaries(
        st.sampled_from(_LIST_IDS), st.frozensets(st.sampled_from(_IDS)))),
    consent_emails=st.one_of(st.none(), st.dictionaries(
        st.tuples(st.sampled_from(_IDS), st.sampled_from(["", *_LIST_IDS])),
        st.sampled_from(_TIMES))),
    unknown=st.lists(st.sampled_from(["list membership", "consent state"]),
                     max_size=2).map(tuple),
    now=st.sampled_from(_TIMES), resend_consent_email=st.booleans())


@SMALL
@given(facts_of_all_kinds, policies, st.booleans())
def test_any_facts_give_a_plan_whose_guard_holds_only_what_the_policy_holds(
        facts: Facts, policy: ConsentPolicy, sms: bool) -> None:
    plan = plan_customer(facts, SHIPPED, PlanSettings(sms_consent=sms, policy=policy))
    assert isinstance(plan.route, Route)
    assert plan.guard.held <= policy.hold
    assert plan.guard.held == {r.kind for r in plan.guard.reasons} & policy.hold
    assert set(plan.guarded_consent) == {
        c for c in plan.consent if c.guard_kind in policy.hold}
    for change in plan.consent:
        # a pending consent email sends nothing, so nothing about it can need a confirmation
        assert change.pending_since is None or change.guard_kind is None
        assert not (change.from_source and change.guard_kind is not None)
    assert set(facts.unknown) <= set(plan.unknown)
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


_LOOSE_VALUES = st.one_of(
    json_values, st.sampled_from(["A@x.io", " a@X.io", "+1 202-555-0143", "+12025550143", 1, 1.0,
                                  True, float("nan")]))


@SMALL
@given(st.dictionaries(_KEYS, st.one_of(_VALUES, _LOOSE_VALUES), max_size=8),
       st.one_of(st.none(), st.dictionaries(_KEYS, st.one_of(_VALUES, _LOOSE_VALUES),
                                            max_size=8)))
def test_the_diff_names_every_field_of_either_side_once(
    sent: dict[str, Any], current: dict[str, Any] | None
) -> None:
    now, out = flatten(current), flatten(sent)
    diff = field_diff(current, sent)
    assert sorted(d.field for d in diff) == sorted({*now, *out})
    for item in diff:
        assert (item.current, item.mapped) == (now.get(item.field), out.get(item.field))
        assert (item.change is Change.KEPT) == (item.field not in out)
        assert (item.change is Change.ADDED) == (item.field in out and item.field not in now)
