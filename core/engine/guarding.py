"""The consent guard as the engine applies it (design §6): what a confirmation covers, what a
run must hold, the brake on mass unsubscribes, and a survey of a run's plans. The verdict itself
is the plan's (`Plan.guard`, core.plan).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from core.model import ConsentAction, ConsentChange, GuardKind, Plan

ALL = frozenset(GuardKind)

# Confirmations: True (every kind, as push --yes and the console dialog give) or some kinds.
Confirm = Iterable[GuardKind | str] | bool


def confirmed_kinds(confirm: Confirm) -> frozenset[GuardKind]:
    """The kinds a confirmation covers."""
    if confirm is True:
        return ALL
    if confirm is False:
        return frozenset()
    return frozenset(GuardKind(kind) for kind in confirm)


def held_kinds(plan: Plan) -> frozenset[GuardKind]:
    """The kinds of change the plan holds until someone confirms them."""
    return plan.guard.held


def unconfirmed(plan: Plan, confirm: Confirm) -> frozenset[GuardKind]:
    """Held kinds the confirmation does not cover: empty when the plan may run."""
    return plan.guard.held - confirmed_kinds(confirm)


def unsubscribes(plan: Plan) -> bool:
    """Whether the plan unsubscribes anyone, opt-outs from the source included (the brake)."""
    return any(c.action is ConsentAction.UNSUBSCRIBE and c.sends for c in plan.consent)


def fingerprint(plan: Plan) -> str:
    """A stable hash of the plan's consent operations; "" when there are none."""
    return plan.guard.fingerprint()


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
    needing: dict[GuardKind, list[str]] = field(default_factory=dict)
    unsubscribes: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def add(self, customer_id: str, plan: Plan) -> None:
        self.customers += 1
        for kind in plan.guard.held:
            self.needing.setdefault(kind, []).append(customer_id)
        if unsubscribes(plan):
            self.unsubscribes.append(customer_id)

    def counts(self) -> dict[str, int]:
        """Customers needing each kind, every kind named (0 when none)."""
        return {kind.value: len(self.needing.get(kind, ())) for kind in GuardKind}

    def to_json(self) -> dict[str, object]:
        return {"customers": self.customers, "confirm_needed": self.counts(),
                "unsubscribes": len(self.unsubscribes), "failed": len(self.failed)}
