"""The consent guard as the engine applies it: what a plan holds, what confirms it, and the
fingerprint a confirmation is kept by (design §6).

core.plan is getting the verdict itself (`Plan.guard`, contract §1); until then the held kinds
are read from the changes the planner marks risky.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from core.model import ConsentAction, ConsentChange, Plan

UNSUBSCRIBE = "unsubscribe"
RESUBSCRIBE = "resubscribe"
CONSENT_EMAIL = "consent-email"
KINDS = (UNSUBSCRIBE, RESUBSCRIBE, CONSENT_EMAIL)
ALL = frozenset(KINDS)

# Confirmations: True (every kind, as push --yes and the console dialog give) or some kinds.
Confirm = frozenset[str] | bool


def confirmed_kinds(confirm: Confirm) -> frozenset[str]:
    """The kinds a confirmation covers."""
    if confirm is True:
        return ALL
    if confirm is False:
        return frozenset()
    return frozenset(str(kind) for kind in confirm)


def kind_of(change: ConsentChange) -> str:
    """The guard kind of a held change."""
    if change.action is ConsentAction.UNSUBSCRIBE:
        return UNSUBSCRIBE
    return CONSENT_EMAIL if change.double_opt_in else RESUBSCRIBE


def held_kinds(plan: Plan) -> frozenset[str]:
    """The kinds of change the plan holds until someone confirms them."""
    return frozenset(kind_of(change) for change in plan.guarded_consent)


def unconfirmed(plan: Plan, confirm: Confirm) -> frozenset[str]:
    """Held kinds the confirmation does not cover: empty when the plan may run."""
    return held_kinds(plan) - confirmed_kinds(confirm)


def sends(change: ConsentChange) -> bool:
    """Whether the change goes out: one awaiting an earlier consent email sends nothing."""
    return getattr(change, "pending_since", None) is None


def unsubscribes(plan: Plan) -> bool:
    """Whether the plan unsubscribes anyone, opt-outs from the source included (the brake)."""
    return any(c.action is ConsentAction.UNSUBSCRIBE and sends(c) for c in plan.consent)


def fingerprint(plan: Plan) -> str:
    """A stable hash of the plan's consent operations; "" when there are none."""
    operations = sorted(
        "|".join((c.channel.value, c.action.value, c.list_id or "", str(c.double_opt_in),
                  c.subject or ""))
        for c in plan.consent if sends(c))
    if not operations:
        return ""
    return hashlib.sha256("\n".join(operations).encode()).hexdigest()[:16]


def describe(change: ConsentChange) -> str:
    """A consent change in a few words, for a held record's message."""
    if change.note:
        return change.note
    where = f" on list {change.list_name}" if change.list_name else ""
    extra = " (sends a double opt-in consent email)" if change.double_opt_in else ""
    return f"{change.action.value} {change.channel.value}{where}{extra}"


@dataclass(frozen=True)
class BrakeVerdict:
    """A run's unsubscribes against the brake: how many, of how many customers, the limit."""

    unsubscribes: int
    customers: int
    share: float
    limit: int
    tripped: bool

    def message(self) -> str:
        return (f"the run would unsubscribe {self.unsubscribes} of {self.customers} customers "
                f"(more than {self.share:.0%}, at least {self.limit}); run again with "
                "--confirm unsubscribe to apply them")

    def to_json(self) -> dict[str, object]:
        return {"unsubscribes": self.unsubscribes, "customers": self.customers,
                "share": self.share, "limit": self.limit, "tripped": self.tripped}


def brake(unsubscribes: int, customers: int, *, share: float, minimum: int) -> BrakeVerdict:
    """Tripped when more than `share` of the customers, and at least `minimum`, unsubscribe."""
    tripped = unsubscribes >= minimum and unsubscribes > share * customers
    return BrakeVerdict(unsubscribes, customers, share, minimum, tripped)


@dataclass
class GuardSurvey:
    """What a run's plans would need confirmed: customers per kind, and which ones."""

    customers: int = 0
    needing: dict[str, list[str]] = field(default_factory=dict)
    unsubscribes: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def add(self, customer_id: str, plan: Plan) -> None:
        self.customers += 1
        for kind in held_kinds(plan):
            self.needing.setdefault(kind, []).append(customer_id)
        if unsubscribes(plan):
            self.unsubscribes.append(customer_id)

    def counts(self) -> dict[str, int]:
        """Customers needing each kind, every kind named (0 when none)."""
        return {kind: len(self.needing.get(kind, ())) for kind in KINDS}

    def to_json(self) -> dict[str, object]:
        return {"customers": self.customers, "confirm_needed": self.counts(),
                "unsubscribes": len(self.unsubscribes), "failed": len(self.failed)}
