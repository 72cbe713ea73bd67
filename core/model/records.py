"""What the error log and the push history keep: failed transfers and pushes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from core.model.customer import JSON
from core.model.plan import ErrorKind, Route


class Stage(StrEnum):
    """Where in the flow of design §3 a transfer failed."""

    FETCH = "fetch"
    MAP = "map"
    RESOLVE = "resolve"
    PLAN = "plan"
    WRITE = "write"
    CONSENT = "consent"
    LISTS = "lists"
    LINK = "link"


class ErrorStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


# The kind of the attempt that resolved a record: a push that succeeded.
RESOLVED_ATTEMPT = "done"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at a customer's transfer: when, what kind of failure (or "done"), and why."""

    at: str
    kind: str
    message: str

    def to_json(self) -> JSON:
        return {"at": self.at, "kind": self.kind, "message": self.message}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Attempt:
        return cls(at=str(raw["at"]), kind=str(raw["kind"]), message=str(raw.get("message", "")))


def _attempts_of(raw: Mapping[str, Any]) -> tuple[Attempt, ...]:
    """The stored attempts; a record from before they were kept counted them in a number."""
    stored = raw.get("attempts", 1)
    if isinstance(stored, list):
        return tuple(Attempt.from_json(item) for item in stored)
    first = Attempt(str(raw["created_at"]), str(raw["kind"]), str(raw["message"]))
    later = replace(first, at=str(raw.get("updated_at", raw["created_at"])))
    return (first, *([later] * (max(1, int(stored)) - 1)))


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """One failed transfer in the error log, with enough to understand and retry it."""

    id: str
    customer_id: str
    kind: ErrorKind
    stage: Stage
    message: str
    retry_action: str
    created_at: str
    updated_at: str
    status: ErrorStatus = ErrorStatus.OPEN
    # Every try, oldest first: the first cause stays visible after retries fail otherwise.
    # Empty only while a record is being built; the engine stamps the first attempt.
    attempts: tuple[Attempt, ...] = ()
    code: str | None = None
    detail: str | None = None
    http_status: int | None = None
    profile_id: str | None = None
    # The fingerprint of the consent operations the operator confirmed for this customer.
    confirmed: str | None = None
    # The history id of the push a failed undo was reversing: a retry undoes it again.
    undo_of: str | None = None

    def headline(self) -> str:
        """The message, naming the push when the failure is an undo's."""
        return f"undo of push {self.undo_of}: {self.message}" if self.undo_of else self.message

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "kind": self.kind.value,
            "stage": self.stage.value,
            "message": self.message,
            "retry_action": self.retry_action,
            "status": self.status.value,
            "attempts": [attempt.to_json() for attempt in self.attempts],
            "code": self.code,
            "detail": self.detail,
            "http_status": self.http_status,
            "profile_id": self.profile_id,
            "confirmed": self.confirmed,
            "undo_of": self.undo_of,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ErrorRecord:
        return cls(
            id=str(raw["id"]),
            customer_id=str(raw["customer_id"]),
            kind=ErrorKind(raw["kind"]),
            stage=Stage(raw["stage"]),
            message=str(raw["message"]),
            retry_action=str(raw.get("retry_action", "")),
            created_at=str(raw["created_at"]),
            updated_at=str(raw.get("updated_at", raw["created_at"])),
            status=ErrorStatus(raw.get("status", "open")),
            attempts=_attempts_of(raw),
            code=raw.get("code"),
            detail=raw.get("detail"),
            http_status=raw.get("http_status"),
            profile_id=raw.get("profile_id"),
            confirmed=raw.get("confirmed"),
            undo_of=raw.get("undo_of"),
        )


class Outcome(StrEnum):
    """What a push came to: written, failed, or held for a confirmation."""

    DONE = "done"
    FAILED = "failed"
    HELD = "held"


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One push: the profile before, what was sent, the profile after, and the outcome."""

    id: str
    customer_id: str
    at: str
    route: Route
    ok: bool
    profile_id: str | None
    before: JSON | None
    sent: JSON | None
    after: JSON | None
    consent: tuple[JSON, ...] = ()
    lists: tuple[JSON, ...] = ()
    error_id: str | None = None
    trigger: str = "manual"
    outcome: Outcome = Outcome.DONE

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "at": self.at,
            "route": self.route.value,
            "ok": self.ok,
            "profile_id": self.profile_id,
            "before": self.before,
            "sent": self.sent,
            "after": self.after,
            "consent": list(self.consent),
            "lists": list(self.lists),
            "error_id": self.error_id,
            "trigger": self.trigger,
            "outcome": self.outcome.value,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> HistoryEntry:
        return cls(
            id=str(raw["id"]),
            customer_id=str(raw["customer_id"]),
            at=str(raw["at"]),
            route=Route(raw["route"]),
            ok=bool(raw["ok"]),
            profile_id=raw.get("profile_id"),
            before=raw.get("before"),
            sent=raw.get("sent"),
            after=raw.get("after"),
            consent=tuple(raw.get("consent") or ()),
            lists=tuple(raw.get("lists") or ()),
            error_id=raw.get("error_id"),
            trigger=str(raw.get("trigger", "manual")),
            # An entry from before outcomes were kept says only whether it succeeded.
            outcome=Outcome(raw.get("outcome") or ("done" if raw["ok"] else "failed")),
        )
