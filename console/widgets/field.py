"""A one-line text field, light enough to be on the console's first frame.

Textual's `Input` is a ScrollView with selection, suggestions, validation and a blink timer:
about 7 ms of CPU on the first frame (a third of a bare app's whole start-up), half of it
styling and restyling its four component classes. The lookup needs none of that beyond
typing, editing and Enter, so this field draws one line itself, keeps the cursor in view by
cropping, and looks like an Input (same rules, same component styles, a steady cursor).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Offset
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

WORD_START = re.compile(r"(?<!\w)\w")


def view_start(value: str, cursor: int, start: int, width: int) -> int:
    """The first cell to show: the cursor (and the character under it) in view, the text filling
    the field as far as it can, and no wide character cut in half at the left edge."""
    edges = [0]
    for character in value:
        edges.append(edges[-1] + cell_len(character))
    cursor_x = edges[cursor]
    cursor_end = edges[cursor + 1] if cursor < len(value) else cursor_x + 1
    start = min(start, max(0, edges[-1] + 1 - width))  # shrink back as the text gets shorter
    if cursor_x < start:
        start = cursor_x
    elif cursor_end > start + width:
        start = cursor_end - width
    start = edges[bisect_left(edges, start)] if start <= edges[-1] else start
    return min(start, cursor_x)


def pasted_line(text: str) -> str:
    """What a paste puts in a one-line field: its first line with text, tabs as spaces and other
    control characters (escape sequences among them) dropped."""
    for line in text.splitlines():
        if line.strip():
            return "".join(" " if character == "\t" else character for character in line
                           if character == "\t" or unicodedata.category(character) != "Cc")
    return ""


class TextField(Widget, can_focus=True):
    """Type, edit with the usual keys, Enter submits; posts Changed and Submitted like Input."""

    DEFAULT_CSS = """
    TextField {
        background: $surface;
        color: $foreground;
        padding: 0 2;
        border: tall $border-blurred;
        width: 100%;
        height: 3;
        pointer: text;
        &:focus {
            border: tall $border;
            background-tint: $foreground 5%;
        }
        &>.text-field--cursor {
            background: $input-cursor-background;
            color: $input-cursor-foreground;
            text-style: $input-cursor-text-style;
        }
        &>.text-field--placeholder {
            color: $text-disabled;
        }
        &:ansi {
            background: ansi_default;
            color: ansi_default;
            &>.text-field--cursor {
                background: ansi_white;
                color: ansi_black;
            }
            &>.text-field--placeholder {
                text-style: dim;
                color: ansi_default;
            }
        }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"text-field--cursor", "text-field--placeholder"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left,shift+left", "cursor_left", "Move cursor left", show=False),
        Binding("right,shift+right", "cursor_right", "Move cursor right", show=False),
        Binding("ctrl+left,ctrl+shift+left", "cursor_left_word", "Word left", show=False),
        Binding("ctrl+right,ctrl+shift+right", "cursor_right_word", "Word right", show=False),
        Binding("home,ctrl+a,shift+home", "home", "Go to start", show=False),
        Binding("end,ctrl+e,shift+end", "end", "Go to end", show=False),
        Binding("backspace", "delete_left", "Delete character left", show=False),
        Binding("delete,ctrl+d", "delete_right", "Delete character right", show=False),
        Binding("ctrl+w,ctrl+backspace,alt+backspace", "delete_left_word",
                "Delete the word left", show=False),
        Binding("ctrl+f", "delete_right_word", "Delete the word right", show=False),
        Binding("ctrl+u,super+backspace", "delete_left_all", "Delete all to the left",
                show=False),
        Binding("ctrl+k", "delete_right_all", "Delete all to the right", show=False),
        Binding("ctrl+v", "paste", "Paste", show=False),
        Binding("enter", "submit", "Submit", show=False),
    ]

    @dataclass
    class Changed(Message):
        """The value changed (typed, deleted, pasted or set)."""

        field: TextField
        value: str

        @property
        def control(self) -> TextField:
            return self.field

    @dataclass
    class Submitted(Message):
        """Enter was pressed in the field."""

        field: TextField
        value: str

        @property
        def control(self) -> TextField:
            return self.field

    def __init__(self, value: str = "", *, placeholder: str = "", id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._value = value
        self.placeholder = placeholder
        self._cursor = len(value)
        self._view_x = 0  # first cell shown: the cursor is kept in view by cropping

    # ------------------------------------------------------------------------ state

    @property
    def value(self) -> str:
        return self._value

    @value.setter
    def value(self, value: str) -> None:
        changed = value != self._value
        self._value = value
        self._cursor = len(value)
        self.refresh()
        if changed:
            self.post_message(self.Changed(self, value))

    @property
    def cursor_position(self) -> int:
        return self._cursor

    @cursor_position.setter
    def cursor_position(self, position: int) -> None:
        self._cursor = max(0, min(position, len(self._value)))
        self.refresh()

    def insert_text_at_cursor(self, text: str) -> None:
        self._edit(self._value[:self._cursor] + text + self._value[self._cursor:],
                   self._cursor + len(text))

    def _edit(self, value: str, cursor: int) -> None:
        changed = value != self._value
        self._value = value
        self._cursor = max(0, min(cursor, len(value)))
        self.refresh()
        if changed:
            self.post_message(self.Changed(self, value))

    # ---------------------------------------------------------------------- drawing

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y != 0 or width <= 0:
            return Strip.blank(width, self.rich_style)
        focused = self.has_focus
        if not self._value:
            text = Text(self.placeholder or " ", no_wrap=True, end="")
            text.stylize(self.get_component_rich_style("text-field--placeholder"))
            if focused:
                text.stylize(self.get_component_rich_style("text-field--cursor"), 0, 1)
            self._view_x = 0
        else:
            text = Text(self._value, no_wrap=True, end="")
            if focused:
                if self._cursor == len(self._value):
                    text.pad_right(1)
                text.stylize(self.get_component_rich_style("text-field--cursor"),
                             self._cursor, self._cursor + 1)
            self._view_x = view_start(self._value, self._cursor, self._view_x, width)
        strip = Strip(text.render(self.app.console))
        strip = strip.crop(self._view_x, self._view_x + width).extend_cell_length(width)
        if focused:  # where a terminal puts its own cursor (input methods compose there)
            x = cell_len(self._value[:self._cursor]) - self._view_x
            region = self.content_region
            self.app.cursor_position = Offset(region.x + x, region.y)
        return strip.apply_style(self.rich_style)

    # ------------------------------------------------------------------------ input

    async def _on_key(self, event: events.Key) -> None:
        if event.is_printable and event.character is not None:
            event.stop()
            event.prevent_default()
            self.insert_text_at_cursor(event.character)

    def _on_paste(self, event: events.Paste) -> None:
        if event.text:
            self.insert_text_at_cursor(pasted_line(event.text))
        event.stop()

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        target, cells = self._view_x + offset.x, 0
        for index, character in enumerate(self._value):
            cells += cell_len(character)
            if cells > target:
                self.cursor_position = index
                return
        self.cursor_position = len(self._value)

    # ---------------------------------------------------------------------- actions

    def _word_left(self) -> int:
        starts = [match.start() for match in WORD_START.finditer(self._value)
                  if match.start() < self._cursor]
        return starts[-1] if starts else 0

    def _word_right(self) -> int:
        for match in WORD_START.finditer(self._value):
            if match.start() > self._cursor:
                return match.start()
        return len(self._value)

    def action_cursor_left(self) -> None:
        self.cursor_position = self._cursor - 1

    def action_cursor_right(self) -> None:
        self.cursor_position = self._cursor + 1

    def action_cursor_left_word(self) -> None:
        self.cursor_position = self._word_left()

    def action_cursor_right_word(self) -> None:
        self.cursor_position = self._word_right()

    def action_home(self) -> None:
        self.cursor_position = 0

    def action_end(self) -> None:
        self.cursor_position = len(self._value)

    def action_delete_left(self) -> None:
        if self._cursor:
            self._edit(self._value[:self._cursor - 1] + self._value[self._cursor:],
                       self._cursor - 1)

    def action_delete_right(self) -> None:
        self._edit(self._value[:self._cursor] + self._value[self._cursor + 1:], self._cursor)

    def action_delete_left_word(self) -> None:
        start = self._word_left()
        self._edit(self._value[:start] + self._value[self._cursor:], start)

    def action_delete_right_word(self) -> None:
        self._edit(self._value[:self._cursor] + self._value[self._word_right():], self._cursor)

    def action_delete_left_all(self) -> None:
        self._edit(self._value[self._cursor:], 0)

    def action_delete_right_all(self) -> None:
        self._edit(self._value[:self._cursor], self._cursor)

    def action_paste(self) -> None:
        text = self.app.clipboard
        if text:
            self.insert_text_at_cursor(pasted_line(text))

    def action_submit(self) -> None:
        self.post_message(self.Submitted(self, self._value))
