"""A shared call at a busy bucket keeps taking customers until the bucket has room."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

from core.engine.coalescer import Coalescer


async def test_items_join_the_call_while_its_bucket_is_busy() -> None:
    calls: list[list[int]] = []
    room = asyncio.Event()

    async def run(_key: Hashable, items: list[int]) -> list[int]:
        calls.append(list(items))
        return [i * 10 for i in items]

    async def ready(_key: Hashable) -> None:
        await room.wait()

    coalescer: Coalescer[int, int] = Coalescer(run, size=100, linger=0.001, ready=ready)
    first = [asyncio.ensure_future(coalescer.submit("k", i)) for i in range(3)]
    await asyncio.sleep(0.02)  # well past the linger: without `ready` this would go out
    later = [asyncio.ensure_future(coalescer.submit("k", i)) for i in range(3, 5)]
    await asyncio.sleep(0.01)
    assert calls == []
    room.set()
    assert await asyncio.gather(*first, *later) == [0, 10, 20, 30, 40]
    assert calls == [[0, 1, 2, 3, 4]]


async def test_a_full_call_goes_out_without_waiting_for_room() -> None:
    calls: list[list[int]] = []
    never = asyncio.Event()

    async def run(_key: Hashable, items: list[int]) -> list[int]:
        calls.append(list(items))
        return items

    async def ready(_key: Hashable) -> None:
        await never.wait()

    coalescer: Coalescer[int, int] = Coalescer(run, size=3, linger=0.001, ready=ready)
    assert await asyncio.gather(*(coalescer.submit("k", i) for i in range(3))) == [0, 1, 2]
    assert calls == [[0, 1, 2]]
    await coalescer.drain()


async def test_a_failing_wait_for_room_still_sends_the_call() -> None:
    async def run(_key: Hashable, items: list[int]) -> list[int]:
        return items

    async def ready(_key: Hashable) -> None:
        raise RuntimeError("no limiter state")

    coalescer: Coalescer[int, int] = Coalescer(run, size=10, linger=0.001, ready=ready)
    assert await coalescer.submit("k", 7) == 7
