"""Many customers through the flow: a bounded queue, a few workers, progress, and a clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.engine.context import PushResult
from core.engine.guarding import BrakeVerdict
from core.model import Customer

# A batch shares its reads, consent jobs and list calls (core.engine.shared), so what paces it is
# the profile write's own bucket (75/s, 750/m). Enough customers in flight to keep that bucket
# busy while some wait on shared calls; few enough that a cancel, which lets the ones in flight
# finish, stops within a few seconds at Klaviyo's real 12.5 writes a second.
DEFAULT_WORKERS = 32
QUEUE_PER_WORKER = 2
# The source needs to stay only a page or so ahead of the workers: at a bulk sync's 20,000
# workers, two per worker would also hold 40,000 fetched customers in memory.
QUEUE_MAX = 500
# A read-only pass (report, survey) waits on no write: enough customers in flight to fill each
# shared read with 100 identifiers.
READ_WORKERS = 1000
# A sync without --bulk writes each customer with a request of its own, so its pages hold one
# customer: a slow read or write holds back no other customer's result (the operator sees each
# one finish) and a cancel stays prompt; the reads still share requests across the customers in
# flight (the shared calls' linger).
SYNC_PAGE = 1


@dataclass
class BatchProgress:
    """Counts of a running or finished batch; constant size however long the batch is."""

    total: int | None
    done: int = 0
    failed: int = 0
    held: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    cancelled: bool = False
    last_customer_id: str | None = None
    last_error: str | None = None
    # Set when the run planned unsubscribes: the brake's verdict on them (held if tripped).
    brake: BrakeVerdict | None = None

    @property
    def processed(self) -> int:
        return self.done + self.failed + self.held

    @property
    def elapsed(self) -> float:
        end = self.finished if self.finished is not None else time.monotonic()
        return max(0.0, end - self.started)

    @property
    def rate(self) -> float:
        """Customers per second so far."""
        elapsed = self.elapsed
        return self.processed / elapsed if elapsed > 0 else 0.0

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.held == 0 and not self.cancelled

    def count(self, result: PushResult) -> None:
        self.last_customer_id = result.plan.customer_id
        if result.ok:
            self.done += 1
        elif result.held:
            self.held += 1
        else:
            self.failed += 1
            if result.error is not None:
                self.last_error = result.error.message

    def to_json(self) -> dict[str, object]:
        return {
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
            "held": self.held,
            "processed": self.processed,
            "cancelled": self.cancelled,
            "elapsed": round(self.elapsed, 3),
            "rate": round(self.rate, 3),
            "brake": self.brake.to_json() if self.brake is not None else None,
        }


Item = tuple[str, Customer | None]
# A batch's unit of work: one customer (retry) or a page of them (sync, bulk, report, survey).
Page = list[Item]
# Called with a unit's fields; answers its customers' results. None: the customer produced no
# result of its own (set aside for the brake, or only planned).
PushOne = Callable[..., Awaitable[PushResult | Sequence[PushResult] | None]]


async def _from_ids(ids: Iterable[str]) -> AsyncIterator[Item]:
    for customer_id in ids:
        yield customer_id, None


async def _from_customers(customers: AsyncIterator[Customer]) -> AsyncIterator[Item]:
    async for customer in customers:
        yield customer.id, customer


async def run_batch(
    items: AsyncIterator[tuple[Any, ...]],
    push_one: PushOne,
    progress: BatchProgress,
    *,
    workers: int = DEFAULT_WORKERS,
    on_progress: Callable[[BatchProgress], None] | None = None,
    cancel: asyncio.Event | None = None,
    ahead: int | None = None,
) -> BatchProgress:
    """Push every item (a customer, or a page as one unit) with up to `workers` concurrent
    pushes; a set `cancel` stops taking new items.

    Items already taken always finish (done or logged); memory is bounded by the queue size
    (`ahead` units, by default two per worker up to QUEUE_MAX) and the pushes in flight.
    """
    cancel = cancel or asyncio.Event()
    limit = max(1, workers)
    # `ahead`: how many units the source may run ahead of the workers (pages are large units).
    queue: asyncio.Queue[tuple[Any, ...] | None] = asyncio.Queue(
        maxsize=ahead or min(limit * QUEUE_PER_WORKER, QUEUE_MAX))
    # A push that raised (a callback broke): stop taking items, let the rest finish, re-raise.
    halt = asyncio.Event()
    failure: list[BaseException] = []
    pool: list[asyncio.Task[None]] = []
    idle = 0

    async def work() -> None:
        nonlocal idle
        while True:
            idle += 1
            try:
                item = await queue.get()
            finally:
                idle -= 1
            if item is None:
                return
            if cancel.is_set() or halt.is_set():
                continue  # drain without starting new pushes
            try:
                result = await push_one(*item)
                for one in [result] if isinstance(result, PushResult) else result or ():
                    progress.count(one)
                if on_progress is not None:
                    on_progress(progress)
            except Exception as exc:
                failure.append(exc)
                halt.set()

    def staff() -> None:
        # Workers start as items wait for them: a bulk sync allows 20,000, and each idle one
        # costs ~0.7 KB that a smaller batch never needs.
        if queue.qsize() > idle and len(pool) < limit:
            pool.append(asyncio.create_task(work()))

    async def produce() -> None:
        stop = asyncio.ensure_future(_either(cancel, halt))
        try:
            async for item in items:
                if stop.done():
                    break
                if not queue.full():
                    queue.put_nowait(item)  # the common case: no tasks to wait on
                    staff()
                    continue
                put = asyncio.ensure_future(queue.put(item))
                await asyncio.wait({put, stop}, return_when=asyncio.FIRST_COMPLETED)
                if not put.done():
                    put.cancel()
                    break
                staff()
        except Exception as exc:
            # The source broke (e.g. a page read failed): let taken items finish, then report.
            failure.append(exc)
        finally:
            stop.cancel()
            for _ in range(len(pool)):
                await queue.put(None)

    producer = asyncio.create_task(produce())
    try:
        await producer
        await asyncio.gather(*pool)
    finally:
        for task in (producer, *pool):
            if not task.done():
                task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(producer, *pool, return_exceptions=True)
        progress.cancelled = cancel.is_set()
        progress.finished = time.monotonic()
        if on_progress is not None:
            on_progress(progress)
    if failure:
        raise failure[0]
    return progress


async def _either(*events: asyncio.Event) -> None:
    """Return once any of these events is set."""
    tasks = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def ids_source(ids: Iterable[str]) -> AsyncIterator[Item]:
    """Batch items from a list of customer ids (each push fetches its customer)."""
    return _from_ids(ids)


def customers_source(customers: AsyncIterator[Customer]) -> AsyncIterator[Item]:
    """Batch items streamed from iPaaS.com pages (each push reuses the customer it was given)."""
    return _from_customers(customers)


async def pages_of(items: AsyncIterator[Item], size: int) -> AsyncIterator[tuple[Page]]:
    """The items in pages of `size` (the last one shorter), each a unit for run_batch."""
    page: Page = []
    async for item in items:
        page.append(item)
        if len(page) >= size:
            yield (page,)
            page = []
    if page:
        yield (page,)


async def run_pages(
    items: AsyncIterator[Item],
    push_page: Callable[[Page], Awaitable[Sequence[PushResult] | None]],
    progress: BatchProgress,
    *,
    page: int,
    customers: int,
    on_progress: Callable[[BatchProgress], None] | None = None,
    cancel: asyncio.Event | None = None,
) -> BatchProgress:
    """run_batch over pages of up to `page` customers, about `customers` of them in flight; the
    source runs at most QUEUE_MAX customers (or two pages per worker) ahead."""
    size = min(page, max(1, customers))
    pages = max(1, customers // size)
    return await run_batch(pages_of(items, size), push_page, progress, workers=pages,
                           on_progress=on_progress, cancel=cancel,
                           ahead=min(pages * QUEUE_PER_WORKER, max(1, QUEUE_MAX // size)))
