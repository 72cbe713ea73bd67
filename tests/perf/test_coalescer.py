"""Coalesced calls: chunk sizes, flush on linger, and failures attributed per item."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

import pytest

from core.clients.http import ApiError
from core.engine.coalescer import Coalescer


async def test_items_share_calls_of_at_most_size_and_each_gets_its_result() -> None:
    calls: list[list[int]] = []

    async def run(key: Hashable, items: list[int]) -> list[int]:
        calls.append(list(items))
        return [i * 10 for i in items]

    coalescer: Coalescer[int, int] = Coalescer(run, size=4, linger=0.01)
    results = await asyncio.gather(*(coalescer.submit("k", i) for i in range(10)))
    assert results == [i * 10 for i in range(10)]
    assert sorted(len(c) for c in calls) == [2, 4, 4]  # two full calls, the rest on linger


async def test_keys_never_share_a_call() -> None:
    seen: list[tuple[Hashable, list[str]]] = []

    async def run(key: Hashable, items: list[str]) -> list[None]:
        seen.append((key, items))
        return [None] * len(items)

    coalescer: Coalescer[str, None] = Coalescer(run, size=100, linger=0.01)
    await asyncio.gather(coalescer.submit("a", "x"), coalescer.submit("b", "y"),
                         coalescer.submit("a", "z"))
    assert sorted(seen, key=lambda s: str(s[0])) == [("a", ["x", "z"]), ("b", ["y"])]


async def test_a_failed_combined_call_is_retried_per_item_so_only_the_culprit_fails() -> None:
    async def run(key: Hashable, items: list[str]) -> list[str]:
        if "bad" in items:
            raise ApiError("klaviyo", status=400, code="invalid", detail=f"refused {items}")
        return [f"ok {i}" for i in items]

    coalescer: Coalescer[str, str] = Coalescer(run, size=10, linger=0.01)
    outcomes = await asyncio.gather(*(coalescer.submit("k", i) for i in ("a", "bad", "c")),
                                    return_exceptions=True)
    assert outcomes[0] == "ok a" and outcomes[2] == "ok c"
    assert isinstance(outcomes[1], ApiError) and "['bad']" in str(outcomes[1].detail)


async def test_drain_sends_what_is_pending() -> None:
    sent: list[list[int]] = []

    async def run(key: Hashable, items: list[int]) -> list[None]:
        sent.append(items)
        return [None] * len(items)

    coalescer: Coalescer[int, None] = Coalescer(run, size=100, linger=60)
    waiting = asyncio.ensure_future(coalescer.submit("k", 1))
    await asyncio.sleep(0)
    await coalescer.drain()
    await waiting
    assert sent == [[1]]


def test_a_size_below_one_is_refused() -> None:
    async def run(key: Hashable, items: list[int]) -> list[None]:
        return []

    with pytest.raises(ValueError):
        Coalescer(run, size=0)
