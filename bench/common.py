"""Shared bench pieces: generated accounts, an in-memory sandbox, an engine on it, a wire tap."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from core.config import Config
from core.engine import Engine
from core.sandbox import Knobs, Sandbox

# Both lists single opt-in: a batch holds double opt-in subscribes (they send email), and the
# benches measure throughput, not the guard.
LISTS = [
    {"name": "Sms Subscribers", "opt_in_process": "single_opt_in"},
    {"name": "Preview List", "opt_in_process": "single_opt_in"},
]
FIRST = ["Ann", "Bob", "Chloe", "Dmitri", "Eve", "Farah", "Gunter", "Hana", "Ivan", "Jo"]
LAST = ["Lee", "Smith", "Muller", "Dubois", "Garcia", "Rossi", "Nguyen", "OBrien", "Kowalski"]
BASE_ID = 100_000


def customer_json(index: int) -> dict[str, Any]:
    """One iPaaS.com Customer with an email, a US number and a billing address."""
    first, last = FIRST[index % len(FIRST)], LAST[index % len(LAST)]
    number = f"(312) {200 + index // 10_000 % 800:03d}-{index % 10_000:04d}"
    return {
        "id": BASE_ID + index, "customer_number": number, "first_name": first,
        "last_name": last, "email_address": f"{first}.{last}.{index}@example.com".lower(),
        "company": "Acme" if index % 3 else None,
        "addresses": [{
            "address_1": f"{index % 999 + 1} Main Street", "address_2": None,
            "city": "Chicago", "region": "IL", "country": "US", "postal_code": "60606",
            "is_primary_billing": True, "is_primary_shipping": True,
        }],
        "custom_fields": [],
    }


def seed_document(count: int, *, linked: float = 1.0, existing: float = 1.0) -> dict[str, Any]:
    """A design §8 seed: `count` customers; the first `existing` share have a profile (already
    subscribed, on both lists), and of those the first `linked` share are linked to it."""
    customers = [customer_json(i) for i in range(count)]
    with_profile = int(count * existing)
    profiles = []
    links = {}
    for i in range(with_profile):
        c = customers[i]
        profiles.append({
            "attributes": {"email": c["email_address"], "first_name": "Old",
                           "last_name": c["last_name"], "external_id": str(c["id"])},
            "subscriptions": {"email": "SUBSCRIBED"},
            "lists": [item["name"] for item in LISTS],
        })
        if i < int(count * linked):
            links[str(c["id"])] = f"#{i}"
    return {"customers": customers, "profiles": profiles, "lists": LISTS, "links": links}


def customer_ids(count: int) -> list[str]:
    return [str(BASE_ID + i) for i in range(count)]


@contextmanager
def seed_file(document: dict[str, Any]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench-seed-") as folder:
        path = Path(folder) / "seed.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        yield path


@dataclass
class Tap(httpx.AsyncBaseTransport):
    """Records (arrival time, method, path, status) of every request on the way through, and
    counts sequential round trips: a request's depth is 1 + the deepest one finished before
    it started."""

    inner: httpx.AsyncBaseTransport
    log: list[tuple[float, str, str, int]] = field(default_factory=list)
    depth: int = 0

    def reset(self) -> None:
        self.log.clear()
        self.depth = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        arrived = time.monotonic()
        depth = 1 + self.depth
        response = await self.inner.handle_async_request(request)
        self.depth = max(self.depth, depth)
        self.log.append((arrived, request.method, request.url.path, response.status_code))
        return response


@asynccontextmanager
async def engine_on(document: dict[str, Any], knobs: Knobs,
                    retry_attempts: int = 5) -> Any:
    """An engine over an in-memory sandbox (no state persistence) seeded with `document`."""
    with seed_file(document) as seed, tempfile.TemporaryDirectory(prefix="bench-state-") as st:
        sandbox = Sandbox(None, seed=seed, knobs=knobs)
        tap = Tap(sandbox.transport)
        config = Config(state_dir=Path(st), sandbox=True, sandbox_seed=seed,
                        retry_attempts=retry_attempts)
        engine = await Engine.open(config, sandbox=sandbox, transport=tap)
        try:
            yield engine, sandbox, tap
        finally:
            await engine.close()


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def clear_sandbox_env() -> None:
    for name in ("SANDBOX_KLAVIYO_DOWN", "SANDBOX_FAILURE_RATE", "SANDBOX_LATENCY_MS",
                 "SANDBOX_RATE_SCALE"):
        os.environ.pop(name, None)


def run(coro: Any) -> Any:
    return asyncio.run(coro)
