"""Words for what happened: push outcomes, error attempts and the consent guard's kinds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class AttemptLine:
    """One try at a record's transfer, as the errors screen lists it."""

    at: str
    kind: str
    message: str


def outcome_of(entry: Any, held_errors: frozenset[str] = frozenset()) -> str:
    """done, failed or held; an entry from before outcomes were kept is held when its error
    record is a consent_guard one (`held_errors`), never "failed"."""
    outcome = getattr(entry, "outcome", None)
    if outcome is not None:
        return str(getattr(outcome, "value", outcome))
    if entry.ok:
        return "done"
    return "held" if entry.error_id in held_errors else "failed"


def attempts_of(record: Any) -> list[AttemptLine]:
    """A record's attempts, oldest first; a record that only counted them gets one line."""
    attempts = record.attempts
    if isinstance(attempts, int):
        return [AttemptLine(record.created_at, record.kind.value, record.message)]
    return [AttemptLine(str(a.at), str(a.kind), str(a.message)) for a in attempts]


def attempt_count(record: Any) -> int:
    attempts = record.attempts
    return attempts if isinstance(attempts, int) else len(attempts)


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
