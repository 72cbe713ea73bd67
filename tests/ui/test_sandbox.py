"""The console over the real engine on the demo sandbox (tmp state dir, loopback only)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from console.app import ConsoleApp
from console.screens.confirm import PushConfirmScreen
from core.config import Config
from core.engine import Engine
from core.model import ErrorStatus
from core.sandbox import Knobs, Sandbox
from tests.ui.helpers import lookup, settle, text_of


@pytest.fixture
def app(tmp_path: Path) -> ConsoleApp:
    config = Config.load(env={}, state_dir=tmp_path / "state", sandbox=True)
    return ConsoleApp(config, keymap={}, recent_path=tmp_path / "recent.json")


async def test_every_route_previews_on_the_sandbox(app):
    async with app.run_test(size=(120, 40)) as pilot:
        for customer_id, title in [("55260", "UPDATE"), ("55265", "CREATE"),
                                   ("55266", "LINK by email"), ("55280", "LINK by phone"),
                                   ("55330", "BLOCKED")]:
            await lookup(pilot, customer_id)
            assert f" {title} " in text_of(pilot, "#route"), customer_id


async def test_push_without_consent_changes(app):
    async with app.run_test(size=(120, 40)) as pilot:
        await lookup(pilot, "55268")  # UPDATE, no consent or list operations
        await pilot.press("f5")
        await pilot.pause()
        assert "Consent changes" not in str(app.screen.query_one("#confirm-summary").render())
        await pilot.press("y")
        await settle(pilot)
        assert "Pushed customer 55268" in text_of(pilot, "#status")


async def test_push_of_a_created_customer_with_consent_shows_update_after(app):
    async with app.run_test(size=(120, 40)) as pilot:
        await lookup(pilot, "55300")  # CREATE with a double opt-in list subscription
        assert " CREATE " in text_of(pilot, "#route")
        await pilot.press("f5")
        await pilot.pause()
        assert isinstance(app.screen, PushConfirmScreen)
        assert "double opt-in" in str(app.screen.query_one("#confirm-summary").render())
        await pilot.press("y")
        await settle(pilot)
        assert " UPDATE " in text_of(pilot, "#route")


async def test_rejected_push_becomes_an_error_record(app):
    async with app.run_test(size=(120, 40)) as pilot:
        await lookup(pilot, "55341")  # Klaviyo rejects its phone number
        await pilot.press("f5", "y")
        await settle(pilot)
        assert "failed" in text_of(pilot, "#status")
        await pilot.press("f6")
        await settle(pilot)
        assert "Invalid phone number" in text_of(pilot, "#error-detail")


async def test_batch_holds_then_errors_retry(app):
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f8")
        await settle(pilot)
        await pilot.press(*"55330 55260", "f5")
        await settle(pilot)
        assert "1 failed, 1 held" in text_of(pilot, "#batch-counts")
        await pilot.press("f6")
        await settle(pilot)
        assert app.screen.query_one(DataTable).row_count == 2
        await pilot.press("a")
        await settle(pilot)
        engine = app.engine
        assert engine.errors.count(status=ErrorStatus.OPEN) == 2  # neither cause was fixed
        assert all(r.attempts >= 2 for r in engine.errors.query())


async def test_batch_of_all_customers_can_be_cancelled(tmp_path):
    state = tmp_path / "state"
    config = Config.load(env={}, state_dir=state, sandbox=True)

    async def slow_sandbox(config):
        # Latency keeps the batch running long enough to cancel it halfway.
        return await Engine.open(config, sandbox=Sandbox(state, knobs=Knobs(latency_ms=50)))

    app = ConsoleApp(config, engine_factory=slow_sandbox, keymap={},
                     recent_path=tmp_path / "recent.json")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f8")
        await settle(pilot)
        await pilot.press("f3", "f5")
        for _ in range(200):
            await pilot.pause(0.02)
            if app.screen.counts.finished:
                break
        await pilot.press("f10")
        await settle(pilot)
        assert "Batch cancelled" in text_of(pilot, "#batch-counts")
        assert not app.screen.running
        assert app.screen.counts.finished < 49
