"""What trying the console as an operator at 80x24 turned up (issue 15, item 5), each pinned
on the rendered screen: footers that name the keys that act, words that fit, ids that are ids."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from console.screens.recent import PickCustomerScreen
from core.model import ErrorKind
from tests.ui.guard_stub import GuardStub
from tests.ui.helpers import lookup, press_and_settle, screen_lines, screen_text, settle
from tests.ui.stub_engine import StubConfig, StubEngine


def footer(pilot: Pilot[Any]) -> str:
    return screen_lines(pilot.app)[-1]


async def test_the_error_log_footer_keeps_quit_at_80_columns_and_pages_only_when_it_can(
        make_app, stub: StubEngine):
    for n in range(51):  # one more than a page
        stub.add_error(f"{1000 + n}", ErrorKind.API_UNAVAILABLE, "Klaviyo did not answer")
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_and_settle(pilot, "f6")
        assert "page 1 of 2" in screen_text(app)
        keys = footer(pilot)
        assert "n Next page" in keys and "Prev page" not in keys and "^q Quit" in keys
        await press_and_settle(pilot, "n")
        assert "page 2 of 2" in screen_text(app)
        keys = footer(pilot)
        assert "p Prev page" in keys and "Next page" not in keys and "^q Quit" in keys
        await press_and_settle(pilot, "k")  # a filter with one page: no page key at all
        keys = footer(pilot)
        assert "page" not in keys.lower() and "^q Quit" in keys


async def test_a_batch_refuses_words_that_are_not_customer_ids_before_it_starts(tmp_path):
    from console.app import ConsoleApp
    from tests.ui.stub_engine import stub_factory

    engine = GuardStub(StubConfig(state_dir=tmp_path))
    app = ConsoleApp(engine.config, engine_factory=stub_factory(engine), keymap={},
                     recent_path=tmp_path / "recent.json")
    said: list[str] = []
    notify = app.notify
    app.notify = lambda message, **kw: said.append(str(message)) or notify(message, **kw)  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await press_and_settle(pilot, "f8")
        assert "Customer ids, such as 55260 55261 55262" in screen_text(app)
        await press_and_settle(pilot, *"abc 1001", "f5")
        assert engine.surveys == [] and engine.syncs == []
        assert said[-1] == ("Not a customer id: abc. iPaaS.com customer ids are whole numbers "
                            "such as 55260; nothing was started.")
        assert "Not started." in screen_text(app)


async def test_the_report_fields_say_what_they_take_whole_at_80_columns(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_and_settle(pilot, "f12")
        screen = screen_text(app)
        assert "Customer ids (all)" in screen
        assert "Template (current)" in screen
        assert "Compare with (none)" in screen
        assert "Enter in any field runs the report: customer ids (empty: all)" in screen


async def test_the_recent_lookups_dialog_shows_its_own_keys_not_the_lookups(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await lookup(pilot, "55260")
        await press_and_settle(pilot, "f3")
        assert isinstance(app.screen, PickCustomerScreen)
        keys = footer(pilot)
        assert "esc Close" in keys and "Recent" not in keys and "Push" not in keys
        await press_and_settle(pilot, "escape")
        await settle(pilot)
        assert "f5 Push" in footer(pilot)


async def test_retry_all_with_nothing_open_says_there_was_nothing_to_retry(make_app, stub):
    app = make_app(stub)
    said: list[str] = []
    notify = app.notify
    app.notify = lambda message, **kw: said.append(str(message)) or notify(message, **kw)  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await press_and_settle(pilot, "f6")
        await press_and_settle(pilot, "a")
        assert said[-1] == "Nothing to retry: no error record is open."
