"""What a plan is made from: the facts a mode gathered about one customer, and the settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from core.model import Customer, KlaviyoList, Profile
from core.plan.policy import ConsentPolicy

# Facts a mode may not know, in the words a plan's `unknown` names them.
CONSENT_STATE = "consent state"
LIST_MEMBERSHIP = "list membership"
PENDING_CONSENT_EMAILS = "pending consent emails"


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything one customer's plan depends on, however the mode read it."""

    customer: Customer
    link: str | None
    # None with link set = the linked profile is gone from Klaviyo (404): a stale link.
    linked_profile: Profile | None
    email_match: Profile | None
    phone_match: Profile | None
    # Every list the mapping names, by name; None = no such list in Klaviyo.
    lists: Mapping[str, KlaviyoList | None]
    # list id -> ids of the candidate profiles that are members; None = not read.
    memberships: Mapping[str, frozenset[str]] | None
    # (profile id, list id or "") -> ISO time a double opt-in consent email was sent.
    consent_emails: Mapping[tuple[str, str], str] | None
    unknown: tuple[str, ...] = ()
    now: str = ""  # ISO time the facts were read, for resend_days
    resend_consent_email: bool = False  # the operator asked to send it again
    # The profile id of a link iPaaS.com marked `DELETED:`; such a customer counts as unlinked.
    deleted_link: str | None = None

    @property
    def linked(self) -> bool:
        """True when the link points at a profile that exists (the Update collection applies)."""
        return self.link is not None and self.linked_profile is not None

    def lists_of(self, profile: Profile) -> frozenset[str] | None:
        """Ids of the named lists this profile belongs to; None when nothing says."""
        known = profile.list_ids
        if self.memberships is None:
            return known
        found = frozenset(list_id for list_id, ids in self.memberships.items()
                          if profile.id in ids)
        return found if known is None else known | found

    def consent_emails_of(self, profile_id: str) -> dict[str, str] | None:
        """List id ("" for none) -> when a consent email went to this profile; None unknown."""
        emails = self.consent_emails
        if emails is None:
            return None
        if not emails:
            return {}
        # Looked up by key: a batch's mapping holds every customer's, and must not be walked.
        keys = ["", *(klist.id for klist in self.lists.values() if klist is not None)]
        return {key: sent for key in keys
                if (sent := emails.get((profile_id, key))) is not None}


@dataclass(frozen=True, slots=True)
class PlanSettings:
    sms_consent: bool = False
    default_region: str = "US"
    policy: ConsentPolicy = field(default_factory=ConsentPolicy)
