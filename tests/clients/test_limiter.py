"""Client-side pacing: a burst past the published limits meets no 429."""

from __future__ import annotations

import asyncio
import itertools

import httpx
import pytest

from core.clients.klaviyo import KlaviyoClient
from core.clients.limiter import BucketSpec, Limiter
from core.sandbox.klaviyo import KlaviyoEmulator
from tests.clients.fakes import KEY, Recorder, VirtualClock, jsonapi, klaviyo_error


class FixedWindowServer:
    """Enforces `burst` per second and `steady` per minute in fixed windows, like Klaviyo."""

    def __init__(self, clock: VirtualClock, burst: int, steady: int, scale: float = 1.0) -> None:
        self.clock, self.burst, self.steady, self.scale = clock, burst, steady, scale
        self.windows: dict[float, list[float]] = {1.0 * scale: [0, 0], 60.0 * scale: [0, 0]}
        self.throttled = 0
        self.served = 0
        self.failed = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        now = self.clock()
        limits = {1.0 * self.scale: self.burst, 60.0 * self.scale: self.steady}
        for length, window in self.windows.items():
            if now >= window[0] + length:
                window[0], window[1] = now - (now - window[0]) % length, 0
        if any(w[1] >= limits[length] for length, w in self.windows.items()):
            self.throttled += 1
            return klaviyo_error(429, "throttled", "Request was throttled.",
                                 headers={"Retry-After": "1"})
        for window in self.windows.values():
            window[1] += 1
        self.served += 1
        steady = self.windows[60.0 * self.scale]
        reset = steady[0] + 60.0 * self.scale - now
        return httpx.Response(204, headers={
            "RateLimit-Limit": str(self.steady),
            "RateLimit-Remaining": str(self.steady - steady[1]),
            "RateLimit-Reset": f"{reset:.3f}"})


async def _burst(limiter_on: bool, n: int, scale: float = 1.0) -> FixedWindowServer:
    clock = VirtualClock()
    server = FixedWindowServer(clock, burst=10, steady=150, scale=scale)
    client = KlaviyoClient(KEY, transport=httpx.MockTransport(server), clock=clock,
                           sleep=clock.sleep, limiter=limiter_on, rate_scale=scale)
    async with client:
        results = await asyncio.gather(*(client.add_to_list("Y6nRLr", [f"01J{i:023d}"])
                                         for i in range(n)), return_exceptions=True)
    server.failed = sum(isinstance(r, Exception) for r in results)
    return server


async def test_without_the_limiter_a_burst_is_throttled() -> None:
    server = await _burst(False, 60)
    assert server.throttled > 0


@pytest.mark.parametrize("scale", [1.0, 0.01])
async def test_with_the_limiter_a_burst_meets_no_429(scale: float) -> None:
    server = await _burst(True, 200, scale)
    assert server.throttled == 0 and server.served == 200 and server.failed == 0


async def test_a_burst_against_the_emulator_meets_no_429() -> None:
    clock = VirtualClock()
    emulator = KlaviyoEmulator(api_key=KEY, clock=clock)
    emulator.seed([], [{"name": "Preview List", "opt_in_process": "single_opt_in"}])
    recorder = Recorder(emulator.handle)
    async with KlaviyoClient(KEY, transport=recorder.transport, clock=clock,
                             sleep=clock.sleep) as client:
        made = [await client.create_profile({"email": f"p{i}@example.com"}) for i in range(20)]
        found = await client.find_list_by_name("Preview List")
        assert found is not None
        await asyncio.gather(*(client.add_to_list(found.id, [p.id]) for p in made for _ in "ab"))
        # Consent read-backs with include=lists have a 1/s, 15/m bucket of their own.
        await asyncio.gather(*(client.get_profile(p.id) for p in made))
    assert 429 not in recorder.statuses and len(recorder.statuses) == 81
    states = client.rate_limits()
    assert states["POST /api/lists/{id}/relationships/profiles"].sent == 40
    assert states["POST /api/lists/{id}/relationships/profiles"].limit == 150


async def test_low_remaining_spreads_the_rest_over_the_reset() -> None:
    clock = VirtualClock()
    sent_at: list[float] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        sent_at.append(clock())
        return httpx.Response(204, headers={"RateLimit-Limit": "150", "RateLimit-Remaining": "5",
                                            "RateLimit-Reset": "10"})

    async with KlaviyoClient(KEY, transport=httpx.MockTransport(handler), clock=clock,
                             sleep=clock.sleep) as client:
        for i in range(3):
            await client.add_to_list("Y6nRLr", [f"01J{i:023d}"])
    gaps = [b - a for a, b in itertools.pairwise(sent_at)]
    assert all(gap == pytest.approx(2.0) for gap in gaps)  # 10 s over 5 remaining
    state = client.rate_limits()["POST /api/lists/{id}/relationships/profiles"]
    assert (state.limit, state.remaining) == (150, 5)


async def test_a_429_holds_the_whole_bucket() -> None:
    clock = VirtualClock()
    limiter = Limiter({"b": BucketSpec(100, 1000)}, clock=clock, sleep=clock.sleep)
    limiter.throttled("b", 5.0)
    start = clock.now
    await limiter.acquire(["b"])
    assert clock.now - start >= 5.0
    assert limiter.states()["b"].throttled == 1


def test_rate_scale_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate_scale"):
        Limiter({}, rate_scale=0, sleep=VirtualClock().sleep)


async def test_unknown_headers_are_ignored() -> None:
    clock = VirtualClock()
    response = jsonapi(200, {"data": []}, {"RateLimit-Limit": "n/a", "RateLimit-Reset": "soon"})

    async def handler(request: httpx.Request) -> httpx.Response:
        return response

    async with KlaviyoClient(KEY, transport=httpx.MockTransport(handler), clock=clock,
                             sleep=clock.sleep) as client:
        assert await client.find_profile_by_email("a@b.co") is None
    state = client.rate_limits()["GET /api/profiles"]
    assert state.limit is None and state.reset_at is None


async def test_room_waits_for_a_free_slot_without_taking_one() -> None:
    clock = VirtualClock()
    limiter = Limiter({"b": BucketSpec(2, 100)}, clock=clock, sleep=clock.sleep)
    await limiter.acquire(["b"])
    await limiter.acquire(["b"])
    start = clock.now
    await limiter.room(["b", "not a bucket"])
    assert clock.now - start >= 1.0  # the burst window had to pass
    assert limiter.states()["b"].sent == 2
    waited = clock.now
    await limiter.acquire(["b"])  # the room is still there for the caller
    assert clock.now == waited


async def test_room_queues_behind_callers_already_waiting() -> None:
    clock = VirtualClock()
    limiter = Limiter({"b": BucketSpec(1, 100)}, clock=clock, sleep=clock.sleep)
    await limiter.acquire(["b"])
    order: list[str] = []

    async def take() -> None:
        await limiter.acquire(["b"])
        order.append("acquired")

    async def look() -> None:
        await asyncio.sleep(0)  # after take() has queued
        await limiter.room(["b"])
        order.append("room")

    await asyncio.gather(take(), look())
    assert order == ["acquired", "room"]
