"""Shared by the reliability tests and bench/soak.py: seeds, a faulty sandbox, and the audits."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from core.clients.http import RetryPolicy
from core.config import Config
from core.engine import Engine
from core.model import ErrorKind, ErrorStatus
from core.sandbox import Knobs, Sandbox

LISTS = [
    {"name": "Sms Subscribers", "opt_in_process": "single_opt_in"},
    {"name": "Preview List", "opt_in_process": "single_opt_in"},
]
# Failures a later retry can fix on its own, without anyone editing data.
RETRYABLE = frozenset({ErrorKind.API_UNAVAILABLE, ErrorKind.RATE_LIMITED})
FIRST_ID = 70_000


def customer(cid: int, *, email: str | None, number: str | None) -> dict[str, Any]:
    """An iPaaS.com Customer in the API's snake_case shape, with a US billing address."""
    return {
        "id": cid, "customer_number": number, "first_name": f"First{cid}",
        "last_name": f"Last{cid}", "email_address": email, "company": None,
        "addresses": [{
            "address_1": "233 S Wacker Dr", "address_2": None, "city": "Chicago",
            "region": "IL", "country": "US", "postal_code": "60606",
            "is_primary_billing": True, "is_primary_shipping": True,
        }],
        "custom_fields": [],
    }


def phone_of(n: int) -> tuple[str, str]:
    """A distinct valid Chicago number for n: (as typed in iPaaS.com, E.164)."""
    exchange, line = 200 + n // 10_000, n % 10_000
    return f"(312) {exchange}-{line:04d}", f"+1312{exchange}{line:04d}"


def soak_seed(count: int, rng: random.Random) -> dict[str, Any]:
    """`count` customers: most new (create), some matching an unlinked profile by email or
    phone (link), some already linked (update), a few reachable by phone only."""
    customers: list[dict[str, Any]] = []
    profiles: list[dict[str, Any]] = []
    links: dict[str, str] = {}
    for n in range(count):
        cid = FIRST_ID + n
        typed, e164 = phone_of(n)
        email = f"soak{n}@example.com"
        roll = rng.random()
        if roll < 0.10:
            customers.append(customer(cid, email=None, number=typed))
            continue
        with_phone = rng.random() < 0.5
        customers.append(customer(cid, email=email, number=typed if with_phone else None))
        if roll < 0.20:
            profiles.append({"attributes": {"email": email, "first_name": "Old"}})
        elif roll < 0.25 and with_phone:
            profiles.append({"attributes": {"phone_number": e164}})
        elif roll < 0.40:
            profiles.append({"attributes": {"email": email, "external_id": str(cid)}})
            links[str(cid)] = f"#{len(profiles) - 1}"
    return {"customers": customers, "profiles": profiles, "lists": LISTS, "links": links}


def fast_retry(attempts: int = 3) -> RetryPolicy:
    """The client's retry loop with sleeps short enough for a test."""
    return RetryPolicy(max_attempts=attempts, base_delay=0.001, max_delay=0.005,
                       total_timeout=30.0)


async def open_engine(state_dir: Path, seed_path: Path, knobs: Knobs, *, rng_seed: int,
                      attempts: int = 3) -> Engine:
    """An engine over an in-process sandbox with these knobs and a reproducible fault stream."""
    config = Config(state_dir=state_dir, sandbox=True, sandbox_seed=seed_path)
    sandbox = Sandbox(state_dir, seed=seed_path, knobs=knobs, rng=random.Random(rng_seed))
    return await Engine.open(config, sandbox=sandbox, retry=fast_retry(attempts))


@dataclass
class Audit:
    """Where every customer stands, read from the emulators and the error log."""

    synced: set[str] = field(default_factory=set)
    open_errors: dict[str, ErrorKind] = field(default_factory=dict)
    unaccounted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    wrong_links: list[str] = field(default_factory=list)
    profiles: int = 0

    @property
    def not_retryable(self) -> dict[str, ErrorKind]:
        return {c: k for c, k in self.open_errors.items() if k not in RETRYABLE}


def duplicates_in(profiles: list[dict[str, Any]]) -> list[str]:
    """Every email, phone or external id that more than one emulated profile carries."""
    seen: Counter[str] = Counter()
    for profile in profiles:
        attrs = profile["attributes"]
        if attrs.get("email"):
            seen["email " + str(attrs["email"]).strip().lower()] += 1
        if attrs.get("phone_number"):
            seen["phone " + str(attrs["phone_number"])] += 1
        if attrs.get("external_id"):
            seen["external_id " + str(attrs["external_id"])] += 1
    return sorted(key for key, n in seen.items() if n > 1)


def audit(engine: Engine, customer_ids: list[str]) -> Audit:
    """Check every customer is synced (linked to a profile carrying its id) or logged open."""
    sandbox = engine.sandbox
    assert sandbox is not None
    dump = sandbox.klaviyo.dump()
    profiles = dump["profiles"]
    by_id = {p["id"]: p for p in profiles}
    result = Audit(profiles=len(profiles), duplicates=duplicates_in(profiles))
    for cid in customer_ids:
        record = engine.errors.open_for_customer(cid)
        if record is not None:
            result.open_errors[cid] = record.kind
            continue
        link = sandbox.ipaas.link_of(cid)
        profile = by_id.get(link or "")
        if profile is None:
            result.unaccounted.append(cid)
            continue
        if profile["attributes"].get("external_id") != cid:
            result.wrong_links.append(cid)
        result.synced.add(cid)
    return result


class ExceptionCatcher(logging.Handler):
    """Collects log records that carry a traceback, and asyncio's unretrieved exceptions."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.caught: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR:
            self.caught.append(f"{record.name}: {record.getMessage()}")

    def __enter__(self) -> ExceptionCatcher:
        logging.getLogger().addHandler(self)
        loop = asyncio.get_running_loop()
        self._previous = loop.get_exception_handler()
        loop.set_exception_handler(lambda _loop, ctx: self.caught.append(str(ctx)))
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self)
        asyncio.get_running_loop().set_exception_handler(self._previous)


@dataclass
class SoakFigures:
    """What a fault soak measured."""

    customers: int
    failure_rate: float
    synced_first: int = 0
    open_first: int = 0
    open_kinds: dict[str, int] = field(default_factory=dict)
    not_retryable_first: dict[str, str] = field(default_factory=dict)
    unaccounted_first: list[str] = field(default_factory=list)
    synced_after_retry: int = 0
    open_after_retry: dict[str, str] = field(default_factory=dict)
    unaccounted_after_retry: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    wrong_links: list[str] = field(default_factory=list)
    unhandled: list[str] = field(default_factory=list)
    profiles_before: int = 0
    creates_expected: int = 0
    profiles_after: int = 0
    requests_faulted: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    sync_seconds: float = 0.0
    retry_seconds: float = 0.0


class ObservedSandbox(Sandbox):
    """A sandbox that counts what its faults did to the requests that matter most."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outcomes: Counter[str] = Counter()

    async def handle(self, request: httpx.Request) -> httpx.Response:
        what = _request_kind(request)
        try:
            response = await super().handle(request)
        except httpx.TransportError as exc:
            self.outcomes[f"{what} {type(exc).__name__}"] += 1
            raise
        status = response.status_code
        if 200 <= status < 300 and response.content:
            try:
                json.loads(response.content)
            except ValueError:
                self.outcomes[f"{what} truncated {status}"] += 1
                return response
        if status >= 400:
            kind = "html" if "html" in response.headers.get("content-type", "") else "json"
            self.outcomes[f"{what} {status} {kind}"] += 1
        return response


def _request_kind(request: httpx.Request) -> str:
    path = request.url.path.lower()
    if path.startswith("/api/profiles") and request.method == "POST":
        return "klaviyo create"
    if path.startswith("/api/profiles") and request.method == "PATCH":
        return "klaviyo patch"
    if path.startswith("/api/"):
        return f"klaviyo {request.method}"
    if "updateexternalid" in path:
        return "ipaas store-link"
    return f"ipaas {request.method}"


class CountingRandom(random.Random):
    """A Random whose draws below the failure rate are counted (one draw per request)."""

    def __init__(self, seed: int, rate: float) -> None:
        super().__init__(seed)
        self.rate = rate
        self.faults = 0
        self.draws = 0

    def random(self) -> float:
        value = super().random()
        self.draws += 1
        if value < self.rate:
            self.faults += 1
        return value


async def fault_soak(state_dir: Path, count: int, *, failure_rate: float = 0.2,
                     seed: int = 8, workers: int = 10, attempts: int = 2,
                     bulk: bool = False) -> SoakFigures:
    """Sync `count` customers through a faulty sandbox, then retry all with faults off."""
    rng = random.Random(seed)
    seed_path = state_dir.parent / f"{state_dir.name}-seed.json"
    data = soak_seed(count, rng)
    seed_path.write_text(json.dumps(data), encoding="utf-8")
    ids = [str(c["id"]) for c in data["customers"]]
    owned = {str(a.get(k)) for p in data["profiles"] for a in [p["attributes"]]
             for k in ("email", "phone_number") if a.get(k)}
    figures = SoakFigures(customers=count, failure_rate=failure_rate)
    figures.creates_expected = sum(
        1 for c in data["customers"]
        if c["email_address"] not in owned and phone_of(int(c["id"]) - FIRST_ID)[1] not in owned
        and str(c["id"]) not in data["links"])
    config = Config(state_dir=state_dir, sandbox=True, sandbox_seed=seed_path)
    faults = CountingRandom(seed, failure_rate)
    # Rate-limit windows shrunk so the soak measures faults, not Klaviyo's pacing.
    knobs = Knobs(failure_rate=failure_rate, rate_scale=0.001)
    sandbox = ObservedSandbox(state_dir, seed=seed_path, knobs=knobs, rng=faults)
    figures.profiles_before = len(sandbox.klaviyo.dump()["profiles"])
    engine = await Engine.open(config, sandbox=sandbox, retry=fast_retry(attempts))
    with ExceptionCatcher() as catcher:
        try:
            started = time.perf_counter()
            await engine.sync(ids, workers=workers, bulk=bulk)
            figures.sync_seconds = time.perf_counter() - started
            figures.requests_faulted = faults.faults
            figures.outcomes = dict(sorted(sandbox.outcomes.items()))
            first = audit(engine, ids)
            figures.synced_first = len(first.synced)
            figures.open_first = len(first.open_errors)
            figures.open_kinds = dict(Counter(k.value for k in first.open_errors.values()))
            figures.not_retryable_first = {c: k.value for c, k in first.not_retryable.items()}
            figures.unaccounted_first = first.unaccounted
            sandbox.knobs = Knobs(rate_scale=0.001)
            started = time.perf_counter()
            await engine.retry(None, workers=workers)
            figures.retry_seconds = time.perf_counter() - started
            second = audit(engine, ids)
            figures.synced_after_retry = len(second.synced)
            figures.open_after_retry = {c: k.value for c, k in second.open_errors.items()}
            figures.unaccounted_after_retry = second.unaccounted
            figures.duplicates = second.duplicates
            figures.wrong_links = second.wrong_links
            figures.profiles_after = second.profiles
        finally:
            await engine.close()
        figures.unhandled = list(catcher.caught)
    assert engine.errors.count(status=ErrorStatus.OPEN) == len(figures.open_after_retry)
    return figures
