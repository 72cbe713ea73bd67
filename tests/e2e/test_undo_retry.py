"""A failed undo keeps the push it was reversing in its error record, and a retry undoes it
again (never pushes), landing in the history as an undo."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from core.config import Config
from core.engine import Engine
from core.model import ErrorStatus, Outcome, Stage
from core.sandbox import Knobs, Sandbox
from tests.e2e.conftest import LISTS, Cli, customer
from tests.e2e.test_undo import SEEDED, last_entry, profile, seed

PROFILE_PATCH = re.compile(r"^/api/profiles/[^/]+/?$")


class FailingPatch(httpx.AsyncBaseTransport):
    """Answers Klaviyo's 503 to every profile PATCH while `down` is set."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.down = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down and request.method == "PATCH" and PROFILE_PATCH.match(request.url.path):
            body = {"errors": [{"id": "x", "status": 503, "code": "service_unavailable",
                                "title": "Service unavailable.",
                                "detail": "Service unavailable."}]}
            return httpx.Response(503, json=body,
                                  headers={"Content-Type": "application/vnd.api+json"})
        return await self.inner.handle_async_request(request)


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SANDBOX_KLAVIYO_DOWN", "SANDBOX_FAILURE_RATE", "SANDBOX_LATENCY_MS",
                 "SANDBOX_RATE_SCALE"):
        monkeypatch.delenv(name, raising=False)


async def open_engine(tmp_path: Path) -> tuple[Engine, FailingPatch]:
    seed_path = tmp_path / "seed.json"
    seed_path.write_text(json.dumps({
        "customers": [customer(70, email="ann@example.com", first="Ann", last="Dupont",
                               company="Dupont Floral"),
                      customer(71, email="new@example.com", first="Emma", last="Johnson")],
        "profiles": [SEEDED], "lists": LISTS, "links": {"70": "ann@example.com"}}),
        encoding="utf-8")
    state = tmp_path / "state"
    config = Config(state_dir=state, sandbox=True, sandbox_seed=seed_path, retry_attempts=1)
    sandbox = Sandbox(state, seed=seed_path, knobs=Knobs())
    wire = FailingPatch(sandbox.transport)
    wire.down = False
    return await Engine.open(config, sandbox=sandbox, transport=wire), wire


async def test_an_undo_whose_write_fails_is_retried_as_an_undo(tmp_path: Path) -> None:
    engine, wire = await open_engine(tmp_path)
    try:
        assert (await engine.push("70", confirm=True)).ok
        [pushed] = engine.history.for_customer("70")

        wire.down = True
        [failed] = await engine.undo([pushed.id], apply=True, confirmed=True)
        assert failed.outcome == "failed"
        [record] = engine.errors.query(status=ErrorStatus.OPEN)
        assert record.undo_of == pushed.id and record.stage is Stage.WRITE
        assert not record.message.startswith("undo of push")  # the field says it, once
        assert record.headline().startswith(f"undo of push {pushed.id}: ")
        attempt = engine.history.for_customer("70")[0]
        assert (attempt.trigger, attempt.outcome) == ("undo", Outcome.FAILED)

        wire.down = False
        await engine.retry([record.id])
        latest = engine.history.for_customer("70")[0]
        assert (latest.trigger, latest.outcome) == ("undo", Outcome.DONE)
        assert latest.sent is not None and latest.sent["data"]["attributes"]["first_name"] \
            == "Anne"
        resolved = engine.errors.get(record.id)
        assert resolved is not None and resolved.status is ErrorStatus.RESOLVED
    finally:
        await engine.close()


def test_the_errors_command_names_the_push_a_failed_undo_was_reversing(
        cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(cli)
    cli.json("push", "70", "--yes")
    pushed = last_entry(cli, "70")
    monkeypatch.setenv("SANDBOX_FAILURE_RATE", "1")  # every Klaviyo call fails: 5xx and worse
    assert cli.json("undo", pushed["id"], "--yes")[0] == 1
    monkeypatch.delenv("SANDBOX_FAILURE_RATE")

    _, [record] = cli.json("errors", "--status", "open")
    assert record["undo_of"] == pushed["id"]
    code, out, _ = cli.run("errors")
    assert code == 0 and f"undo of push {pushed['id']}" in out

    assert cli.run("retry", record["id"])[0] == 0
    assert last_entry(cli, "70")["trigger"] == "undo"
    assert profile(cli, "ann@example.com")["attributes"]["first_name"] == "Anne"
    _, still_open = cli.json("errors", "--status", "open")
    assert still_open == []


async def test_a_held_consent_reversal_is_logged_as_an_undo_and_held_again_by_retry(
        tmp_path: Path) -> None:
    engine, _ = await open_engine(tmp_path)
    try:
        assert (await engine.push("71", confirm=True)).ok
        [pushed] = engine.history.for_customer("71")
        assert pushed.consent  # the push subscribed the new profile

        [held] = await engine.undo([pushed.id], apply=True, reverse_consent=True)
        assert held.outcome == "held"
        [record] = engine.errors.query(status=ErrorStatus.OPEN)
        assert record.undo_of == pushed.id and record.kind.value == "consent_guard"
        assert f"undo {pushed.id} --reverse-consent --yes" in record.retry_action
        assert engine.history.for_customer("71")[0].outcome is Outcome.HELD

        await engine.retry([record.id])  # a retry never confirms: held again, nothing written
        again = engine.errors.get(record.id)
        assert again is not None and again.status is ErrorStatus.OPEN
        assert len(again.attempts) == 2
        assert [e.outcome for e in engine.history.for_customer("71")][:2] == [
            Outcome.HELD, Outcome.HELD]

        [done] = await engine.undo([pushed.id], apply=True, confirmed=True,
                                   reverse_consent=True)
        assert done.outcome == "done"
        resolved = engine.errors.get(record.id)
        assert resolved is not None and resolved.status is ErrorStatus.RESOLVED
    finally:
        await engine.close()


def test_running_the_failed_undo_again_resolves_its_record(
        cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(cli)
    cli.json("push", "70", "--yes")
    pushed = last_entry(cli, "70")
    monkeypatch.setenv("SANDBOX_KLAVIYO_DOWN", "1")
    assert cli.json("undo", pushed["id"], "--yes")[0] == 1
    monkeypatch.delenv("SANDBOX_KLAVIYO_DOWN")

    assert cli.json("undo", pushed["id"], "--yes")[0] == 0
    _, still_open = cli.json("errors", "--status", "open")
    assert still_open == []
