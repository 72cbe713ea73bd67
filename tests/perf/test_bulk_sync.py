"""`sync --bulk` and chunked batches on the sandbox: import jobs, errors per customer, guard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.config import Config
from core.engine import Engine
from core.model import ErrorKind, ErrorStatus, Stage
from core.sandbox import Knobs, Sandbox
from tests.e2e.conftest import customer

LISTS = [{"name": "Sms Subscribers", "opt_in_process": "single_opt_in"},
         {"name": "Preview List", "opt_in_process": "single_opt_in"}]


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SANDBOX_KLAVIYO_DOWN", "SANDBOX_FAILURE_RATE", "SANDBOX_LATENCY_MS",
                 "SANDBOX_RATE_SCALE"):
        monkeypatch.delenv(name, raising=False)


class Recorder(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.calls: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path.rstrip("/")))
        return await self.inner.handle_async_request(request)


async def open_engine(tmp_path: Path, doc: dict[str, Any]) -> tuple[Engine, Sandbox, Recorder]:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"lists": LISTS, **doc}), encoding="utf-8")
    sandbox = Sandbox(None, seed=seed, knobs=Knobs(rate_scale=0.001))
    wire = Recorder(sandbox.transport)
    engine = await Engine.open(Config(state_dir=tmp_path / "state", sandbox=True,
                                      sandbox_seed=seed, retry_attempts=1),
                               sandbox=sandbox, transport=wire)
    return engine, sandbox, wire


def mixed_account() -> dict[str, Any]:
    customers = [customer(i, email=f"c{i}@example.com", number=f"(312) 204-{1100 + i}")
                 for i in range(1, 7)]
    customers[2]["customer_number"] = None
    customers[2]["email_address"] = "not-an-email"  # refused by the import, row by row
    profiles = [
        {"attributes": {"email": "c1@example.com"}, "subscriptions": {"email": "SUBSCRIBED"}},
        {"attributes": {"email": "c2@example.com"}, "subscriptions": {"email": "UNSUBSCRIBED"}},
    ]
    return {"customers": customers, "profiles": profiles, "links": {"1": "#0"}}


async def test_bulk_writes_through_import_jobs_and_attributes_every_failure(
        tmp_path: Path) -> None:
    engine, sandbox, wire = await open_engine(tmp_path, mixed_account())
    emulator: Any = sandbox.klaviyo
    try:
        progress = await engine.sync(None, bulk=True)
        # 1 linked, 2 re-subscribes an opted-out person (held), 3 is refused by the import,
        # 4-6 are created.
        assert (progress.done, progress.held, progress.failed) == (4, 1, 1)
        posts = [c for c in wire.calls if c == ("POST", "/api/profile-bulk-import-jobs")]
        assert len(posts) == 1
        assert not [c for c in wire.calls if c[0] in ("POST", "PATCH")
                    and c[1].startswith("/api/profiles")]
        assert any(c[1].endswith("/import-errors") for c in wire.calls)

        bad = engine.errors.open_for_customer("3")
        assert bad is not None and bad.kind is ErrorKind.VALIDATION and bad.stage is Stage.WRITE
        assert "email" in bad.message.lower()
        held = engine.errors.open_for_customer("2")
        assert held is not None and held.kind is ErrorKind.CONSENT_GUARD
        for cid in ("4", "5", "6"):
            pid = emulator.profile_id_for_email(f"c{cid}@example.com")
            assert pid is not None and sandbox.ipaas.link_of(cid) == pid
            assert engine.errors.open_for_customer(cid) is None
            assert engine.history.for_customer(cid)[0].ok
        # Consent and list calls went out shared, one per list/kind, not one per customer.
        subscribes = [c for c in wire.calls
                      if c == ("POST", "/api/profile-subscription-bulk-create-jobs")]
        assert 1 <= len(subscribes) <= 2
        # Nothing of the held customer's was written.
        assert emulator.state.profiles[emulator.profile_id_for_email("c2@example.com")][
            "attributes"].get("first_name") is None
    finally:
        await engine.close()


async def test_a_chunked_batch_shares_calls_and_each_customer_keeps_its_outcome(
        tmp_path: Path) -> None:
    customers = [customer(i, email=f"b{i}@example.com") for i in range(1, 31)]
    engine, _, wire = await open_engine(tmp_path, {"customers": customers})
    try:
        progress = await engine.sync([str(i) for i in range(1, 31)])
        assert (progress.done, progress.failed, progress.held) == (30, 0, 0)
        lists = [c for c in wire.calls if c[1].endswith("/relationships/profiles")]
        reads = [c for c in wire.calls if c == ("GET", "/api/profiles")]
        assert len(lists) < 30 and len(reads) < 60  # shared, not one per customer
        assert all(engine.history.for_customer(str(i)) for i in range(1, 31))
        assert engine.errors.count(status=ErrorStatus.OPEN) == 0
    finally:
        await engine.close()


async def test_bulk_plans_from_shared_reads_and_holds_what_a_preview_holds(
        tmp_path: Path) -> None:
    """Bulk plans from the same facts as a preview, read 100 a request: links come from the
    page, an unsubscribe of a subscribed profile is held, a re-subscribe of an opted-out one
    too."""
    from tests.e2e.conftest import template_with_custom_fields

    customers = [customer(i, email=f"u{i}@example.com", fields={"SubscribeProfile": "true"})
                 for i in range(1, 21)]
    # Issue 14: the customer's own "false" is honored at once; an empty SubscribeProfile is held.
    customers[0]["custom_fields"] = []
    profiles = [{"attributes": {"email": f"u{i}@example.com"},
                 "subscriptions": {"email": "UNSUBSCRIBED" if i == 2 else "SUBSCRIBED"}}
                for i in range(1, 11)]
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"lists": LISTS, "customers": customers, "profiles": profiles,
                                "links": {str(i): f"#{i - 1}" for i in range(1, 11)}}),
                    encoding="utf-8")
    sandbox = Sandbox(None, seed=seed, knobs=Knobs(rate_scale=0.001))
    wire = Recorder(sandbox.transport)
    config = Config(state_dir=tmp_path / "state", sandbox=True, sandbox_seed=seed,
                    retry_attempts=1, template_path=template_with_custom_fields(
                        tmp_path / "template.toml"))
    engine = await Engine.open(config, sandbox=sandbox, transport=wire)
    emulator: Any = sandbox.klaviyo
    try:
        progress = await engine.sync(None, bulk=True)
        assert (progress.done, progress.held, progress.failed) == (18, 2, 0)
        for cid in ("1", "2"):
            held = engine.errors.open_for_customer(cid)
            assert held is not None and held.kind is ErrorKind.CONSENT_GUARD
        first = emulator.state.profiles[emulator.profile_id_for_email("u1@example.com")]
        assert first["email_marketing"]["consent"] == "SUBSCRIBED"  # not unsubscribed unseen
        # No per-customer link look-ups or profile reads: ids, emails, phones and the ten
        # created profiles, 100 per request.
        assert not [c for c in wire.calls if "LookupExternal" in c[1]]
        assert len([c for c in wire.calls if c == ("GET", "/api/profiles")]) <= 8
        assert not [c for c in wire.calls if c[1].startswith("/api/profiles/")]

        again = await engine.sync(["1"], bulk=True, allow_unsubscribe=True)
        assert again.done == 1
        first = emulator.state.profiles[emulator.profile_id_for_email("u1@example.com")]
        assert first["email_marketing"]["consent"] == "UNSUBSCRIBED"
    finally:
        await engine.close()
