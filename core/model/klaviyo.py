"""The Klaviyo side: a profile with its consent and list membership, and Klaviyo lists."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.model.customer import JSON


class ProfileDataError(ValueError):
    """A Klaviyo profile resource that cannot be read; the message names the profile and field."""


class ConsentState(StrEnum):
    SUBSCRIBED = "SUBSCRIBED"
    UNSUBSCRIBED = "UNSUBSCRIBED"
    NEVER_SUBSCRIBED = "NEVER_SUBSCRIBED"


class OptIn(StrEnum):
    SINGLE = "single_opt_in"
    DOUBLE = "double_opt_in"


@dataclass(frozen=True, slots=True)
class Subscriptions:
    """Marketing consent per channel, as `additional-fields[profile]=subscriptions` reads it."""

    email: ConsentState = ConsentState.NEVER_SUBSCRIBED
    sms: ConsentState = ConsentState.NEVER_SUBSCRIBED


@dataclass(frozen=True, slots=True)
class Profile:
    """A Klaviyo profile: id, JSON:API attributes (properties, location nested) and consent."""

    id: str
    attributes: JSON = field(default_factory=dict)
    subscriptions: Subscriptions | None = None
    # Ids of the lists the profile belongs to; None when the read did not include them.
    list_ids: frozenset[str] | None = None
    # Attributes Klaviyo dropped from the write (X-Klaviyo-Partial-Failure), e.g. phone_number.
    partial_failure: tuple[str, ...] = ()

    @property
    def email(self) -> str | None:
        value = self.attributes.get("email")
        return value if isinstance(value, str) else None

    @property
    def phone_number(self) -> str | None:
        value = self.attributes.get("phone_number")
        return value if isinstance(value, str) else None

    @classmethod
    def from_api(cls, resource: Mapping[str, Any]) -> Profile:
        """Build from a JSON:API `profile` resource; a garbled one raises ProfileDataError."""
        if not isinstance(resource, Mapping):
            raise ProfileDataError(
                f"Klaviyo profile resource must be an object, got {type(resource).__name__}"
            )
        where = f"Klaviyo profile {resource.get('id') or '(no id)'}: "
        # Guessing is unsafe here: read as empty, a garbled profile would hide an opt-out from
        # the consent guard, so the push must stop instead.
        raw_attributes = resource.get("attributes") or {}
        if not isinstance(raw_attributes, Mapping):
            raise ProfileDataError(
                f"{where}attributes must be an object, got {type(raw_attributes).__name__}"
            )
        attributes = dict(raw_attributes)
        raw_subs = attributes.pop("subscriptions", None)
        subs = None
        if isinstance(raw_subs, Mapping):
            subs = Subscriptions(
                email=_consent(raw_subs, "email"),
                sms=_consent(raw_subs, "sms"),
            )
        lists = None
        relationships = resource.get("relationships") or {}
        if not isinstance(relationships, Mapping):
            raise ProfileDataError(
                f"{where}relationships must be an object, got {type(relationships).__name__}"
            )
        related = relationships.get("lists")
        if isinstance(related, Mapping) and isinstance(related.get("data"), list):
            for item in related["data"]:
                if not isinstance(item, Mapping) or not item.get("id"):
                    raise ProfileDataError(
                        f"{where}relationships.lists.data holds {item!r}, not a list identifier"
                    )
            lists = frozenset(str(item["id"]) for item in related["data"])
        return cls(
            id=str(resource.get("id", "")), attributes=attributes, subscriptions=subs,
            list_ids=lists,
        )


def _consent(subs: Mapping[str, Any], channel: str) -> ConsentState:
    node = subs.get(channel) or {}
    marketing = node.get("marketing") if isinstance(node, Mapping) else None
    value = marketing.get("consent") if isinstance(marketing, Mapping) else None
    try:
        return ConsentState(str(value))
    except ValueError:
        return ConsentState.NEVER_SUBSCRIBED


@dataclass(frozen=True, slots=True)
class KlaviyoList:
    id: str
    name: str
    opt_in_process: OptIn = OptIn.SINGLE
