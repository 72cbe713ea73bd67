"""Record factories shared by the store tests."""

from __future__ import annotations

from core.model import ErrorKind, ErrorRecord, HistoryEntry, Route, Stage


def error(record_id: str, customer: str = "55260", kind: ErrorKind = ErrorKind.API_UNAVAILABLE,
          **extra: object) -> ErrorRecord:
    fields: dict[str, object] = {
        "id": record_id, "customer_id": customer, "kind": kind, "stage": Stage.WRITE,
        "message": "Klaviyo answered 503", "retry_action": "push again",
        "created_at": "2025-05-01T10:00:00+00:00", "updated_at": "2025-05-01T10:00:00+00:00",
    }
    fields.update(extra)
    return ErrorRecord(**fields)  # type: ignore[arg-type]


def entry(entry_id: str, customer: str = "55260", **extra: object) -> HistoryEntry:
    fields: dict[str, object] = {
        "id": entry_id, "customer_id": customer, "at": "2025-05-01T10:00:00+00:00",
        "route": Route.UPDATE, "ok": True, "profile_id": "01JPROFILE",
        "before": {"first_name": "Ann"}, "sent": {"data": {"attributes": {"first_name": "Anne"}}},
        "after": {"first_name": "Anne"},
    }
    fields.update(extra)
    return HistoryEntry(**fields)  # type: ignore[arg-type]
