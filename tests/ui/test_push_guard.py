"""The guard verdict in the preview and the push dialog, re-send, cancel, partial success."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Button

from console.app import ConsoleApp
from console.screens.confirm import PushConfirmScreen
from console.screens.lookup import LookupScreen
from core.model import GuardKind
from tests.ui.helpers import (
    lookup,
    open_push_dialog,
    press_and_settle,
    settle,
    text_of,
    until,
)
from tests.ui.stub_engine import CUSTOMERS, StubConfig, stub_factory
from tests.ui.stub_guard import GuardEngine, reason, verdict

UNSUBSCRIBE = reason("unsubscribe", "unsubscribes fay@example.com from email: SubscribeProfile "
                     "is unmapped, not the customer's own choice")
CONSENT_EMAIL = reason("consent-email", "Klaviyo emails fay@example.com a double opt-in consent "
                       "request for list 'Sms Subscribers'")


@pytest.fixture
def engine(tmp_path: Path) -> GuardEngine:
    engine = GuardEngine(StubConfig(state_dir=tmp_path))
    engine.verdicts["1005"] = verdict((UNSUBSCRIBE, CONSENT_EMAIL), frozenset({"unsubscribe"}))
    return engine


def app_on(engine: GuardEngine, tmp_path: Path, keymap: dict[str, str] | None = None
           ) -> ConsoleApp:
    return ConsoleApp(engine.config, engine_factory=stub_factory(engine),
                      keymap=keymap if keymap is not None else {},
                      recent_path=tmp_path / "recent.json")


def footer_actions(app: ConsoleApp) -> list[str]:
    return [key.action for key in app.screen.query("Footer FooterKey")]


async def test_preview_shows_what_needs_confirmation_and_what_is_applied(engine, tmp_path):
    engine.unknown["1005"] = ("list membership",)
    app = app_on(engine, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await lookup(pilot, "1005")
        banner = text_of(pilot, "#route")
        assert "1 consent change needs confirmation (unsubscribe)" in banner
        assert "Not known to this preview: list membership" in banner
        consent = text_of(pilot, "#consent")
        assert "Needs your confirmation" in consent
        assert f"⚠ {UNSUBSCRIBE.text}" in consent
        assert f"✓ {CONSENT_EMAIL.text} (applied without asking)" in consent
        assert all(line.count("double opt-in") <= 1 for line in consent.splitlines())


async def test_a_plan_with_nothing_held_says_so(engine, tmp_path):
    engine.verdicts["55260"] = verdict()
    app = app_on(engine, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await lookup(pilot, "55260")
        assert "No consent change needs confirmation" in text_of(pilot, "#route")


async def test_push_dialog_lists_the_reasons_and_confirms_only_the_kinds_shown(engine,
                                                                               tmp_path):
    app = app_on(engine, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        dialog = await open_push_dialog(pilot, "1005")
        assert isinstance(dialog, PushConfirmScreen)
        summary = str(dialog.query_one("#confirm-summary").render())
        assert summary.startswith("Needs your confirmation:")
        assert UNSUBSCRIBE.text in summary and CONSENT_EMAIL.text in summary
        assert app.focused.id == "cancel-push"
        await press_and_settle(pilot, "y")
        assert engine.calls == [{"id": "1005", "confirm": frozenset({GuardKind.UNSUBSCRIBE}),
                                 "resend": False}]


async def test_enter_on_the_risky_dialog_cancels_and_says_so(engine, tmp_path):
    app = app_on(engine, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_push_dialog(pilot, "1005")
        await press_and_settle(pilot, "enter")
        assert isinstance(app.screen, LookupScreen)
        assert engine.calls == []
        assert "Push of customer 1005 cancelled: nothing was sent." in text_of(pilot, "#status")


async def test_resend_consent_pushes_with_resend_after_the_same_dialog(engine, tmp_path):
    app = app_on(engine, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await lookup(pilot, "55260")  # no double opt-in change: the key is hidden
        assert "resend_consent" not in footer_actions(app)
        await lookup(pilot, "1005")
        assert "resend_consent" in footer_actions(app)
        await press_and_settle(pilot, "ctrl+o")
        assert isinstance(app.screen, PushConfirmScreen)
        title = str(app.screen.query_one(".dialog-title").render())
        assert "re-send the consent email" in title
        assert "send the double opt-in consent email again" in str(
            app.screen.query_one("#confirm-summary").render())
        await press_and_settle(pilot, "y")
        assert engine.calls[-1]["resend"] is True


async def test_resend_is_in_the_palette_when_it_can_act(engine, tmp_path):
    app = app_on(engine, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await lookup(pilot, "1005")
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Re-send consent email" in titles and "Push" in titles
        await lookup(pilot, "1004")  # BLOCKED: no consent email to re-send
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Re-send consent email" not in titles


async def status_after_push(engine: GuardEngine, tmp_path: Path, customer_id: str) -> str:
    """The lookup's status line once the customer is pushed through the dialog."""
    app = app_on(engine, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_push_dialog(pilot, customer_id)
        await press_and_settle(pilot, "y")
        return text_of(pilot, "#status")


async def test_a_push_saved_without_the_phone_is_a_partial_success(engine, tmp_path):
    engine.partial_ids.add("55260")
    status = await status_after_push(engine, tmp_path, "55260")
    assert "Partial success" in status and "without phone number" in status
    assert "failed" not in status
    assert "Correct the phone number in iPaaS.com" in status
    assert "Retry then sends the profile again" in status


async def test_the_dialog_fits_80x24_with_its_buttons_and_its_own_keys(engine, tmp_path):
    app = app_on(engine, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_push_dialog(pilot, "1005")
        assert isinstance(screen, PushConfirmScreen)
        for button in screen.query(Button):
            region = button.region
            assert region.height == 3 and region.bottom <= 23, button.id  # above the footer
        # The dialog's own keys only: its body is longer than 80x24 leaves, so it scrolls.
        assert sorted(footer_actions(app)) == ["cancel", "confirm", "scroll_body('down')"]


async def test_a_push_that_fails_says_what_to_fix_and_what_retry_does(engine, tmp_path):
    engine.fail_ids.add("55260")
    status = await status_after_push(engine, tmp_path, "55260")
    assert "Push of customer 55260 failed: Klaviyo answered 503" in status
    assert "Retry sends the same push" in status
    assert CUSTOMERS["55260"].first_name == "Ann"


async def test_a_slow_service_is_named_while_the_lookup_waits(engine, tmp_path):
    engine.slow_ids.add("55260")
    app = app_on(engine, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press(*"55260", "enter")
        await until(pilot, lambda: "not answering" in text_of(pilot, "#status"))
        assert ("Klaviyo at https://a.klaviyo.com not answering; attempt 2/5 in 4 s"
                in text_of(pilot, "#status"))
        await settle(pilot)
        assert "Preview of customer 55260" in text_of(pilot, "#status")


async def test_dialog_body_scrolls_by_keys_while_the_buttons_keep_focus(engine, tmp_path):
    app = app_on(engine, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await open_push_dialog(pilot, "1005")
        assert isinstance(dialog, PushConfirmScreen)
        body = dialog.query_one("#confirm-body")
        assert body.max_scroll_y > 0, "the 80x24 dialog should have more than it shows"
        assert "scroll_body('down')" in footer_actions(app)
        focused = app.focused
        await press_and_settle(pilot, "down")
        assert body.scroll_y > 0
        await press_and_settle(pilot, "pagedown")
        assert body.scroll_y == body.max_scroll_y or body.scroll_y > 1
        await press_and_settle(pilot, "pageup")
        assert body.scroll_y == 0
        assert app.focused is focused  # a key press later still answers the same button
        assert isinstance(app.screen, PushConfirmScreen)


async def test_dialog_offers_no_scroll_key_when_all_of_it_shows(engine, tmp_path):
    app = app_on(engine, tmp_path)
    async with app.run_test(size=(160, 60)) as pilot:
        dialog = await open_push_dialog(pilot, "1005")
        assert isinstance(dialog, PushConfirmScreen)
        await settle(pilot)
        assert dialog.query_one("#confirm-body").max_scroll_y == 0
        assert "scroll_body('down')" not in footer_actions(app)
