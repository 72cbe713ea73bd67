"""Planning over any readable customer and any profile Klaviyo might answer: a plan, no crash."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from core.mapping import load_template
from core.model import KlaviyoList, OptIn, Profile, ProfileDataError, Route
from core.plan import PlanSettings, Resolution, plan_push
from tests.property.strategies import SMALL, customers, mutated
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
