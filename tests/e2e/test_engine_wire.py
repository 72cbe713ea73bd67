"""The engine on the wire: round-trip budget, the 409 race, outbound notifications, batches."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.config import Config
from core.engine import Engine, PushResult
from core.engine.batch import BatchProgress, run_batch
from core.loopback import LoopbackServer
from core.model import ErrorKind, Plan, Route
from core.sandbox import Knobs, Sandbox
from tests.e2e.conftest import LISTS, customer, template_with_custom_fields

# Every request is held this long, as a network would: requests started together overlap
# even when the code between their starts is slow, so depth counts dependencies, not CPU.
WIRE_LATENCY = 0.02


class DepthTransport(httpx.AsyncBaseTransport):
    """Counts sequential round trips: depth = 1 + the deepest request finished before it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.finished: list[int] = []
        self.calls: list[tuple[str, str, int]] = []
        self.before_request: Any = None

    def reset(self) -> None:
        self.finished.clear()
        self.calls.clear()

    @property
    def depth(self) -> int:
        return max(self.finished, default=0)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        depth = 1 + max(self.finished, default=0)
        # A real request takes time; let concurrent requests start before this one ends.
        await asyncio.sleep(WIRE_LATENCY)
        if self.before_request is not None:
            self.before_request(request)
        response = await self.inner.handle_async_request(request)
        self.finished.append(depth)
        self.calls.append((request.method, request.url.path, depth))
        return response


def write_seed(path: Path, customers: list[dict[str, Any]],
               profiles: list[dict[str, Any]] | None = None,
               links: dict[str, str] | None = None) -> Path:
    path.write_text(json.dumps({"customers": customers, "profiles": profiles or [],
                                "lists": LISTS, "links": links or {}}), encoding="utf-8")
    return path


async def open_engine(tmp_path: Path, seed: Path, *, template: Path | None = None,
                      secret: str | None = None, rate_scale: float = 0.001
                      ) -> tuple[Engine, Sandbox, DepthTransport]:
    state = tmp_path / "state"
    config = Config(state_dir=state, sandbox=True, sandbox_seed=seed, retry_attempts=1,
                    template_path=template, listen_secret=secret)
    # Rate-limit windows are shrunk for the batch tests; the depth test runs at Klaviyo's real
    # limits, so a push right after its preview must not wait on any 1/s bucket.
    sandbox = Sandbox(state, seed=seed, knobs=Knobs(rate_scale=rate_scale))
    wire = DepthTransport(sandbox.transport)
    engine = await Engine.open(config, sandbox=sandbox, transport=wire)
    return engine, sandbox, wire


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SANDBOX_KLAVIYO_DOWN", "SANDBOX_FAILURE_RATE", "SANDBOX_LATENCY_MS",
                 "SANDBOX_RATE_SCALE"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("linked", [False, True])
async def test_preview_costs_two_round_trips_and_push_two_more(tmp_path: Path,
                                                              linked: bool) -> None:
    ann = "01JGFJK6QFB96KRART17WEJVYY"
    seed = write_seed(
        tmp_path / "seed.json",
        [customer(1, email="ann@example.com", number="(312) 204-1187")],
        profiles=[{"id": ann, "attributes": {"email": "ann@example.com"}}],
        links={"1": ann} if linked else {},
    )
    engine, _, wire = await open_engine(tmp_path, seed, rate_scale=1.0)
    try:
        plan = await engine.preview("1")
        assert plan.route is (Route.UPDATE if linked else Route.LINK)
        assert wire.depth <= 2, wire.calls
        assert len(wire.calls) >= 4  # customer, link, profile lookups, lists: really concurrent
        # Membership is read list-side in round 2 (any(email,[...]) / any(phone_number,[...]),
        # L tier), never with include=lists (1/s, 15/m).
        checks = [c for c in wire.calls if c[0] == "GET" and c[1].startswith("/api/lists/")
                  and c[1].endswith("/profiles")]
        assert len({c[1] for c in checks}) == len(LISTS) and all(depth == 2 for *_, depth in checks)
        assert not [c for c in wire.calls if "include=lists" in str(c)]

        wire.reset()
        result = await engine.push("1", confirmed=True)
        assert result.ok, result.error
        assert wire.depth <= 4, wire.calls
        written = [c for c in wire.calls if c[0] in ("POST", "PATCH") and "profiles/" in c[1]
                   and "jobs" not in c[1]]
        assert written and all(depth == 3 for _, _, depth in written)

        wire.reset()
        await engine.preview("1")
        lookups = [c for c in wire.calls if c[1] == "/api/lists"]
        assert lookups == []  # list names come from the cache after the first preview
    finally:
        await engine.close()


async def test_a_create_that_races_a_duplicate_links_to_it(tmp_path: Path) -> None:
    seed = write_seed(tmp_path / "seed.json", [customer(2, email="race@example.com")])
    engine, sandbox, wire = await open_engine(tmp_path, seed)
    emulator: Any = sandbox.klaviyo
    try:
        plan = await engine.preview("2")
        assert plan.route is Route.CREATE

        def someone_else_creates_it(request: httpx.Request) -> None:
            is_create = request.method == "POST" and request.url.path.rstrip("/") == "/api/profiles"
            if is_create and emulator.profile_id_for_email("race@example.com") is None:
                emulator.state.create_profile({"email": "race@example.com"})

        wire.before_request = someone_else_creates_it
        result = await engine.push("2", confirmed=True)

        duplicate = emulator.profile_id_for_email("race@example.com")
        assert result.ok, result.error
        assert result.plan.route is Route.LINK
        assert "409" in result.plan.reason
        assert result.profile_id == duplicate
        assert sandbox.ipaas.link_of("2") == duplicate
        posts = [c for c in wire.calls if c[0] == "POST" and c[1].rstrip("/") == "/api/profiles"]
        assert len(posts) == 1
    finally:
        await engine.close()


async def test_outbound_notifications_push_and_never_auto_confirm(tmp_path: Path) -> None:
    # Issue 14: a first consent email is sent unheld, so the held change here is a re-subscribe
    # of someone who opted out.
    seed = write_seed(tmp_path / "seed.json", [
        customer(3, email="hook@example.com"),
    ], profiles=[{"attributes": {"email": "hook@example.com"},
                  "subscriptions": {"email": "UNSUBSCRIBED"}}])
    engine, _, _ = await open_engine(tmp_path, seed, secret="s3cret-hook-token")
    server = LoopbackServer(engine.hook_handler("s3cret-hook-token"))
    await server.start()
    body = {"id": "hook-1", "attempt": 0, "notifications": [
        {"action": "updated", "id": "3", "scope": "customer/updated", "destination": "4242"},
        {"action": "deleted", "id": "3", "scope": "customer/deleted"},
        {"action": "created", "id": "77", "scope": "product/created"},
    ]}
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            denied = await client.post("/v2/iPaaS", json=body)
            assert denied.status_code == 401
            wrong = await client.post("/v2/iPaaS", json=body,
                                      headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            bad = await client.post("/v2/iPaaS", content=b"{not json",
                                    headers={"Authorization": "Bearer s3cret-hook-token"})
            assert bad.status_code == 400
            answer = await client.post("/v2/iPaaS", json=body,
                                       headers={"Authorization": "Bearer s3cret-hook-token"})
        assert answer.status_code == 200
        results = answer.json()["results"]
        assert [r["status"] for r in results] == ["held", "ignored", "ignored"]
        assert "delete is not supported" in results[1]["reason"]
        [record] = engine.errors.query()
        assert record.kind is ErrorKind.CONSENT_GUARD and record.customer_id == "3"
    finally:
        await server.close()
        await engine.close()


async def test_sandbox_customer_changes_trigger_pushes(tmp_path: Path) -> None:
    seed = write_seed(tmp_path / "seed.json", [
        customer(4, email="watch@example.com", fields={"SubscribeProfile": "true"})])
    template = template_with_custom_fields(tmp_path / "template.toml")
    engine, sandbox, _ = await open_engine(tmp_path, seed, template=template)
    pushed: asyncio.Queue[PushResult] = asyncio.Queue()
    try:
        assert engine.follow_sandbox(pushed.put_nowait)
        sandbox.ipaas.update_customer("4", first_name="Watched")
        result = await asyncio.wait_for(pushed.get(), 10)
        assert result.ok, result.error
        assert result.plan.customer_id == "4"
        assert engine.history.for_customer("4")[0].trigger == "listen"
    finally:
        await engine.close()


async def test_batch_streams_with_bounded_memory_and_stops_cleanly() -> None:
    pulled = 0
    cancel = asyncio.Event()

    async def endless() -> AsyncIterator[tuple[str, None]]:
        nonlocal pulled
        for n in range(1_000_000):
            pulled += 1
            yield str(n), None

    async def push_one(customer_id: str, _: object) -> PushResult:
        await asyncio.sleep(0)
        if customer_id == "50":
            cancel.set()
        return PushResult(plan=Plan(customer_id=customer_id, route=Route.CREATE, reason=""),
                          ok=True, profile_id="p")

    progress = await run_batch(endless(), push_one, BatchProgress(total=None), workers=4,
                               cancel=cancel)

    assert progress.cancelled
    # Taken items all finished; the source was read at most a queue and a worker pool ahead.
    assert progress.done >= 51
    assert pulled <= progress.done + 4 * 2 + 4 + 1


async def test_batch_counts_done_failed_and_held(tmp_path: Path) -> None:
    seed = write_seed(tmp_path / "seed.json", [
        customer(5, email="a@example.com", fields={"SubscribeProfile": "true"}),
        customer(6, number="not a phone", address=False),
        customer(7, email="c@example.com", fields={"SubscribeProfile": "true"}),
    ])
    template = template_with_custom_fields(tmp_path / "template.toml")
    engine, _, _ = await open_engine(tmp_path, seed, template=template)
    seen: list[BatchProgress] = []
    try:
        progress = await engine.sync(None, on_progress=lambda p: seen.append(
            BatchProgress(total=p.total, done=p.done, failed=p.failed, held=p.held)))
    finally:
        await engine.close()
    assert (progress.done, progress.failed, progress.held) == (2, 1, 0)
    assert seen and seen[-1].done == 2
    assert [r.customer_id for r in engine.errors.query()] == ["6"]
