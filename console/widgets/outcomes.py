"""Words for what happened: push outcomes, error attempts and the consent guard's kinds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.model import GuardKind

# The guard kinds of design §6, in the order the batch dialog asks about them.
GUARD_KINDS: dict[str, tuple[str, str]] = {
    GuardKind.UNSUBSCRIBE.value: ("unsubscribe",
                                  "an unsubscribe that is not the customer's own opt-out"),
    GuardKind.RESUBSCRIBE.value: ("re-subscribe", "a subscribe of someone UNSUBSCRIBED or "
                                  "suppressed in Klaviyo"),
    GuardKind.CONSENT_EMAIL.value: ("consent email",
                                    "the first double opt-in email for a (profile, list)"),
}
UNSUBSCRIBE = GuardKind.UNSUBSCRIBE.value

OUTCOME_STYLE = {"done": "bold $success", "failed": "bold $error", "held": "bold $warning"}


def outcome_of(entry: Any) -> str:
    """done, failed or held, as the history entry recorded it."""
    outcome = entry.outcome
    return str(getattr(outcome, "value", outcome))


def table_time(stamp: str) -> str:
    """'2026-12-07T14:14:12+00:00' -> '12-07 14:14': a date that fits a table cell."""
    return stamp.replace("T", " ")[5:16]


def survey_counts(survey: Any) -> dict[str, int]:
    """Customers needing each guard kind, every kind named (0 when none)."""
    counts = survey.counts() if callable(getattr(survey, "counts", None)) else {}
    if not counts:
        needing: Mapping[Any, Any] = getattr(survey, "needing", {}) or {}
        counts = {str(kind): len(ids) for kind, ids in needing.items()}
    named = {str(getattr(kind, "value", kind)): int(n) for kind, n in counts.items()}
    return {kind: named.get(kind, 0) for kind in GUARD_KINDS}


def brake_of(result: Any) -> Any:
    """The run's brake verdict when it tripped, else None."""
    verdict = getattr(result, "brake", None)
    return verdict if verdict is not None and getattr(verdict, "tripped", True) else None


def brake_words(verdict: Any) -> str:
    """The tripped brake in plain words, with what confirming does."""
    share = float(getattr(verdict, "share", 0.05))
    return (f"This run would unsubscribe {verdict.unsubscribes} of {verdict.customers} "
            f"customers: more than {share:.0%} (and at least {verdict.limit}), so the brake "
            f"stopped before the first unsubscribe. They are held. Apply the unsubscribes now?")
