"""Consent and list operations of design §6, with the consent guard's risk verdicts."""

from __future__ import annotations

from collections.abc import Mapping

from core.model import (
    Channel,
    ConsentAction,
    ConsentChange,
    ConsentState,
    KlaviyoList,
    ListAction,
    ListChange,
    ListIntent,
    MappedProfile,
    OptIn,
    Subscriptions,
)


def _state(subs: Subscriptions | None, channel: Channel) -> ConsentState | None:
    if subs is None:
        return None
    return subs.email if channel is Channel.EMAIL else subs.sms


def _channel_words(channel: Channel) -> str:
    return "email marketing" if channel is Channel.EMAIL else "SMS marketing"


def _currently(state: ConsentState | None, new_profile: bool) -> str:
    if state is None:
        return "current consent unknown (the profile was read without subscriptions)"
    if new_profile:
        return f"currently {state.value} (new profile)"
    return f"currently {state.value}"


def _subscribe(
    channel: Channel, subject: str, subs: Subscriptions | None,
    list_ids: frozenset[str] | None, new_profile: bool, klist: KlaviyoList | None,
) -> ConsentChange | None:
    state = _state(subs, channel)
    if klist is None:
        if state is ConsentState.SUBSCRIBED:
            return None
        double = False
        list_name = list_id = None
    else:
        double = klist.opt_in_process is OptIn.DOUBLE
        if (list_ids is not None and klist.id in list_ids
                and (double or state is ConsentState.SUBSCRIBED)):
            # A double opt-in member is confirmed or pending: subscribing again re-sends
            # the email.
            return None
        list_name, list_id = klist.name, klist.id
    return ConsentChange(
        channel=channel,
        action=ConsentAction.SUBSCRIBE,
        list_name=list_name,
        list_id=list_id,
        double_opt_in=double,
        risky=double or state is ConsentState.UNSUBSCRIBED,
        note=(f"subscribes {subject} to "
              + _subscribe_words(channel, list_name, double, state, new_profile)),
        subject=subject,
    )


def _subscribe_words(channel: Channel, list_name: str | None, double: bool,
                     state: ConsentState | None, new_profile: bool) -> str:
    head = _channel_words(channel)
    if list_name is not None:
        head += f" with list {list_name}"
    parts = [head]
    if double:
        parts.append("double opt-in list: Klaviyo sends a consent email and consent stays "
                     "pending until the person confirms")
    elif list_name is None and channel is Channel.EMAIL:
        parts.append("without a list the account's default opt-in applies")
    parts.append(_currently(state, new_profile))
    if state is ConsentState.UNSUBSCRIBED:
        parts.append("the person opted out; re-subscribing overrides that and needs confirmation")
    return "; ".join(parts)


def _unsubscribe(
    channel: Channel, subject: str, subs: Subscriptions | None, new_profile: bool
) -> ConsentChange | None:
    state = _state(subs, channel)
    if state is ConsentState.UNSUBSCRIBED:
        return None
    risky = state is None or state is ConsentState.SUBSCRIBED
    return ConsentChange(
        channel=channel,
        action=ConsentAction.UNSUBSCRIBE,
        risky=risky,
        note=(f"unsubscribes {subject} from {_channel_words(channel)}; "
              f"{_currently(state, new_profile)}"),
        subject=subject,
    )


def _list_change(
    intent: ListIntent, klist: KlaviyoList, list_ids: frozenset[str] | None
) -> ListChange | None:
    member = None if list_ids is None else klist.id in list_ids
    if intent.member and member is True:
        return None
    if not intent.member and member is False:
        return None
    action = ListAction.ADD if intent.member else ListAction.REMOVE
    return ListChange(list_name=klist.name, list_id=klist.id, action=action)


Consents = tuple[tuple[ConsentChange, ...], tuple[ListChange, ...], tuple[str, ...]]


def operations(
    mapped: MappedProfile,
    lists: Mapping[str, KlaviyoList | None],
    email: str | None,
    phone_number: str | None,
    subs: Subscriptions | None,
    list_ids: frozenset[str] | None,
    new_profile: bool,
    phone_usable: bool,
    sms_consent: bool,
) -> Consents:
    """Consent jobs and list calls that change something, each judged by the consent guard,
    with warnings, for a target profile as the push leaves it.

    `subs` None: the read did not include consent (nothing can be proven a no-op or safe);
    `list_ids` None: it did not include list membership.
    """
    consent: list[ConsentChange] = []
    list_ops: list[ListChange] = []
    warnings: list[str] = []
    subscribing = mapped.subscribe is True
    if email:
        change = (_subscribe(Channel.EMAIL, email, subs, list_ids, new_profile, None)
                  if subscribing else _unsubscribe(Channel.EMAIL, email, subs, new_profile))
        if change is not None:
            consent.append(change)
    elif subscribing:
        warnings.append("the profile has no email address: email consent not changed")
    if sms_consent and phone_number:
        if phone_usable:
            change = (
                _subscribe(Channel.SMS, phone_number, subs, list_ids, new_profile, None)
                if subscribing else _unsubscribe(Channel.SMS, phone_number, subs, new_profile))
            if change is not None:
                consent.append(change)
        else:
            warnings.append("the phone number is not valid: SMS consent not changed")
    for intent in mapped.list_intents:
        klist = lists.get(intent.list_name)
        if klist is None:
            continue  # the caller blocks the plan before asking
        if intent.consent and intent.member:
            if not subscribing:
                warnings.append(
                    f"LIST_{intent.list_name} is true but SubscribeProfile is not, so the "
                    f"profile is not subscribed with list {intent.list_name}"
                )
            elif not email:
                warnings.append(
                    f"the profile has no email address: not subscribed with list {klist.name}"
                )
            else:
                change = _subscribe(Channel.EMAIL, email, subs, list_ids, new_profile, klist)
                if change is not None:
                    consent.append(change)
            continue
        # LIST_x false leaves the list only: a list-scoped unsubscribe would globally
        # unsubscribe a non-member (Klaviyo 2025-07-15+), so consent is never touched here.
        list_change = _list_change(intent, klist, list_ids)
        if list_change is not None:
            list_ops.append(list_change)
    return tuple(consent), tuple(list_ops), tuple(warnings)
