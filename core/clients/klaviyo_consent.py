"""The subscribe and unsubscribe job documents, built from who they are about."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from core.model import JSON, Channel


@dataclass(frozen=True, slots=True)
class ConsentSubject:
    """Who a subscription job is about: identifiers, and the profile id when known."""

    email: str | None
    phone_number: str | None
    profile_id: str | None = None


def _consent_profile(
    subject: ConsentSubject, channels: Collection[Channel], consent: str, *, with_id: bool
) -> JSON:
    subscriptions: JSON = {}
    attributes: JSON = {}
    if Channel.EMAIL in channels and subject.email:
        attributes["email"] = subject.email
        subscriptions["email"] = {"marketing": {"consent": consent}}
    if Channel.SMS in channels and subject.phone_number:
        attributes["phone_number"] = subject.phone_number
        subscriptions["sms"] = {"marketing": {"consent": consent}}
    if not subscriptions:
        wanted = " or ".join(sorted(c.value for c in channels)) or "no channel"
        raise ValueError(
            f"consent subject {subject.profile_id or '(no profile id)'} has no identifier "
            f"for {wanted}: give an email for the email channel, a phone for sms"
        )
    attributes["subscriptions"] = subscriptions
    item: JSON = {"type": "profile", "attributes": attributes}
    if with_id and subject.profile_id:
        item["id"] = subject.profile_id
    return item


def _list_relationship(list_id: str | None) -> JSON:
    return {"relationships": {"list": {"data": {"type": "list", "id": list_id}}}} if list_id else {}


def subscribe_body(
    subjects: Sequence[ConsentSubject],
    channels: Collection[Channel],
    list_id: str | None,
    *,
    custom_source: str | None = None,
) -> JSON:
    """The profile-subscription-bulk-create-job document."""
    attributes: JSON = {
        "profiles": {
            "data": [_consent_profile(s, channels, "SUBSCRIBED", with_id=True) for s in subjects]
        }
    }
    if custom_source:
        attributes["custom_source"] = custom_source
    return {
        "data": {
            "type": "profile-subscription-bulk-create-job",
            "attributes": attributes,
            **_list_relationship(list_id),
        }
    }


def unsubscribe_body(
    subjects: Sequence[ConsentSubject], channels: Collection[Channel], list_id: str | None
) -> JSON:
    """The profile-subscription-bulk-delete-job document (no profile ids in this schema)."""
    profiles = [_consent_profile(s, channels, "UNSUBSCRIBED", with_id=False) for s in subjects]
    return {
        "data": {
            "type": "profile-subscription-bulk-delete-job",
            "attributes": {"profiles": {"data": profiles}},
            **_list_relationship(list_id),
        }
    }
