"""What the error log and the push history keep: failed transfers and pushes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
    attempts: int = 1
    code: str | None = None
    detail: str | None = None
    http_status: int | None = None
    profile_id: str | None = None

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "kind": self.kind.value,
            "stage": self.stage.value,
            "message": self.message,
            "retry_action": self.retry_action,
            "status": self.status.value,
            "attempts": self.attempts,
            "code": self.code,
            "detail": self.detail,
            "http_status": self.http_status,
            "profile_id": self.profile_id,
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
            attempts=int(raw.get("attempts", 1)),
            code=raw.get("code"),
            detail=raw.get("detail"),
            http_status=raw.get("http_status"),
            profile_id=raw.get("profile_id"),
        )


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
        )
