"""The console over the real engine on the demo sandbox (tmp state dir, loopback only)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from console.app import ConsoleApp
from console.screens.confirm import PushConfirmScreen
from core.config import Config
from core.model import ErrorStatus
from core.sandbox import Knobs
from tests.ui.batch_helpers import past_survey
from tests.ui.helpers import lookup, settle, text_of
from tests.ui.sandbox_app import HoldCustomer, sandbox_app


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
        await pilot.press(*"55330 55262", "f5")  # no identifier; re-subscribes an opt-out
        await past_survey(pilot, app.screen)  # nothing confirmed: the re-subscribe is held
        await settle(pilot)
        assert "1 failed, 1 held" in text_of(pilot, "#batch-counts")
        await pilot.press("f6")
        await settle(pilot)
        assert app.screen.query_one(DataTable).row_count == 2
        await pilot.press("a")
        await settle(pilot)
        engine = app.engine
        assert engine.errors.count(status=ErrorStatus.OPEN) == 2  # neither cause was fixed
        assert all(len(r.attempts) >= 2 for r in engine.errors.query())


async def test_batch_of_all_customers_can_be_cancelled(tmp_path):
    gates = []

    def hold_55271(inner):
        gates.append(HoldCustomer(inner, "55271"))
        gates[0].armed = False  # the survey reads it; the run waits on it
        return gates[0]

    # Latency keeps most customers unstarted when cancel arrives; the hold keeps it running.
    app = sandbox_app(tmp_path / "state", wrap=hold_55271, knobs=Knobs(latency_ms=50))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f8")
        await settle(pilot)
        await pilot.press("f3", "f5")
        screen = app.screen
        await past_survey(pilot, screen, arm=gates[0])
        for _ in range(400):  # 55271's read is held, so the batch cannot finish on its own
            await pilot.pause()
            if gates and gates[0].held.is_set():
                break
        assert screen.running
        await pilot.press("f10")
        await pilot.pause()
        gates[0].release.set()
        await settle(pilot)
        assert "Batch cancelled" in text_of(pilot, "#batch-counts")
        assert not screen.running
        assert screen.cancel_event is not None and screen.cancel_event.is_set()
