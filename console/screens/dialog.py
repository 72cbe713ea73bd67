"""A dialog whose body scrolls under its buttons, by keys as well as the mouse."""

from __future__ import annotations

from typing import TypeVar

from textual import events
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen

from console.keymap import binding

ResultType = TypeVar("ResultType")

# Rows the title, the buttons and the frame take: the body gets what is left, so the buttons
# stay on screen at 80x24.
DIALOG_FRAME_ROWS = 10

# The buttons keep the focus (Enter presses one), so the arrows and page keys scroll the body.
SCROLL_BINDINGS: list[Binding] = [
    binding("dialog-scroll-down", "scroll_body('down')"),
    binding("dialog-scroll-up", "scroll_body('up')", show=False),
    binding("dialog-page-down", "scroll_body('page_down')", show=False),
    binding("dialog-page-up", "scroll_body('page_up')", show=False),
]


class ScrollingDialog(ModalScreen[ResultType]):
    """A modal dialog with one VerticalScroll body between its title and its buttons."""

    def on_resize(self, event: events.Resize) -> None:
        self.query_one(VerticalScroll).styles.max_height = max(
            3, event.size.height - DIALOG_FRAME_ROWS)
        # Whether the body overflows is known only once it is laid out at the new size.
        self.call_after_refresh(self.refresh_bindings)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "scroll_body":
            # Offered only when there is more to read than the body shows.
            bodies = self.query(VerticalScroll)
            return bool(bodies) and bodies.first().max_scroll_y > 0
        return True

    def action_scroll_body(self, how: str) -> None:
        body = self.query_one(VerticalScroll)
        if how == "down":
            body.scroll_down()
        elif how == "up":
            body.scroll_up()
        elif how == "page_down":
            body.scroll_page_down()
        else:
            body.scroll_page_up()
