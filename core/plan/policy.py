"""The consent policy of design §6: which guarded changes wait for a confirmation."""

from __future__ import annotations

from dataclasses import dataclass

from core.model import GuardKind, OptIn

DEFAULT_HOLD = frozenset({GuardKind.UNSUBSCRIBE, GuardKind.RESUBSCRIBE})


@dataclass(frozen=True, slots=True)
class ConsentPolicy:
    """`[consent]` in the config: what is held, the account's opt-in, the resend and brake rules."""

    hold: frozenset[GuardKind] = DEFAULT_HOLD
    # Governs a subscribe sent without a list; Klaviyo ships accounts with double opt-in.
    account_opt_in: OptIn = OptIn.DOUBLE
    # A consent email unconfirmed for this many days may be sent again.
    resend_days: int = 30
    # A batch that would unsubscribe more than this share of its customers, and at least
    # brake_min of them, stops before the first unsubscribe (the engine applies it).
    brake_share: float = 0.05
    brake_min: int = 20


def parse_guard_kinds(text: str) -> frozenset[GuardKind]:
    """Kinds from a comma list ("unsubscribe,consent-email", or "all"); a bad name raises
    ValueError naming the valid ones."""
    kinds: set[GuardKind] = set()
    for word in (part.strip().casefold() for part in text.split(",")):
        if not word:
            continue
        if word == "all":
            kinds.update(GuardKind)
            continue
        try:
            kinds.add(GuardKind(word))
        except ValueError:
            valid = ", ".join([*(kind.value for kind in GuardKind), "all"])
            raise ValueError(f"unknown consent change {word!r}; use {valid}") from None
    return frozenset(kinds)
