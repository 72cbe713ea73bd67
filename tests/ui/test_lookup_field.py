"""The lookup's customer field (Textual's Input) with the console's keys, and its status line."""

from __future__ import annotations

from textual import events
from textual.app import App, ComposeResult
from textual.widgets import Input

from console.screens.confirm import PushConfirmScreen
from console.screens.errors import ErrorsScreen
from console.screens.lookup import EMPTY_FIELD, LookupScreen
from console.widgets.status import StatusLine
from tests.ui.helpers import lookup, settle


def field_of(app) -> Input:
    return app.screen.query_one("#customer", Input)


async def test_typed_keys_land_in_the_field_and_enter_previews(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press(*"55260")
        assert field_of(app).value == "55260"
        assert field_of(app).cursor_position == 5
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.plan.customer_id == "55260"


async def test_editing_keys_in_the_field(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        field = field_of(app)
        await pilot.press(*"anne smith", "ctrl+left")  # to the start of "smith"
        assert field.cursor_position == 5
        await pilot.press("backspace")
        assert field.value == "annesmith" and field.cursor_position == 4
        await pilot.press("home", "delete", "end", "left", "left")
        assert field.value == "nnesmith" and field.cursor_position == 6
        await pilot.press("ctrl+k")
        assert field.value == "nnesmi"
        await pilot.press("ctrl+a", "right", "right", "ctrl+u")
        assert field.value == "esmi" and field.cursor_position == 0
        await pilot.press("ctrl+e", *" jr", "ctrl+w")
        assert field.value == "esmi "


async def test_a_paste_takes_its_first_line(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        field = field_of(app)
        field.post_message(events.Paste("55260\nsecond line"))
        await pilot.pause()
        assert field.value == "55260"


async def test_pasted_escape_sequences_and_tabs_never_reach_the_value(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        field = field_of(app)
        field.post_message(events.Paste("55260\x1b[31m\tx\nsecond"))
        await pilot.pause()
        assert field.value == "55260[31m x"
        app.copy_to_clipboard("\x07 1001")
        await pilot.press("home", "ctrl+v")
        assert field.value == " 100155260[31m x"


async def test_the_console_keys_work_while_the_field_has_the_focus(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await lookup(pilot, "55260")
        await pilot.click("#customer")  # Enter moved focus to the preview: back to the field
        assert app.focused is field_of(app)
        await pilot.press("f5")  # push: the field does not swallow it
        await settle(pilot)
        assert isinstance(app.screen, PushConfirmScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, LookupScreen)
        await pilot.press("f6")
        await settle(pilot)
        assert isinstance(app.screen, ErrorsScreen)
        await pilot.press("ctrl+l")  # back to the lookup, the field focused again
        await settle(pilot)
        assert isinstance(app.screen, LookupScreen)
        assert app.focused is field_of(app)


async def test_empty_enter_asks_for_a_customer_and_looks_nothing_up(make_app, stub):
    app = make_app(stub)
    said: list[str] = []
    notify = app.notify
    app.notify = lambda message, **kw: said.append(message) or notify(message, **kw)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.plan is None
        assert said == [EMPTY_FIELD]  # what to type, and where
        assert "55260" in EMPTY_FIELD and "Enter" in EMPTY_FIELD
        assert EMPTY_FIELD in str(app.screen.query_one("#status").render())


class Status(App[None]):
    def compose(self) -> ComposeResult:
        yield StatusLine("Looking up 55260…", id="status")


async def test_the_status_line_pulses_its_dots_only_while_busy():
    app = Status()
    async with app.run_test(size=(40, 3)) as pilot:
        status = app.query_one(StatusLine)
        assert str(status.render()) == "Looking up 55260…"
        status.busy = True
        await pilot.pause()
        assert str(status.render()) == "● ● ● Looking up 55260…"
        assert status.auto_refresh is not None  # redrawn while busy: the dots move
        status.busy = False
        status.update("Preview of customer 55260")
        await pilot.pause()
        assert str(status.render()) == "Preview of customer 55260"
        assert status.auto_refresh is None


class Hinted(App[None]):
    CSS = "StatusLine { height: auto; padding: 0 2; }"

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status", hint="Enter a customer to preview what a push would send.")


async def test_the_hint_is_drawn_under_the_status_until_it_is_cleared():
    app = Hinted()
    async with app.run_test(size=(30, 10)) as pilot:
        status = app.query_one(StatusLine)  # 26 cells wide: the hint takes three lines
        assert status.size.height == 1 + 1 + 3 + 1  # status, blank, the hint, blank
        status.update("a status longer than the line it has")
        await pilot.pause()
        assert status.size.height == 7  # the status wraps to two lines: nothing is cut
        assert str(status.render()).startswith("a status longer than the line it has\n\nEnter")
        status.hint = ""
        await pilot.pause()
        assert status.size.height == 2  # the long status alone, still wrapped
        assert "Enter a customer" not in str(status.render())
