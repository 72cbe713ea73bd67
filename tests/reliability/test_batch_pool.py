"""The batch's worker pool: workers start as items need them; a push that raises stops it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from core.engine.batch import BatchProgress, run_batch
from core.engine.flow import PushResult
from core.model import Plan, Route


def _ok(customer_id: str) -> PushResult:
    return PushResult(plan=Plan(customer_id=customer_id, route=Route.CREATE, reason=""),
                      ok=True, profile_id="p")


async def _ids(count: int) -> AsyncIterator[tuple[str, None]]:
    for n in range(count):
        yield str(n), None


async def test_a_short_batch_starts_no_more_workers_than_it_has_items() -> None:
    workers: list[int] = []

    def count_workers() -> int:
        return sum(1 for t in asyncio.all_tasks()
                   if "run_batch.<locals>.work" in getattr(t.get_coro(), "__qualname__", ""))

    async def push_one(customer_id: str, _: object) -> PushResult:
        await asyncio.sleep(0)
        workers.append(count_workers())
        return _ok(customer_id)

    progress = await run_batch(_ids(3), push_one, BatchProgress(total=3), workers=20_000)
    assert progress.done == 3
    assert max(workers) <= 3


async def test_concurrency_stays_within_the_worker_limit() -> None:
    running = 0
    most = 0

    async def push_one(customer_id: str, _: object) -> PushResult:
        nonlocal running, most
        running += 1
        most = max(most, running)
        for _ in range(3):
            await asyncio.sleep(0)
        running -= 1
        return _ok(customer_id)

    progress = await run_batch(_ids(200), push_one, BatchProgress(total=200), workers=7)
    assert progress.done == 200
    assert most == 7


async def test_a_push_that_raises_stops_the_batch_after_the_taken_items_finish() -> None:
    finished: list[str] = []

    async def push_one(customer_id: str, _: object) -> PushResult:
        await asyncio.sleep(0)
        if customer_id == "5":
            raise RuntimeError("the progress callback broke")
        finished.append(customer_id)
        return _ok(customer_id)

    with pytest.raises(RuntimeError, match="callback broke"):
        await run_batch(_ids(10_000), push_one, BatchProgress(total=None), workers=4)
    assert len(finished) < 100  # stopped taking items, did not run the whole source
