"""What the console needs from the engine, and the messages its workers report with."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from textual.message import Message

if TYPE_CHECKING:
    from core.engine.customer_index import CustomerSearch, IndexStatus
    from core.model import (
        ErrorKind,
        ErrorRecord,
        ErrorStatus,
        HistoryEntry,
        Plan,
    )


class ErrorLogPort(Protocol):
    def query(self, *, status: ErrorStatus | None = None, kind: ErrorKind | None = None,
              customer_id: str | None = None, offset: int = 0,
              limit: int | None = None) -> list[ErrorRecord]: ...

    def count(self, *, status: ErrorStatus | None = None,
              kind: ErrorKind | None = None) -> int: ...


class HistoryPort(Protocol):
    def for_customer(self, customer_id: str, limit: int | None = None) -> list[HistoryEntry]: ...

    def recent(self, limit: int = 50) -> list[HistoryEntry]: ...


class PushResultLike(Protocol):
    plan: Plan
    ok: bool
    profile_id: str | None
    error: ErrorRecord | None
    held: bool


class ProgressLike(Protocol):
    total: int | None
    done: int
    failed: int
    held: int


class EnginePort(Protocol):
    """The slice of core.engine.Engine the console drives (see interfaces.md)."""

    errors: Any
    history: Any
    config: Any
    sandbox: Any

    async def preview(self, customer_id: str) -> Plan: ...

    async def push(self, customer_id: str, *, confirmed: bool = False,
                   trigger: str = "manual") -> Any: ...

    async def sync(self, ids: Iterable[str] | None, *, bulk: bool = False,
                   confirm: frozenset[Any] = frozenset(),
                   on_progress: Callable[[Any], None] | None = None,
                   cancel: asyncio.Event | None = None) -> Any: ...

    async def survey(self, ids: Iterable[str] | None) -> Any: ...

    async def retry(self, error_ids: Sequence[str] | None, *,
                    on_progress: Callable[[Any], None] | None = None) -> Any: ...

    async def search_customers(self, query: str) -> CustomerSearch: ...

    async def customer_index(self) -> IndexStatus: ...

    async def refresh_customer_index(self, *, on_progress: Callable[[int], None] | None = None,
                                     if_older: bool = False) -> IndexStatus | None: ...

    def rate_limits(self) -> Mapping[str, Any]: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Counts:
    """A frozen copy of a batch's progress, safe to hand to the UI."""

    total: int | None
    done: int
    failed: int
    held: int

    @classmethod
    def of(cls, progress: Any) -> Counts:
        return cls(
            total=getattr(progress, "total", None),
            done=int(getattr(progress, "done", 0)),
            failed=int(getattr(progress, "failed", 0)),
            held=int(getattr(progress, "held", 0)),
        )

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.held


class EngineReady(Message):
    """The engine opened; screens may now ask it for data."""


class EngineFailed(Message):
    """The engine could not open; the message says what to fix."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class CountsChanged(Message):
    """A batch or retry-all reported progress."""

    def __init__(self, counts: Counts) -> None:
        super().__init__()
        self.counts = counts


class EngineUnavailable(RuntimeError):
    """The engine did not open; the message says why."""


async def wait_engine(app: Any) -> EnginePort:
    """The app's engine once it is open; EngineUnavailable when opening failed."""
    await app.engine_ready.wait()
    if app.engine is None:
        raise EngineUnavailable(app.engine_error or "the engine is not open")
    engine: EnginePort = app.engine
    return engine


def say(exc: BaseException) -> str:
    """An exception as one plain sentence for a toast (no traceback, no secrets)."""
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."
