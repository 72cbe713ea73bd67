"""The lookup's text field (typing, editing keys, paste, Enter, drawing) and its status line."""

from __future__ import annotations

from textual import events
from textual.app import App, ComposeResult

from console.widgets.field import TextField
from console.widgets.status import StatusLine


class OneField(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str]] = []

    def compose(self) -> ComposeResult:
        yield TextField(placeholder="Customer id", id="field")

    def on_mount(self) -> None:
        self.query_one(TextField).focus()

    def on_text_field_changed(self, message: TextField.Changed) -> None:
        self.seen.append(("changed", message.value))

    def on_text_field_submitted(self, message: TextField.Submitted) -> None:
        self.seen.append(("submitted", message.value))


def drawn(app: OneField) -> str:
    field = app.query_one(TextField)
    return field.render_line(0).text


async def test_typed_keys_land_in_the_field_and_enter_submits():
    app = OneField()
    async with app.run_test(size=(40, 5)) as pilot:
        await pilot.press(*"55260", "enter")
        await pilot.pause()
        field = app.query_one(TextField)
        assert field.value == "55260"
        assert ("submitted", "55260") in app.seen
        assert ("changed", "5526") in app.seen
        assert field.cursor_position == 5


async def test_editing_keys():
    app = OneField()
    async with app.run_test(size=(40, 5)) as pilot:
        field = app.query_one(TextField)
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
        await pilot.press("ctrl+right", "x")  # already at the end
        assert field.value == "esmi x"


async def test_paste_takes_the_first_line_and_ctrl_v_the_app_clipboard():
    app = OneField()
    async with app.run_test(size=(40, 5)) as pilot:
        field = app.query_one(TextField)
        field.post_message(events.Paste("55260\nsecond line"))
        await pilot.pause()
        assert field.value == "55260"
        app.copy_to_clipboard("1001")
        await pilot.press("home", "ctrl+v")
        assert field.value == "100155260"


async def test_placeholder_and_cursor_are_drawn_and_the_cursor_stays_in_view():
    app = OneField()
    async with app.run_test(size=(20, 5)) as pilot:
        field = app.query_one(TextField)
        assert drawn(app).startswith("Customer id")
        await pilot.press(*"abcdefghijklmnopqrstuvwxyz")
        text = drawn(app)
        assert text.rstrip().endswith("xyz")  # scrolled: the end and the cursor are shown
        assert len(text) == field.size.width
        await pilot.press("home")
        assert drawn(app).startswith("abc")
        field.value = ""
        await pilot.pause()
        assert drawn(app).startswith("Customer id")


async def test_a_click_puts_the_cursor_under_the_pointer():
    app = OneField()
    async with app.run_test(size=(40, 5)) as pilot:
        field = app.query_one(TextField)
        field.value = "55260"
        await pilot.pause()
        gutter = field.styles.gutter
        await pilot.click(TextField, offset=(gutter.left + 2, gutter.top))
        assert field.cursor_position == 2
        await pilot.press("x")
        assert field.value == "55x260"


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
        assert status.size.height == 6  # the status stays one line: cropped, not wrapped
        assert str(status.render()).startswith("a status longer than the l\n\nEnter")
        status.hint = ""
        await pilot.pause()
        assert status.size.height == 1
        assert "Enter a customer" not in str(status.render())


async def test_the_text_scrolls_back_into_view_as_it_gets_shorter():
    app = OneField()
    async with app.run_test(size=(14, 5)) as pilot:  # 8 cells inside the border and padding
        field = app.query_one(TextField)
        await pilot.press(*"abcdefghijklmnopqrstuvwxyz")
        assert drawn(app).strip().endswith("z")
        await pilot.press(*["backspace"] * 20)
        assert field.value == "abcdef"
        assert "bcdef" in drawn(app)


async def test_wide_characters_are_never_cut_at_the_left_edge():
    app = OneField()
    async with app.run_test(size=(14, 5)) as pilot:
        field = app.query_one(TextField)
        field.value = "中文" * 4
        await pilot.pause()
        assert drawn(app) == "文中文  "  # from a character's first cell, then the cursor
        await pilot.press("home")
        assert drawn(app) == "中文中文"


async def test_a_paste_takes_its_first_line_with_text_and_no_control_characters():
    app = OneField()
    async with app.run_test(size=(40, 5)) as pilot:
        field = app.query_one(TextField)
        field.post_message(events.Paste("\n  55260\x1b[31m\tx\nsecond"))
        await pilot.pause()
        assert field.value == "  55260[31m x"
