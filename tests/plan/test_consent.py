"""Design §6 row by row: which consent jobs and list calls run, skip, or need confirming."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from core.model import Channel, ConsentAction, ConsentChange, GuardKind, Plan
from core.plan import ConsentPolicy, PlanSettings, plan_from_mapped

from .builders import (
    ANN,
    ANN_PHONE,
    DOI_LIST,
    NEVER,
    OTHER,
    PREVIEW_LIST,
    SINGLE,
    SMS_LIST,
    SUBSCRIBED,
    UNSUBSCRIBED,
    intent,
    mapped,
    profile,
    resolution,
)


def linked_plan(current: Any = None, *, sms: bool = False, settings: PlanSettings = SINGLE,
                **kwargs: Any) -> Plan:
    """A LINK plan against `current` (an existing profile matched by email), on a single
    opt-in account unless told otherwise."""
    current = profile(OTHER) if current is None else current
    return plan_from_mapped(mapped(**kwargs), None, resolution(email_match=current),
                            replace(settings, sms_consent=sms))


def ops(plan: Plan) -> list[tuple[str, str, str | None]]:
    return [(c.channel.value, c.action.value, c.list_name) for c in plan.consent]


def list_ops(plan: Plan) -> list[tuple[str, str]]:
    return [(c.list_name, c.action.value) for c in plan.lists]


# --- SubscribeProfile ----------------------------------------------------------------------


def test_subscribe_true_subscribes_email() -> None:
    plan = linked_plan(subscribe=True)
    assert plan.consent == (ConsentChange(
        channel=Channel.EMAIL, action=ConsentAction.SUBSCRIBE, risky=False, subject=ANN,
        note=(f"subscribes {ANN} to email marketing; without a list the account's single "
              "opt-in applies; currently NEVER_SUBSCRIBED"),
    ),)


def test_subscribe_true_adds_sms_only_when_configured_and_a_phone_is_there() -> None:
    assert ops(linked_plan(subscribe=True)) == [("email", "subscribe", None)]
    assert ops(linked_plan(subscribe=True, sms=True)) == [
        ("email", "subscribe", None), ("sms", "subscribe", None)]
    sms = linked_plan(subscribe=True, sms=True).consent[1]
    assert sms.subject == ANN_PHONE
    no_phone = profile(OTHER, attributes={"email": ANN})
    plan = plan_from_mapped(mapped(attributes={"email": ANN}), None,
                            resolution(email_match=no_phone), PlanSettings(sms_consent=True))
    assert ops(plan) == [("email", "subscribe", None)]


def test_sms_is_left_alone_when_the_phone_is_not_valid() -> None:
    plan = linked_plan(subscribe=True, sms=True, phone_valid=False)
    assert ops(plan) == [("email", "subscribe", None)]
    assert "the phone number is not valid: SMS consent not changed" in plan.warnings


@pytest.mark.parametrize("value", [False, None])
def test_subscribe_false_or_unmapped_unsubscribes_email(value: bool | None) -> None:
    plan = linked_plan(subscribe=value)
    assert ops(plan) == [("email", "unsubscribe", None)]
    assert plan.consent[0].note == (
        f"unsubscribes {ANN} from email marketing; currently NEVER_SUBSCRIBED")
    assert ops(linked_plan(subscribe=value, sms=True)) == [
        ("email", "unsubscribe", None), ("sms", "unsubscribe", None)]


def test_phone_only_profile_cannot_be_email_subscribed() -> None:
    current = profile(OTHER, attributes={"phone_number": ANN_PHONE})
    plan = plan_from_mapped(mapped(attributes={"phone_number": ANN_PHONE}), None,
                            resolution(phone_match=current), PlanSettings(sms_consent=True))
    assert ops(plan) == [("sms", "subscribe", None)]
    assert "the profile has no email address: email consent not changed" in plan.warnings


# --- LIST_ and UCLIST_ ---------------------------------------------------------------------


def test_list_true_subscribes_email_with_the_list() -> None:
    plan = linked_plan(intents=(intent("Sms Subscribers", consent=True, member=True),))
    change = plan.consent[-1]
    assert (change.channel, change.action) == (Channel.EMAIL, ConsentAction.SUBSCRIBE)
    assert (change.list_name, change.list_id) == ("Sms Subscribers", SMS_LIST.id)
    assert change.double_opt_in is False and change.risky is False
    assert plan.lists == ()


def test_list_true_on_a_double_opt_in_list_is_a_consent_email_and_says_why() -> None:
    plan = linked_plan(intents=(intent("Newsletter", consent=True, member=True),))
    change = plan.consent[-1]
    assert change.list_id == DOI_LIST.id
    assert change.double_opt_in is True and change.guard_kind is GuardKind.CONSENT_EMAIL
    assert "Klaviyo sends a consent email" in change.note
    # sent and remembered by default (design §6); held only when the policy says so
    assert change.risky is False and plan.guarded_consent == ()
    holding = PlanSettings(policy=ConsentPolicy(hold=frozenset(GuardKind),
                                                account_opt_in=SINGLE.policy.account_opt_in))
    held = linked_plan(intents=(intent("Newsletter", consent=True, member=True),),
                       settings=holding)
    assert held.consent[-1].risky is True and held.guarded_consent == (held.consent[-1],)


def test_list_true_needs_subscribe_profile() -> None:
    plan = linked_plan(subscribe=False,
                       intents=(intent("Sms Subscribers", consent=True, member=True),))
    assert ops(plan) == [("email", "unsubscribe", None)]
    assert any("LIST_Sms Subscribers is true but SubscribeProfile is not" in w
               for w in plan.warnings)


def test_list_false_removes_from_the_list_and_never_unsubscribes() -> None:
    current = profile(OTHER, email=SUBSCRIBED, lists=frozenset({SMS_LIST.id}))
    plan = linked_plan(current, intents=(intent("Sms Subscribers", consent=True, member=False),))
    assert list_ops(plan) == [("Sms Subscribers", "remove")]
    assert plan.lists[0].list_id == SMS_LIST.id
    assert all(c.action is ConsentAction.SUBSCRIBE for c in plan.consent)


@pytest.mark.parametrize(("member", "action"), [(True, "add"), (False, "remove")])
def test_uclist_adds_or_removes_without_touching_consent(member: bool, action: str) -> None:
    current = profile(OTHER, email=SUBSCRIBED,
                      lists=frozenset() if member else frozenset({PREVIEW_LIST.id}))
    plan = linked_plan(current, intents=(intent("Preview List", consent=False, member=member),))
    assert list_ops(plan) == [("Preview List", action)]
    assert plan.consent == ()  # email already SUBSCRIBED: nothing else to do


# --- no-ops --------------------------------------------------------------------------------


def test_subscribe_of_a_subscribed_channel_is_skipped() -> None:
    current = profile(OTHER, email=SUBSCRIBED, sms=SUBSCRIBED)
    assert linked_plan(current, sms=True).consent == ()


def test_unsubscribe_of_an_unsubscribed_channel_is_skipped() -> None:
    current = profile(OTHER, email=UNSUBSCRIBED, sms=UNSUBSCRIBED)
    assert linked_plan(current, subscribe=False, sms=True).consent == ()


def test_list_subscribe_is_skipped_only_when_subscribed_and_a_member() -> None:
    wanted = (intent("Sms Subscribers", consent=True, member=True),)
    member = profile(OTHER, email=SUBSCRIBED, lists=frozenset({SMS_LIST.id}))
    assert linked_plan(member, intents=wanted).consent == ()
    outsider = profile(OTHER, email=SUBSCRIBED, lists=frozenset())
    assert ops(linked_plan(outsider, intents=wanted)) == [("email", "subscribe", "Sms Subscribers")]
    unknown = profile(OTHER, email=SUBSCRIBED, lists=None)
    assert ops(linked_plan(unknown, intents=wanted)) == [("email", "subscribe", "Sms Subscribers")]


def test_double_opt_in_member_is_not_sent_another_consent_email() -> None:
    pending = profile(OTHER, email=NEVER, lists=frozenset({DOI_LIST.id}))
    plan = linked_plan(pending, intents=(intent("Newsletter", consent=True, member=True),))
    assert all(c.list_name is None for c in plan.consent)


def test_list_add_of_a_member_and_remove_of_a_non_member_are_skipped() -> None:
    current = profile(OTHER, email=SUBSCRIBED, lists=frozenset({PREVIEW_LIST.id}))
    plan = linked_plan(current, intents=(intent("Preview List", consent=False, member=True),
                                         intent("Sms Subscribers", consent=False, member=False),
                                         intent("Newsletter", consent=True, member=False)))
    assert plan.lists == ()


def test_list_calls_run_when_membership_is_unknown() -> None:
    current = profile(OTHER, email=SUBSCRIBED, lists=None)
    plan = linked_plan(current, intents=(intent("Preview List", consent=False, member=True),
                                         intent("Sms Subscribers", consent=False, member=False)))
    assert list_ops(plan) == [("Preview List", "add"), ("Sms Subscribers", "remove")]


def test_create_skips_removals_from_lists_a_new_profile_is_not_in() -> None:
    plan = plan_from_mapped(mapped(intents=(
        intent("Preview List", consent=False, member=True),
        intent("Sms Subscribers", consent=False, member=False),
        intent("Newsletter", consent=True, member=False),
    )), None, resolution())
    assert list_ops(plan) == [("Preview List", "add")]
    assert plan.consent[0].note.endswith("currently NEVER_SUBSCRIBED (new profile)")


# --- the consent guard ---------------------------------------------------------------------


def test_unsubscribing_a_subscribed_channel_is_risky() -> None:
    current = profile(OTHER, email=SUBSCRIBED, sms=SUBSCRIBED)
    plan = linked_plan(current, subscribe=False, sms=True)
    assert [c.risky for c in plan.consent] == [True, True]
    assert plan.consent[0].note == f"unsubscribes {ANN} from email marketing; currently SUBSCRIBED"
    assert plan.consent[1].note == (
        f"unsubscribes {ANN_PHONE} from SMS marketing; currently SUBSCRIBED")


def test_unsubscribing_with_unknown_consent_is_risky() -> None:
    plan = linked_plan(profile(OTHER, email=None), subscribe=False)
    assert plan.consent[0].risky
    assert "current consent unknown" in plan.consent[0].note


def test_unsubscribing_a_never_subscribed_channel_is_held_unless_the_customer_said_so() -> None:
    # Issue 14: an unsubscribe that is not the customer's own value is held whatever the state,
    # since it records an opt-out the person never gave.
    assert linked_plan(subscribe=False).consent[0].risky
    assert not linked_plan(subscribe=False, from_customer=True).consent[0].risky


def test_unsubscribing_a_new_profile_is_held_unless_the_customer_said_so() -> None:
    plan = plan_from_mapped(mapped(subscribe=None), None, resolution())
    assert ops(plan) == [("email", "unsubscribe", None)]
    assert plan.guarded_consent == plan.consent
    own = plan_from_mapped(mapped(subscribe=False, from_customer=True), None, resolution())
    assert ops(own) == [("email", "unsubscribe", None)] and own.guarded_consent == ()


def test_resubscribing_someone_who_opted_out_is_risky() -> None:
    plan = linked_plan(profile(OTHER, email=UNSUBSCRIBED), subscribe=True)
    change = plan.consent[0]
    assert change.action is ConsentAction.SUBSCRIBE and change.risky
    assert "currently UNSUBSCRIBED" in change.note and "opted out" in change.note


def test_resubscribing_through_a_single_opt_in_list_is_risky_too() -> None:
    plan = linked_plan(profile(OTHER, email=UNSUBSCRIBED),
                       intents=(intent("Sms Subscribers", consent=True, member=True),))
    assert all(c.risky for c in plan.consent)


def test_a_plain_subscribe_is_not_risky() -> None:
    assert linked_plan(subscribe=True).guarded_consent == ()


def test_blocked_plans_have_no_operations() -> None:
    plan = linked_plan(profile(OTHER, email=SUBSCRIBED), subscribe=False,
                       errors=("bad value",),
                       intents=(intent("Preview List", consent=False, member=True),))
    assert plan.blocked and plan.consent == () and plan.lists == ()
