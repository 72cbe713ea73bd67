"""Consent and list operations of design §6, with the consent guard's risk verdicts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
    draft_of,
    fast_init,
)

_ListChange = fast_init(ListChange)
# A subscribe is built as fast_init builds it, inline (one or two per customer): its slots set
# on a draft of the same layout, which then becomes a ConsentChange.
_ConsentDraft = draft_of(ConsentChange)
_ConsentChange = fast_init(ConsentChange)
# Enum members read once: an attribute of an enum class goes through EnumType.__getattr__'s
# slower lookup on every read.
_EMAIL, _SMS = Channel.EMAIL, Channel.SMS
_SUBSCRIBED, _UNSUBSCRIBED = ConsentState.SUBSCRIBED, ConsentState.UNSUBSCRIBED
_DOUBLE = OptIn.DOUBLE
_SUBSCRIBE, _UNSUBSCRIBE = ConsentAction.SUBSCRIBE, ConsentAction.UNSUBSCRIBE
_ADD, _REMOVE = ListAction.ADD, ListAction.REMOVE


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
    # _state(subs, channel) inline: one or two subscribes per customer.
    state = None if subs is None else subs.email if channel is _EMAIL else subs.sms
    if klist is None:
        if state is _SUBSCRIBED:
            return None
        double = False
        list_name = list_id = None
    else:
        double = klist.opt_in_process is _DOUBLE
        if list_ids is not None and klist.id in list_ids and (double or state is _SUBSCRIBED):
            # A double opt-in member is confirmed or pending: subscribing again re-sends
            # the email.
            return None
        list_name, list_id = klist.name, klist.id
    change: Any = _ConsentDraft()
    change.channel = channel
    change.action = _SUBSCRIBE
    change.list_name = list_name
    change.list_id = list_id
    change.double_opt_in = double
    change.risky = double or state is _UNSUBSCRIBED
    # _subscribe_words' table read inline; the call composes a missing entry.
    words = _WORDS.get((channel, list_name, double, state, new_profile))
    if words is None:
        words = _subscribe_words(channel, list_name, double, state, new_profile)
    change.note = f"subscribes {subject} to " + words
    change.subject = subject
    change.__class__ = ConsentChange
    return change  # type: ignore[no-any-return]


# The words of a subscribe note after its subject depend on a handful of values only; they
# are composed once per combination (list names and states, never a customer's data).
_WORDS: dict[tuple[Channel, str | None, bool, ConsentState | None, bool], str] = {}
_WORDS_LIMIT = 1024


def _subscribe_words(channel: Channel, list_name: str | None, double: bool,
                     state: ConsentState | None, new_profile: bool) -> str:
    key = (channel, list_name, double, state, new_profile)
    words = _WORDS.get(key)
    if words is not None:
        return words
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
    if len(_WORDS) >= _WORDS_LIMIT:
        _WORDS.clear()
    words = _WORDS[key] = "; ".join(parts)
    return words


def _unsubscribe(
    channel: Channel, subject: str, subs: Subscriptions | None, new_profile: bool
) -> ConsentChange | None:
    state = _state(subs, channel)
    if state is _UNSUBSCRIBED:
        return None
    risky = state is None or state is _SUBSCRIBED
    return _ConsentChange(
        channel=channel,
        action=_UNSUBSCRIBE,
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
    action = _ADD if intent.member else _REMOVE
    return _ListChange(list_name=klist.name, list_id=klist.id, action=action)


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
        change = (_subscribe(_EMAIL, email, subs, list_ids, new_profile, None) if subscribing
                  else _unsubscribe(_EMAIL, email, subs, new_profile))
        if change is not None:
            consent.append(change)
    elif subscribing:
        warnings.append("the profile has no email address: email consent not changed")
    if sms_consent and phone_number:
        if phone_usable:
            change = (
                _subscribe(_SMS, phone_number, subs, list_ids, new_profile, None)
                if subscribing else _unsubscribe(_SMS, phone_number, subs, new_profile))
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
                change = _subscribe(_EMAIL, email, subs, list_ids, new_profile, klist)
                if change is not None:
                    consent.append(change)
            continue
        # LIST_x false leaves the list only: a list-scoped unsubscribe would globally
        # unsubscribe a non-member (Klaviyo 2025-07-15+), so consent is never touched here.
        list_change = _list_change(intent, klist, list_ids)
        if list_change is not None:
            list_ops.append(list_change)
    return (tuple(consent) if consent else (), tuple(list_ops) if list_ops else (),
            tuple(warnings) if warnings else ())
