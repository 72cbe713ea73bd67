"""The stub engine with issue 14's batch API: survey, sync(confirm=..., bulk=...), the brake,
retries the guard holds again, and retry notices; for the batch, errors and history tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from core.model import ErrorKind, ErrorStatus
from tests.ui.stub_engine import CUSTOMERS, Progress, StubConfig, StubEngine


@dataclass
class Survey:
    customers: int
    needing: dict[str, list[str]] = field(default_factory=dict)
    unsubscribes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {kind: len(ids) for kind, ids in self.needing.items()}


@dataclass(frozen=True)
class Brake:
    unsubscribes: int
    customers: int
    share: float
    limit: int
    tripped: bool = True


@dataclass
class RunProgress(Progress):
    brake: Brake | None = None


@dataclass(frozen=True)
class SyncCall:
    ids: list[str] | None
    bulk: bool
    confirm: frozenset[str]


class GuardStub(StubEngine):
    """1005 unsubscribes and needs `unsubscribe` confirmed; `trip_brake` holds its run."""

    def __init__(self, config: StubConfig) -> None:
        super().__init__(config)
        self.needing: dict[str, list[str]] = {"unsubscribe": ["1005"]}
        self.unsubscribing = ["1005"]
        self.trip_brake = False
        self.syncs: list[SyncCall] = []
        self.surveys: list[list[str] | None] = []
        self.retry_listeners: list[Callable[[Any], None]] = []
        self.hold_on_retry = False

    def on_retry(self, listener: Callable[[Any], None]) -> Callable[[], None]:
        self.retry_listeners.append(listener)
        return lambda: self.retry_listeners.remove(listener)

    async def survey(self, ids: Iterable[str] | None) -> Survey:
        chosen = list(ids) if ids is not None else list(CUSTOMERS)
        self.surveys.append(None if ids is None else chosen)
        needing = {k: [i for i in v if i in chosen] for k, v in self.needing.items()}
        return Survey(len(chosen), {k: v for k, v in needing.items() if v},
                      [i for i in self.unsubscribing if i in chosen])

    async def sync(self, ids: Iterable[str] | None, *, bulk: bool = False,  # type: ignore[override]
                   confirm: Iterable[str] = frozenset(),
                   on_progress: Callable[[Any], None] | None = None,
                   cancel: asyncio.Event | None = None) -> RunProgress:
        kinds = frozenset(str(k) for k in confirm)
        chosen = list(ids) if ids is not None else list(CUSTOMERS)
        self.syncs.append(SyncCall(None if ids is None else chosen, bulk, kinds))
        # The engine streams "all customers" without knowing how many there are.
        progress = RunProgress(total=None if ids is None else len(chosen))
        braked = self.trip_brake and "unsubscribe" not in kinds
        for index, cid in enumerate(chosen):
            if cancel is not None and self.hold_after is not None and index >= self.hold_after:
                await cancel.wait()  # a run that stays in flight until F10
            if cancel is not None and cancel.is_set():
                progress.cancelled = True
                break
            if braked and cid in self.unsubscribing:
                progress.held += 1
            else:
                needs = {k for k, v in self.needing.items() if cid in v}
                result = await self.push(cid, confirmed=needs <= kinds, trigger="batch")
                if result.ok:
                    progress.done += 1
                elif result.held:
                    progress.held += 1
                else:
                    progress.failed += 1
            if on_progress:
                on_progress(progress)
        if braked:
            progress.brake = Brake(len(self.unsubscribing), len(chosen), 0.05, 20)
        return progress

    async def retry(self, error_ids: Sequence[str] | None, *,
                    on_progress: Callable[[Any], None] | None = None) -> Progress:
        if not self.hold_on_retry:
            return await super().retry(error_ids, on_progress=on_progress)
        records = ([self.errors.records[i] for i in error_ids] if error_ids is not None else
                   self.errors.query(status=ErrorStatus.OPEN))
        progress = Progress(total=len(records))
        for record in records:
            self.errors.add(replace(
                record, kind=ErrorKind.CONSENT_GUARD,
                message="held again: the plan changed since you confirmed it (now also "
                        "unsubscribes sms)"))
            progress.held += 1
            if on_progress:
                on_progress(progress)
        return progress
