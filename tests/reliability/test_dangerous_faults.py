"""The faults that make duplicates or lose customers when a client is careless, one at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.config import Config
from core.engine import Engine
from core.model import ErrorKind, ErrorStatus, Route
from core.sandbox import Knobs, Sandbox
from core.sandbox.faults import Fault
from tests.reliability.faults import (
    Match,
    ScriptedFaults,
    creates,
    customer_reads,
    link_stores,
    list_adds,
    patches,
    subscribes,
)
from tests.reliability.harness import LISTS, customer, duplicates_in, fast_retry

NEW = "501"
LINKED = "502"
KNOWN = "01JGFJK6QFB96KRART17WEJVYY"


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps({
        "customers": [customer(501, email="new@example.com", number="(312) 204-1187"),
                      customer(502, email="linked@example.com", number=None)],
        "profiles": [{"id": KNOWN, "attributes": {"email": "linked@example.com",
                                                   "external_id": "502"}}],
        "lists": LISTS, "links": {LINKED: KNOWN},
    }), encoding="utf-8")
    return path


async def engine_with(tmp_path: Path, seed: Path, match: Match, script: list[Fault],
                      attempts: int) -> tuple[Engine, ScriptedFaults]:
    state = tmp_path / "state"
    sandbox = Sandbox(state, seed=seed, knobs=Knobs(rate_scale=0.001))
    faulty = ScriptedFaults(sandbox, match, script)
    config = Config(state_dir=state, sandbox=True, sandbox_seed=seed)
    engine = await Engine.open(config, sandbox=sandbox, transport=faulty,
                               retry=fast_retry(attempts))
    return engine, faulty


def assert_synced_once(engine: Engine, customer_id: str) -> None:
    assert engine.sandbox is not None
    profiles = engine.sandbox.klaviyo.dump()["profiles"]
    assert duplicates_in(profiles) == []
    mine = [p for p in profiles if p["attributes"].get("external_id") == customer_id]
    assert len(mine) == 1
    assert engine.sandbox.ipaas.link_of(customer_id) == mine[0]["id"]
    assert engine.errors.open_for_customer(customer_id) is None


AFTER_THE_WRITE = [Fault.TIMEOUT, Fault.MALFORMED_JSON]
EVERY_FAULT = list(Fault)


@pytest.mark.parametrize("fault", AFTER_THE_WRITE)
async def test_a_create_whose_answer_is_lost_is_retried_into_a_409_and_linked(
        tmp_path: Path, seed: Path, fault: Fault) -> None:
    engine, faulty = await engine_with(tmp_path, seed, creates, [fault], attempts=3)
    async with engine:
        result = await engine.push(NEW)

        assert faulty.hits, "the fault was never injected"
        assert result.ok, result.error
        # The retried POST met the profile the lost one made: linked, not created twice.
        assert result.plan.route is Route.LINK
        assert_synced_once(engine, NEW)


@pytest.mark.parametrize("fault", AFTER_THE_WRITE)
async def test_a_lost_create_logged_then_retried_links_the_profile_it_made(
        tmp_path: Path, seed: Path, fault: Fault) -> None:
    engine, _ = await engine_with(tmp_path, seed, creates, [fault], attempts=1)
    async with engine:
        first = await engine.sync([NEW])
        assert first.failed == 1
        record = engine.errors.open_for_customer(NEW)
        assert record is not None and record.kind is ErrorKind.API_UNAVAILABLE
        assert engine.sandbox is not None
        assert len(engine.sandbox.klaviyo.dump()["profiles"]) == 2  # the write took effect

        again = await engine.retry(None)

        assert again.done == 1
        assert_synced_once(engine, NEW)
        assert engine.errors.get(record.id).status is ErrorStatus.RESOLVED  # type: ignore[union-attr]


STEPS: dict[str, Match] = {
    "customer read": customer_reads, "create": creates, "subscribe job": subscribes,
    "list add": list_adds, "link store": link_stores,
}


@pytest.mark.parametrize("fault", EVERY_FAULT)
@pytest.mark.parametrize("step", list(STEPS))
async def test_any_fault_at_any_step_of_a_new_customer_ends_logged_then_synced_once(
        tmp_path: Path, seed: Path, step: str, fault: Fault) -> None:
    engine, faulty = await engine_with(tmp_path, seed, STEPS[step], [fault], attempts=1)
    async with engine:
        first = await engine.sync([NEW])
        assert faulty.hits, f"no {step} request was made"
        if first.failed:
            record = engine.errors.open_for_customer(NEW)
            assert record is not None
            assert record.kind in (ErrorKind.API_UNAVAILABLE,), record
            assert record.retry_action
            await engine.retry(None)
        else:
            # Only a garbled answer to a call whose body is never read can pass unnoticed.
            assert fault is Fault.MALFORMED_JSON, faulty.hits
        assert_synced_once(engine, NEW)


@pytest.mark.parametrize("fault", EVERY_FAULT)
async def test_any_fault_on_the_patch_of_a_linked_customer_ends_logged_then_synced(
        tmp_path: Path, seed: Path, fault: Fault) -> None:
    engine, faulty = await engine_with(tmp_path, seed, patches, [fault], attempts=1)
    async with engine:
        first = await engine.sync([LINKED])
        assert faulty.hits
        if first.failed:
            await engine.retry(None)
        assert_synced_once(engine, LINKED)


@pytest.mark.parametrize("attempts", [2, 3])
async def test_a_lost_create_whose_409_arrives_cut_off_is_still_retryable_and_never_doubled(
        tmp_path: Path, seed: Path, attempts: int) -> None:
    # Found by the soak: the 409 of the retried POST came truncated, so its duplicate id was
    # lost and the customer was logged as a non-retryable conflict.
    engine, faulty = await engine_with(tmp_path, seed, creates,
                                       [Fault.TIMEOUT, Fault.MALFORMED_JSON], attempts=attempts)
    async with engine:
        first = await engine.sync([NEW])
        assert len(faulty.hits) == 2
        if attempts == 3:
            assert first.done == 1  # the third POST read the 409 and linked
        else:
            assert first.failed == 1
            record = engine.errors.open_for_customer(NEW)
            assert record is not None and record.kind is ErrorKind.API_UNAVAILABLE, record
            await engine.retry(None)
        assert_synced_once(engine, NEW)
