"""Client-side pacing per rate-limit bucket, so a batch does not storm into 429s."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Windows are padded a little: the server counts arrivals, we count departures, and latency
# varies between the two, so an exact client-side window can still trip a fixed server window.
# The steady pad is what a batch gives up at the limit (2%: 735 of 750 a minute), so it is
# kept smaller than the burst pad, where a few milliseconds of jitter matter more.
_WINDOW_PAD = 1.05
_STEADY_PAD = 1.02
# Below this share of the steady budget left, the rest is spread over the time to reset.
_LOW_WATER = 0.1


@dataclass(frozen=True, slots=True)
class BucketSpec:
    """A bucket's published limits: `burst` per second and `steady` per minute."""

    burst: int
    steady: int


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """What the UI shows for one bucket: published limits, the server's last word, throttles."""

    bucket: str
    burst: int
    steady: int
    limit: int | None = None          # RateLimit-Limit of the last response (steady window)
    remaining: int | None = None      # RateLimit-Remaining of the last response
    reset_at: float | None = None     # wall-clock epoch seconds when the steady window resets
    throttled: int = 0                # 429s seen in this bucket
    sent: int = 0                     # requests sent through this bucket


@dataclass(slots=True)
class _Window:
    limit: int
    seconds: float
    stamps: deque[float] = field(default_factory=deque)

    def wait(self, now: float) -> float:
        while self.stamps and self.stamps[0] <= now - self.seconds:
            self.stamps.popleft()
        if len(self.stamps) < self.limit:
            return 0.0
        return self.stamps[len(self.stamps) - self.limit] + self.seconds - now


@dataclass(slots=True)
class _Bucket:
    name: str
    spec: BucketSpec
    windows: tuple[_Window, ...]
    not_before: float = 0.0
    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None
    throttled: int = 0
    sent: int = 0
    # Waiters queue here one behind another, so a thousand callers waiting on one bucket
    # wake one at a time instead of all at every free slot.
    queue: asyncio.Lock = field(default_factory=asyncio.Lock)

    def wait(self, now: float) -> float:
        return max([self.not_before - now, *(w.wait(now) for w in self.windows)])

    def record(self, now: float) -> None:
        self.sent += 1
        for window in self.windows:
            window.stamps.append(now)


def _first_number(value: str | None) -> float | None:
    """The leading number of a header value (`750`, `750, 750;w=60`, `1.5`)."""
    if not value:
        return None
    head = value.split(",")[0].split(";")[0].strip()
    try:
        number = float(head)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


class Limiter:
    """Sliding windows at the published burst/steady limits plus pacing from RateLimit-* headers."""

    def __init__(
        self,
        specs: Mapping[str, BucketSpec],
        *,
        rate_scale: float = 1.0,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
        sleep: Sleep,
    ) -> None:
        if not rate_scale > 0:
            raise ValueError(f"rate_scale must be a positive number, got {rate_scale!r}")
        self._clock = clock
        self._wall = wall
        self._sleep = sleep
        self._buckets = {
            name: _Bucket(
                name,
                spec,
                (
                    _Window(spec.burst, 1.0 * rate_scale * _WINDOW_PAD),
                    _Window(spec.steady, 60.0 * rate_scale * _STEADY_PAD),
                ),
            )
            for name, spec in specs.items()
        }

    async def acquire(self, buckets: Iterable[str]) -> None:
        """Wait until every named bucket has room, then take one slot in each."""
        chosen = sorted({self._buckets[name].name: self._buckets[name]
                         for name in buckets if name in self._buckets}.values(),
                        key=lambda b: b.name)
        if not any(b.queue.locked() for b in chosen) and self._take(chosen):
            return
        async with contextlib.AsyncExitStack() as held:
            for bucket in chosen:  # always in name order, so two callers never deadlock
                await held.enter_async_context(bucket.queue)
            while not self._take(chosen):
                now = self._clock()
                await self._sleep(max((b.wait(now) for b in chosen), default=0.0))

    async def room(self, buckets: Iterable[str]) -> None:
        """Wait until every named bucket could send now, after the callers already queued;
        takes no slot. A shared call waits here so customers keep joining it meanwhile."""
        chosen = sorted({self._buckets[name].name: self._buckets[name]
                         for name in buckets if name in self._buckets}.values(),
                        key=lambda b: b.name)
        while True:
            now = self._clock()
            wait = max((b.wait(now) for b in chosen), default=0.0)
            if wait <= 0 and not any(b.queue.locked() for b in chosen):
                return
            busy = next((b for b in chosen if b.queue.locked()), None)
            if busy is not None:
                async with busy.queue:  # behind whoever queued first
                    pass
            else:
                await self._sleep(wait)

    def _take(self, chosen: list[_Bucket]) -> bool:
        """Take a slot in every bucket if all have room now."""
        now = self._clock()
        if any(b.wait(now) > 0 for b in chosen):
            return False
        for bucket in chosen:
            bucket.record(now)
        return True

    def observe(self, bucket_name: str, headers: Mapping[str, str]) -> None:
        """Read RateLimit-Limit/-Remaining/-Reset and pace the rest of the window."""
        bucket = self._buckets.get(bucket_name)
        if bucket is None:
            return
        limit = _first_number(headers.get("RateLimit-Limit"))
        remaining = _first_number(headers.get("RateLimit-Remaining"))
        reset = _first_number(headers.get("RateLimit-Reset"))
        if limit is not None:
            bucket.limit = int(limit)
        if remaining is not None:
            bucket.remaining = int(remaining)
        if reset is None:
            return
        now = self._clock()
        bucket.reset_at = self._wall() + reset
        if remaining is None:
            return
        budget = bucket.limit if bucket.limit else bucket.spec.steady
        if remaining < 1:
            bucket.not_before = max(bucket.not_before, now + reset)
        elif remaining <= budget * _LOW_WATER:
            # Spread what is left evenly over the time until the window resets.
            bucket.not_before = max(bucket.not_before, now + reset / remaining)

    def throttled(self, bucket_name: str, retry_after: float | None) -> None:
        """A 429: hold the whole bucket until Retry-After has passed."""
        bucket = self._buckets.get(bucket_name)
        if bucket is None:
            return
        bucket.throttled += 1
        if retry_after is not None:
            bucket.not_before = max(bucket.not_before, self._clock() + retry_after)

    def states(self) -> dict[str, RateLimitState]:
        """A snapshot per bucket for the UI."""
        return {
            name: RateLimitState(
                bucket=name,
                burst=b.spec.burst,
                steady=b.spec.steady,
                limit=b.limit,
                remaining=b.remaining,
                reset_at=b.reset_at,
                throttled=b.throttled,
                sent=b.sent,
            )
            for name, b in self._buckets.items()
        }
