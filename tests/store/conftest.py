"""Record factories shared by the store tests."""

from __future__ import annotations

import os
import signal
import sqlite3
from typing import Any

from core.model import Attempt, ErrorKind, ErrorRecord, HistoryEntry, Route, Stage


def error(record_id: str, customer: str = "55260", kind: ErrorKind = ErrorKind.API_UNAVAILABLE,
          **extra: object) -> ErrorRecord:
    fields: dict[str, object] = {
        "id": record_id, "customer_id": customer, "kind": kind, "stage": Stage.WRITE,
        "message": "Klaviyo answered 503", "retry_action": "push again",
        "created_at": "2025-05-01T10:00:00+00:00", "updated_at": "2025-05-01T10:00:00+00:00",
    }
    fields.update(extra)
    return ErrorRecord(**fields)  # type: ignore[arg-type]


def tries(n: int) -> tuple[Attempt, ...]:
    """n attempts, the first the record's own failure."""
    return tuple(Attempt(f"2025-05-01T10:0{i}:00+00:00", "api_unavailable", "Klaviyo answered 503")
                 for i in range(n))


def entry(entry_id: str, customer: str = "55260", **extra: object) -> HistoryEntry:
    fields: dict[str, object] = {
        "id": entry_id, "customer_id": customer, "at": "2025-05-01T10:00:00+00:00",
        "route": Route.UPDATE, "ok": True, "profile_id": "01JPROFILE",
        "before": {"first_name": "Ann"}, "sent": {"data": {"attributes": {"first_name": "Anne"}}},
        "after": {"first_name": "Anne"},
    }
    fields.update(extra)
    return HistoryEntry(**fields)  # type: ignore[arg-type]


class KillSwitch:
    """In a child process: SIGKILL it at the n-th SQL statement of any store connection.

    Installed before the stores open (it wraps sqlite3.connect); counts only once armed, so
    set-up statements do not count. Every statement is a kill point: BEGIN, each INSERT or
    UPDATE, each trigger step, COMMIT.
    """

    def __init__(self, at: int) -> None:
        self.at = at
        self.armed = False
        self.seen = 0
        real = sqlite3.connect

        def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            connection = real(*args, **kwargs)
            connection.set_trace_callback(self._statement)
            return connection

        sqlite3.connect = connect  # type: ignore[assignment]

    def _statement(self, sql: str) -> None:
        if not self.armed:
            return
        if self.seen == self.at:
            os.kill(os.getpid(), signal.SIGKILL)
        self.seen += 1
