"""A page of customers as the batch's unit: reads filled to 100 identifiers, asked in rounds,
and the facts still the preview's."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.config import Config
from core.engine import Engine
from core.sandbox import Knobs, Sandbox
from tests.e2e.conftest import customer

LISTS = [{"name": "Sms Subscribers", "opt_in_process": "single_opt_in"},
         {"name": "Preview List", "opt_in_process": "single_opt_in"}]
_ANY = re.compile(r"^any\((\w+),\[(.*)\]\)$")


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SANDBOX_KLAVIYO_DOWN", "SANDBOX_FAILURE_RATE", "SANDBOX_LATENCY_MS",
                 "SANDBOX_RATE_SCALE"):
        monkeypatch.delenv(name, raising=False)


class Reads(httpx.AsyncBaseTransport):
    """Keeps, for every any() read, its path, the field asked and how many values it held."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.reads: list[tuple[str, str, int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        found = _ANY.match(request.url.params.get("filter", ""))
        if request.method == "GET" and found:
            self.reads.append((request.url.path, found.group(1),
                               len(found.group(2).split(","))))
        return await self.inner.handle_async_request(request)

    def profile_reads(self, field: str) -> list[int]:
        return [n for path, f, n in self.reads if path == "/api/profiles" and f == field]

    def membership_reads(self, field: str) -> list[int]:
        return [n for path, f, n in self.reads if path.startswith("/api/lists/") and f == field]


async def _open(tmp_path: Path, doc: dict[str, Any]) -> tuple[Engine, Reads]:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"lists": LISTS, **doc}), encoding="utf-8")
    sandbox = Sandbox(None, seed=seed, knobs=Knobs(rate_scale=0.001))
    wire = Reads(sandbox.transport)
    engine = await Engine.open(Config(state_dir=tmp_path / "state", sandbox=True,
                                      sandbox_seed=seed, retry_attempts=1),
                               sandbox=sandbox, transport=wire)
    return engine, wire


def _people(count: int) -> list[dict[str, Any]]:
    return [customer(i, email=f"p{i}@example.com", number=f"(312) 55{i // 100}-{1000 + i % 100}")
            for i in range(1, count + 1)]


async def test_a_report_fills_every_read_with_100_identifiers(tmp_path: Path) -> None:
    people = _people(250)
    profiles = [{"attributes": {"email": f"p{i}@example.com"}} for i in range(1, 251)]
    engine, wire = await _open(tmp_path, {"customers": people, "profiles": profiles})
    try:
        found = await engine.report(None)
        assert found.report.to_json()["routes"]["link"] == 250
        # 250 emails and 250 phones: three reads each, full but the last.
        assert sorted(wire.profile_reads("email")) == [50, 100, 100]
        assert sorted(wire.profile_reads("phone_number")) == [50, 100, 100]
        # Membership through the email that matched; no phone matched a profile.
        assert sorted(wire.membership_reads("email")) == [50, 50, 100, 100, 100, 100]
        assert wire.membership_reads("phone_number") == []
    finally:
        await engine.close()


async def test_a_linked_profile_holding_the_email_and_phone_is_read_once(tmp_path: Path) -> None:
    people = _people(120)
    profiles = [{"attributes": {"email": f"P{i}@Example.com",
                                "phone_number": f"+131255{i // 100}{1000 + i % 100}"},
                 "lists": ["Preview List"] if i % 2 else []} for i in range(1, 121)]
    links = {str(i): f"#{i - 1}" for i in range(1, 121)}
    links["7"] = "01STALE0000000000000000000"  # a stale link: its matches are read
    engine, wire = await _open(tmp_path, {"customers": people, "profiles": profiles,
                                          "links": links})
    try:
        found = await engine.report(None)
        assert sorted(wire.profile_reads("id")) == [20, 100]
        assert wire.profile_reads("email") == [1] and wire.profile_reads("phone_number") == [1]
        assert sorted(wire.membership_reads("email")) == [20, 20, 100, 100]
        assert wire.membership_reads("phone_number") == []
        for cid in ("1", "2", "7"):
            preview = await engine.preview(cid)
            assert found.plans[cid].to_json() == preview.to_json()
    finally:
        await engine.close()


async def test_the_phone_is_asked_of_a_list_when_it_matched_another_profile(
        tmp_path: Path) -> None:
    people = _people(3)
    profiles = [{"attributes": {"email": "p1@example.com"}, "lists": ["Preview List"]},
                {"attributes": {"phone_number": "+13125501001"}, "lists": ["Preview List"]}]
    engine, wire = await _open(tmp_path, {"customers": people, "profiles": profiles})
    try:
        found = await engine.report(None)
        assert wire.membership_reads("phone_number") == [1, 1]  # customer 1, both lists
        for cid in ("1", "2", "3"):
            preview = await engine.preview(cid)
            assert found.plans[cid].to_json() == preview.to_json()
    finally:
        await engine.close()


class HoldImports(httpx.AsyncBaseTransport):
    """Holds every import job submit until the test lets go (it never does)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.submitted = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.startswith(
                "/api/profile-bulk-import-jobs"):
            self.submitted.set()
            await asyncio.Event().wait()
        return await self.inner.handle_async_request(request)


async def test_a_page_stopped_mid_write_records_each_customer_once(tmp_path: Path) -> None:
    people = _people(5)
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"lists": LISTS, "customers": people}), encoding="utf-8")
    sandbox = Sandbox(None, seed=seed, knobs=Knobs(rate_scale=0.001))
    wire = HoldImports(sandbox.transport)
    engine = await Engine.open(Config(state_dir=tmp_path / "state", sandbox=True,
                                      sandbox_seed=seed, retry_attempts=1),
                               sandbox=sandbox, transport=wire)
    try:
        run = asyncio.create_task(engine.sync(None, bulk=True))
        await asyncio.wait_for(wire.submitted.wait(), timeout=30)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        for cid in ("1", "2", "3", "4", "5"):
            entries = engine.history.for_customer(cid)
            assert [e.outcome.value for e in entries] == ["failed"]
            record = engine.errors.open_for_customer(cid)
            assert record is not None and "interrupted" in record.message
    finally:
        await engine.close()
