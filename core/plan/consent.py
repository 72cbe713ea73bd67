"""Consent and list operations of design §6, with the consent guard's risk verdicts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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
    fast_init,
)


@dataclass(frozen=True, slots=True)
class TargetState:
    """The target profile as the push leaves it: its identity after the write and what we know."""

    email: str | None
    phone_number: str | None
    # None = the read did not include consent (nothing can be proven a no-op or safe).
    subscriptions: Subscriptions | None
    # None = the read did not include list membership.
    list_ids: frozenset[str] | None
    new_profile: bool = False
    phone_usable: bool = True


@dataclass(frozen=True, slots=True)
class Operations:
    consent: tuple[ConsentChange, ...]
    lists: tuple[ListChange, ...]
    warnings: tuple[str, ...]


_ConsentChange = fast_init(ConsentChange)
_ListChange = fast_init(ListChange)
_Operations = fast_init(Operations)


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
    channel: Channel, subject: str, target: TargetState, klist: KlaviyoList | None
) -> ConsentChange | None:
    # _state(target.subscriptions, channel) inline: one or two subscribes per customer.
    subs = target.subscriptions
    state = None if subs is None else subs.email if channel is Channel.EMAIL else subs.sms
    member = None if klist is None or target.list_ids is None else klist.id in target.list_ids
    double = klist is not None and klist.opt_in_process is OptIn.DOUBLE
    if klist is None and state is ConsentState.SUBSCRIBED:
        return None
    if klist is not None and member and (double or state is ConsentState.SUBSCRIBED):
        # A double opt-in member is confirmed or pending: subscribing again re-sends the email.
        return None
    reopted = state is ConsentState.UNSUBSCRIBED
    return _ConsentChange(
        channel=channel,
        action=ConsentAction.SUBSCRIBE,
        list_name=klist.name if klist else None,
        list_id=klist.id if klist else None,
        double_opt_in=double,
        risky=double or reopted,
        note=f"subscribes {subject} to "
             + _subscribe_words(channel, klist.name if klist else None, double, state,
                                target.new_profile),
        subject=subject,
    )


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


def _unsubscribe(channel: Channel, subject: str, target: TargetState) -> ConsentChange | None:
    state = _state(target.subscriptions, channel)
    if state is ConsentState.UNSUBSCRIBED:
        return None
    risky = state is None or state is ConsentState.SUBSCRIBED
    return _ConsentChange(
        channel=channel,
        action=ConsentAction.UNSUBSCRIBE,
        risky=risky,
        note=(f"unsubscribes {subject} from {_channel_words(channel)}; "
              f"{_currently(state, target.new_profile)}"),
        subject=subject,
    )


def _list_change(
    intent: ListIntent, klist: KlaviyoList, target: TargetState
) -> ListChange | None:
    member = None if target.list_ids is None else klist.id in target.list_ids
    if intent.member and member is True:
        return None
    if not intent.member and member is False:
        return None
    action = ListAction.ADD if intent.member else ListAction.REMOVE
    return _ListChange(list_name=klist.name, list_id=klist.id, action=action)


def plan_operations(
    mapped: MappedProfile,
    lists: Mapping[str, KlaviyoList | None],
    target: TargetState,
    *,
    sms_consent: bool,
) -> Operations:
    """Consent jobs and list calls that change something, each judged by the consent guard."""
    consent: list[ConsentChange] = []
    list_ops: list[ListChange] = []
    warnings: list[str] = []
    subscribing = mapped.subscribe is True
    subjects: list[tuple[Channel, str]] = []
    if target.email:
        subjects.append((Channel.EMAIL, target.email))
    elif subscribing:
        warnings.append("the profile has no email address: email consent not changed")
    if sms_consent and target.phone_number:
        if target.phone_usable:
            subjects.append((Channel.SMS, target.phone_number))
        else:
            warnings.append("the phone number is not valid: SMS consent not changed")
    for channel, subject in subjects:
        change = (_subscribe(channel, subject, target, None) if subscribing
                  else _unsubscribe(channel, subject, target))
        if change is not None:
            consent.append(change)
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
            elif not target.email:
                warnings.append(
                    f"the profile has no email address: not subscribed with list {klist.name}"
                )
            else:
                change = _subscribe(Channel.EMAIL, target.email, target, klist)
                if change is not None:
                    consent.append(change)
            continue
        # LIST_x false leaves the list only: a list-scoped unsubscribe would globally
        # unsubscribe a non-member (Klaviyo 2025-07-15+), so consent is never touched here.
        list_change = _list_change(intent, klist, target)
        if list_change is not None:
            list_ops.append(list_change)
    return _Operations(tuple(consent), tuple(list_ops), tuple(warnings))
