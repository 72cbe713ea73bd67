"""What the engine's lookups returned before Facts: kept as a thin way into the one planner."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from core.model import Collection, Customer, KlaviyoList, Profile
from core.plan.facts import Facts


@dataclass(frozen=True, slots=True)
class Resolution:
    """What the lookups found: the link and its profile, the matches, and the named lists."""

    link: str | None = None
    # None with link set = the linked profile is gone from Klaviyo (404): a stale link.
    linked_profile: Profile | None = None
    email_match: Profile | None = None
    phone_match: Profile | None = None
    # Every list named by the mapping, by name; None = no such list in Klaviyo.
    lists: Mapping[str, KlaviyoList | None] = field(default_factory=dict)

    @property
    def linked(self) -> bool:
        """True when the link points at a profile that exists (the Update collection applies)."""
        return self.link is not None and self.linked_profile is not None


def collection_for(resolution: Resolution) -> Collection:
    """Update for a live link, Add otherwise (unlinked, or a stale link)."""
    return Collection.UPDATE if resolution.linked else Collection.ADD


def facts_of(resolution: Resolution, customer: Customer) -> Facts:
    """The facts a Resolution holds: membership only as each profile's list_ids say, and no
    record of consent emails sent."""
    return Facts(
        customer=customer, link=resolution.link, linked_profile=resolution.linked_profile,
        email_match=resolution.email_match, phone_match=resolution.phone_match,
        lists=resolution.lists, memberships=None, consent_emails=None,
    )
