"""The preview JSON of design §9 and idempotency: a profile that already matches needs nothing."""

from __future__ import annotations

import json

from core.model import Change, ListIntent
from core.plan import PlanSettings, plan_from_mapped

from .builders import (
    ANN,
    DOI_LIST,
    OTHER,
    PREVIEW_LIST,
    SMS_LIST,
    SUBSCRIBED,
    attrs,
    intent,
    mapped,
    profile,
    resolution,
)

INTENTS: tuple[ListIntent, ...] = (
    intent("Sms Subscribers", consent=True, member=True),
    intent("Newsletter", consent=True, member=True),
    intent("Preview List", consent=False, member=True),
)


def test_to_json_has_the_shape_of_design_9() -> None:
    plan = plan_from_mapped(mapped(intents=INTENTS), None,
                            resolution(email_match=profile(OTHER, attributes={"email": ANN})))
    doc = json.loads(json.dumps(plan.to_json()))
    assert list(doc) == ["customer_id", "route", "matched_by", "profile_id", "reason", "payload",
                         "current", "diff", "consent", "lists", "guard", "unknown", "warnings",
                         "errors"]
    assert doc["customer_id"] == "55260"
    assert (doc["route"], doc["matched_by"], doc["profile_id"]) == ("link", "email", OTHER)
    assert doc["reason"] == f"email {ANN} matched profile {OTHER}"
    assert doc["payload"]["data"]["type"] == "profile"
    assert doc["payload"]["data"]["id"] == OTHER
    assert doc["current"] == {"email": ANN}
    assert doc["diff"][0] == {"field": "email", "current": ANN, "mapped": ANN,
                              "change": "unchanged"}
    assert {d["change"] for d in doc["diff"]} == {"unchanged", "added"}
    assert doc["consent"] == [
        {"channel": "email", "action": "subscribe", "list": None, "double_opt_in": True,
         "pending_since": None},
        {"channel": "email", "action": "subscribe", "list": "Sms Subscribers",
         "double_opt_in": False, "pending_since": None},
        {"channel": "email", "action": "subscribe", "list": "Newsletter", "double_opt_in": True,
         "pending_since": None},
    ]
    assert doc["lists"] == [{"list": "Preview List", "action": "add"}]
    assert doc["guard"] == {"confirm_needed": False, "reasons": [
        {"kind": "consent-email", "held": False,
         "text": f"Klaviyo emails {ANN} to confirm email marketing (the account is double opt-in)"},
        {"kind": "consent-email", "held": False,
         "text": (f"Klaviyo emails {ANN} to confirm email marketing with list Newsletter "
                  "(the list is double opt-in)")},
    ]}
    # a Resolution carries no record of consent emails sent
    assert doc["unknown"] == ["pending consent emails"]
    assert doc["warnings"] == [] and doc["errors"] == []


def test_blocked_to_json() -> None:
    plan = plan_from_mapped(mapped(attributes=attrs(email=None, phone_number=None)), None,
                            resolution())
    doc = plan.to_json()
    assert doc["route"] == "blocked" and doc["payload"] is None
    assert doc["consent"] == [] and doc["lists"] == [] and doc["diff"] == []
    assert doc["errors"][0].startswith("no valid identifier")


def test_a_profile_that_already_matches_needs_nothing() -> None:
    current = profile(
        OTHER,
        attributes={**attrs(), "properties": {"My Custom": "hello"}},
        email=SUBSCRIBED, sms=SUBSCRIBED,
        lists=frozenset({SMS_LIST.id, DOI_LIST.id, PREVIEW_LIST.id}),
    )
    for res in (resolution(email_match=current),
                resolution(link=OTHER, linked_profile=current)):
        m = mapped(intents=INTENTS)
        plan = plan_from_mapped(m, m, res, PlanSettings(sms_consent=True))
        assert {d.change for d in plan.diff} == {Change.UNCHANGED}
        assert plan.consent == () and plan.lists == () and plan.warnings == ()


def test_plans_are_equal_for_equal_inputs() -> None:
    res = resolution(email_match=profile(OTHER))
    assert plan_from_mapped(mapped(), None, res) == plan_from_mapped(mapped(), None, res)


def test_planning_never_mutates_its_inputs() -> None:
    current = profile(OTHER)
    m = mapped(attributes=attrs(first_name=""))
    before = (json.dumps(m.attributes), json.dumps(m.properties), json.dumps(current.attributes))
    plan_from_mapped(m, None, resolution(email_match=current, phone_match=profile("X")))
    assert before == (json.dumps(m.attributes), json.dumps(m.properties),
                      json.dumps(current.attributes))
