"""What a push would do: a Customer mapped for Klaviyo, and the plan routed from it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.model.customer import JSON


class Collection(StrEnum):
    ADD = "add"
    UPDATE = "update"


@dataclass(frozen=True, slots=True)
class ListIntent:
    """A LIST_ (consented) or UCLIST_ (membership only) custom field's mapped value."""

    list_name: str
    consent: bool
    member: bool


@dataclass(frozen=True, slots=True)
class MappedProfile:
    """A Customer mapped through one collection: what Klaviyo should hold after the push."""

    customer_id: str
    collection: Collection
    attributes: JSON
    properties: JSON
    subscribe: bool | None
    list_intents: tuple[ListIntent, ...] = ()
    phone_valid: bool | None = None
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    # What the template's Id mapping resolved (normally the stored link); None when unlinked.
    profile_id: str | None = None
    # True when `subscribe` came from the customer's own value (a field or formula reading the
    # customer), False for a template constant: only the former is an opt-out to honor at once.
    subscribe_from_customer: bool = False

    @property
    def has_identifier(self) -> bool:
        return bool(self.attributes.get("email") or self.attributes.get("phone_number"))


class Route(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    LINK = "link"
    BLOCKED = "blocked"


class MatchedBy(StrEnum):
    EXTERNAL_ID = "external_id"
    EMAIL = "email"
    PHONE = "phone"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class ConsentAction(StrEnum):
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"


class ListAction(StrEnum):
    ADD = "add"
    REMOVE = "remove"


class Change(StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    KEPT = "kept"


class ErrorKind(StrEnum):
    """Why a customer is not in Klaviyo as mapped: a blocked plan's or a failed transfer's."""

    NO_IDENTIFIER = "no_identifier"
    PHONE_REJECTED = "phone_rejected"
    API_UNAVAILABLE = "api_unavailable"
    RATE_LIMITED = "rate_limited"
    VALIDATION = "validation"
    CONFLICT = "conflict"
    LIST_NOT_FOUND = "list_not_found"
    CONSENT_GUARD = "consent_guard"
    NOT_FOUND = "not_found"
    AUTH = "auth"
    INTERNAL = "internal"


class GuardKind(StrEnum):
    """The kinds of consent change the guard knows (design §6); the policy holds some of them."""

    UNSUBSCRIBE = "unsubscribe"  # an unsubscribe that is not the customer's own value
    RESUBSCRIBE = "resubscribe"  # a subscribe of someone UNSUBSCRIBED or suppressed
    CONSENT_EMAIL = "consent-email"  # the first double opt-in consent email for (profile, list)


@dataclass(frozen=True, slots=True)
class ConsentChange:
    """One subscription job the push will run; `risky` marks what the consent guard holds."""

    channel: Channel
    action: ConsentAction
    list_name: str | None = None
    list_id: str | None = None
    double_opt_in: bool = False
    risky: bool = False
    note: str = ""
    # The email address (email channel) or E.164 number (sms) the job names: the identity the
    # target profile has after the write, so the job cannot land on another profile.
    subject: str | None = None
    # A consent email for this (profile, list) went out at this ISO time and awaits the
    # person's confirmation: the change is shown, and nothing is sent.
    pending_since: str | None = None
    guard_kind: GuardKind | None = None
    # An opt-out taken from the customer's own value: applied in every mode, never held.
    from_source: bool = False

    @property
    def sends(self) -> bool:
        """False while a consent email is pending: the job is shown, not run."""
        return self.pending_since is None

    def to_json(self) -> JSON:
        return {
            "channel": self.channel.value,
            "action": self.action.value,
            "list": self.list_name,
            "double_opt_in": self.double_opt_in,
            "pending_since": self.pending_since,
        }


@dataclass(frozen=True, slots=True)
class GuardReason:
    kind: GuardKind
    text: str  # plain words naming the channel or list and why the change is guarded


@dataclass(frozen=True, slots=True)
class Guard:
    """The consent guard's verdict on one plan: every guarded change, and the kinds held."""

    reasons: tuple[GuardReason, ...] = ()
    held: frozenset[GuardKind] = frozenset()
    # (channel, action, list_id, double_opt_in, subject) of each consent job the plan runs.
    operations: tuple[tuple[str, str, str, str, str], ...] = ()

    @property
    def confirm_needed(self) -> bool:
        return bool(self.held)

    def fingerprint(self) -> str:
        """A stable hash of the consent jobs the plan runs; "" when it runs none."""
        if not self.operations:
            return ""
        text = json.dumps(sorted(self.operations), separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def to_json(self) -> JSON:
        return {
            "confirm_needed": self.confirm_needed,
            "reasons": [{"kind": r.kind.value, "text": r.text, "held": r.kind in self.held}
                        for r in self.reasons],
        }


@dataclass(frozen=True, slots=True)
class ListChange:
    list_name: str
    list_id: str
    action: ListAction

    def to_json(self) -> JSON:
        return {"list": self.list_name, "action": self.action.value}


@dataclass(frozen=True, slots=True)
class FieldDiff:
    field: str
    current: Any
    mapped: Any
    change: Change

    def to_json(self) -> JSON:
        return {
            "field": self.field,
            "current": self.current,
            "mapped": self.mapped,
            "change": self.change.value,
        }


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything a push would do for one customer, decided before anything is written."""

    customer_id: str
    route: Route
    reason: str
    matched_by: MatchedBy | None = None
    profile_id: str | None = None
    payload: JSON | None = None
    current: JSON | None = None
    # A sequence, not a tuple: core.plan hands in a diff worked out on first read (a bulk sync
    # plans 20,000 customers and never reads one).
    diff: Sequence[FieldDiff] = ()
    consent: tuple[ConsentChange, ...] = ()
    lists: tuple[ListChange, ...] = ()
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    error_kind: ErrorKind | None = None
    guard: Guard = Guard()
    # Facts the mode could not read, in words ("list membership"): the plan assumed the worst.
    unknown: tuple[str, ...] = ()
    # What core.plan built this plan from, so a 409 on create can be re-planned without I/O.
    basis: object | None = field(default=None, compare=False, repr=False)

    @property
    def blocked(self) -> bool:
        return self.route is Route.BLOCKED

    @property
    def guarded_consent(self) -> tuple[ConsentChange, ...]:
        """Consent changes the policy holds until someone confirms (design §6)."""
        held = self.guard.held
        # `risky` too: a caller that replaced `consent` on a plan keeps its own verdicts.
        return tuple(c for c in self.consent
                     if c.risky or (c.guard_kind is not None and c.guard_kind in held))

    def to_json(self) -> JSON:
        return {
            "customer_id": self.customer_id,
            "route": self.route.value,
            "matched_by": self.matched_by.value if self.matched_by else None,
            "profile_id": self.profile_id,
            "reason": self.reason,
            "payload": self.payload,
            "current": self.current,
            "diff": [d.to_json() for d in self.diff],
            "consent": [c.to_json() for c in self.consent],
            "lists": [item.to_json() for item in self.lists],
            "guard": self.guard.to_json(),
            "unknown": list(self.unknown),
            "warnings": list(self.warnings),
            "errors": list(self.errors),
        }
