"""Consent and list operations of design §6, each judged by the consent policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.model import (
    Channel,
    ConsentAction,
    ConsentChange,
    ConsentState,
    Guard,
    GuardKind,
    GuardReason,
    KlaviyoList,
    ListAction,
    ListChange,
    ListIntent,
    MappedProfile,
    OptIn,
    Subscriptions,
)
from core.plan.policy import ConsentPolicy


@dataclass(frozen=True, slots=True)
class _Target:
    """The profile consent is judged against, as the push leaves it."""

    subs: Subscriptions | None
    list_ids: frozenset[str] | None
    new_profile: bool
    # List id ("" without a list) -> when a consent email went out; None = not known.
    sent: Mapping[str, str] | None
    now: str
    resend: bool
    policy: ConsentPolicy


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


def _when(iso: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _day(iso: str) -> str:
    """The date part of an ISO time, as an operator reads it."""
    moment = _when(iso)
    return moment.date().isoformat() if moment is not None else iso


def _pending(sent: str | None, target: _Target) -> bool:
    """True while a consent email sent then still awaits confirmation (design §6)."""
    if sent is None or target.resend:
        return False
    then, now = _when(sent), _when(target.now)
    if then is None or now is None:
        return True  # no way to tell it expired: never risk a repeated email
    return now - then < timedelta(days=target.policy.resend_days)


def _subscribe(channel: Channel, subject: str, target: _Target,
               klist: KlaviyoList | None) -> ConsentChange | None:
    state = _state(target.subs, channel)
    if klist is None:
        if state is ConsentState.SUBSCRIBED:
            return None
        # Klaviyo's SMS consent is not governed by the account's email opt-in setting.
        double = (channel is Channel.EMAIL
                  and target.policy.account_opt_in is OptIn.DOUBLE)
        list_name = list_id = None
    else:
        double = klist.opt_in_process is OptIn.DOUBLE
        if (target.list_ids is not None and klist.id in target.list_ids
                and (double or state is ConsentState.SUBSCRIBED)):
            # A double opt-in member is confirmed or pending: subscribing again re-sends
            # the email.
            return None
        list_name, list_id = klist.name, klist.id
    sent = None if target.sent is None else target.sent.get(list_id or "")
    pending_since = sent if double and _pending(sent, target) else None
    kind: GuardKind | None = None
    if state is ConsentState.UNSUBSCRIBED:
        kind, pending_since = GuardKind.RESUBSCRIBE, None
    elif double and pending_since is None:
        kind = GuardKind.CONSENT_EMAIL
    words = _subscribe_words(channel, list_name, double, state, target.new_profile)
    if pending_since is not None:
        words += f"; consent email sent {_day(pending_since)}, awaiting confirmation"
    elif kind is GuardKind.CONSENT_EMAIL and sent is not None:
        words += f"; the consent email sent {_day(sent)} is sent again"
    return ConsentChange(
        channel=channel,
        action=ConsentAction.SUBSCRIBE,
        list_name=list_name,
        list_id=list_id,
        double_opt_in=double,
        risky=kind is not None and kind in target.policy.hold,
        note=f"subscribes {subject} to {words}",
        subject=subject,
        pending_since=pending_since,
        guard_kind=kind,
    )


def _subscribe_words(channel: Channel, list_name: str | None, double: bool,
                     state: ConsentState | None, new_profile: bool) -> str:
    head = _channel_words(channel)
    if list_name is not None:
        head += f" with list {list_name}"
    parts = [head]
    if list_name is None and channel is Channel.EMAIL:
        process = "double" if double else "single"
        parts.append(f"without a list the account's {process} opt-in applies")
    if double:
        where = "double opt-in list" if list_name is not None else "double opt-in"
        parts.append(f"{where}: Klaviyo sends a consent email and consent stays pending until "
                     "the person confirms")
    parts.append(_currently(state, new_profile))
    if state is ConsentState.UNSUBSCRIBED:
        parts.append("the person opted out; re-subscribing overrides that and needs confirmation")
    return "; ".join(parts)


def _unsubscribe(channel: Channel, subject: str, target: _Target,
                 from_source: bool) -> ConsentChange | None:
    state = _state(target.subs, channel)
    if state is ConsentState.UNSUBSCRIBED:
        return None
    kind = None if from_source else GuardKind.UNSUBSCRIBE
    note = (f"unsubscribes {subject} from {_channel_words(channel)}; "
            f"{_currently(state, target.new_profile)}")
    if from_source:
        note += "; the customer's own opt-out, honored at once"
    return ConsentChange(
        channel=channel,
        action=ConsentAction.UNSUBSCRIBE,
        risky=kind is not None and kind in target.policy.hold,
        note=note,
        subject=subject,
        guard_kind=kind,
        from_source=from_source,
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
    *,
    policy: ConsentPolicy | None = None,
    sent: Mapping[str, str] | None = None,
    now: str = "",
    resend: bool = False,
) -> Consents:
    """Consent jobs and list calls that change something, each judged by the consent policy,
    with warnings, for a target profile as the push leaves it.

    `subs` None: the read did not include consent (nothing can be proven a no-op or safe);
    `list_ids` None: it did not include list membership; `sent`: the consent emails already
    sent to this profile by list id ("" without a list).
    """
    target = _Target(subs=subs, list_ids=list_ids, new_profile=new_profile, sent=sent, now=now,
                     resend=resend, policy=policy or ConsentPolicy())
    consent: list[ConsentChange] = []
    list_ops: list[ListChange] = []
    warnings: list[str] = []
    subscribing = mapped.subscribe is True
    from_source = mapped.subscribe is False and mapped.subscribe_from_customer
    if email:
        change = (_subscribe(Channel.EMAIL, email, target, None) if subscribing
                  else _unsubscribe(Channel.EMAIL, email, target, from_source))
        if change is not None:
            consent.append(change)
    elif subscribing:
        warnings.append("the profile has no email address: email consent not changed")
    if sms_consent and phone_number:
        if phone_usable:
            change = (_subscribe(Channel.SMS, phone_number, target, None) if subscribing
                      else _unsubscribe(Channel.SMS, phone_number, target, from_source))
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
                change = _subscribe(Channel.EMAIL, email, target, klist)
                if change is not None:
                    consent.append(change)
            continue
        # LIST_x false leaves the list only: a list-scoped unsubscribe would globally
        # unsubscribe a non-member (Klaviyo 2025-07-15+), so consent is never touched here.
        list_change = _list_change(intent, klist, list_ids)
        if list_change is not None:
            list_ops.append(list_change)
    return tuple(consent), tuple(list_ops), tuple(warnings)


_NOTHING_GUARDED = Guard()


def judge(consent: tuple[ConsentChange, ...], mapped: MappedProfile,
          policy: ConsentPolicy) -> Guard:
    """The guard's verdict: a reason for every guarded change, the kinds the policy holds, and
    the consent jobs that will run (what a confirmation covers)."""
    if not consent:
        return _NOTHING_GUARDED  # a re-sync's usual plan: no consent change at all
    reasons = tuple(GuardReason(change.guard_kind, _reason(change, mapped))
                    for change in consent if change.guard_kind is not None)
    return Guard(
        reasons=reasons,
        held=frozenset(reason.kind for reason in reasons) & policy.hold,
        operations=tuple(
            (change.channel.value, change.action.value, change.list_id or "",
             str(change.double_opt_in).lower(), change.subject or "")
            for change in consent if change.sends),
    )


def _reason(change: ConsentChange, mapped: MappedProfile) -> str:
    what = _channel_words(change.channel)
    if change.list_name is not None:
        what += f" with list {change.list_name}"
    if change.guard_kind is GuardKind.UNSUBSCRIBE:
        why = ("SubscribeProfile is unmapped or empty for this customer"
               if mapped.subscribe is None
               else "the template sets SubscribeProfile to false, not the customer's own value")
        return f"unsubscribes {change.subject} from {what}: {why}"
    if change.guard_kind is GuardKind.RESUBSCRIBE:
        return (f"subscribes {change.subject} to {what}, who is UNSUBSCRIBED in Klaviyo: "
                "consent must come from the person")
    process = ("the list is double opt-in" if change.list_name is not None
               else "the account is double opt-in")
    return f"Klaviyo emails {change.subject} to confirm {what} ({process})"
