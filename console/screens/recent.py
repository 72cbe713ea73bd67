"""Recent lookups: persisted in the state dir, offered one key away and in the palette."""

from __future__ import annotations

import json
import re
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, OptionList
from textual.widgets.option_list import Option

# The dialogs' rules, parsed when a dialog first opens rather than at start-up.
DIALOG_CSS = """
    .dialog {
        width: 80%;
        max-width: 100;
        height: auto;
        max-height: 95%;
        border: thick $primary 70%;
        background: $surface;
        padding: 1 2;
    }
    .dialog-title { text-style: bold; width: 100%; margin-bottom: 1; }
"""


# Labels saved by earlier versions ended in the route then, which a later push makes stale.
ROUTE_SUFFIX = re.compile(r"(^| · )(CREATE|UPDATE|BLOCKED|LINK by (email|phone|external id))$")


def without_route(label: str) -> str:
    return ROUTE_SUFFIX.sub("", label)


class RecentLookups:
    """The last customers looked up, newest first, as (id, label) pairs; labels name the
    customer, never the route, which a push or a batch would make stale."""

    def __init__(self, path: Path | None, limit: int = 12) -> None:
        self.path = path
        self.limit = limit
        self.items: list[tuple[str, str]] = []

    def load(self) -> list[tuple[str, str]]:
        if self.path is None or not self.path.is_file():
            return self.items
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            self.items = [(str(i), without_route(str(label)))
                          for i, label in raw][: self.limit]
        except (ValueError, TypeError):
            self.items = []  # a damaged file only costs the list, never the console
        return self.items

    def add(self, customer_id: str, label: str) -> None:
        self.items = [(customer_id, label)] + [
            item for item in self.items if item[0] != customer_id
        ]
        self.items = self.items[: self.limit]
        if self.path is not None:
            # Imported here: the store loads with the engine, after the first frame.
            from core.store.atomic import atomic_write_bytes

            atomic_write_bytes(self.path, json.dumps(self.items).encode())


class CustomerChoices(OptionList):
    """The picker's list, whose Enter the footer names."""

    BINDINGS = [Binding("enter", "select", "Open", id="open-picked")]


class PickCustomerScreen(ModalScreen[str | None]):
    """Choose one customer from a list (recent lookups or search results)."""

    SCOPED_CSS = False
    DEFAULT_CSS = DIALOG_CSS + """
    PickCustomerScreen { align: center middle; }
    #choices { height: auto; max-height: 20; }
    .muted { color: $text-muted; }
    """

    BINDINGS = [Binding("escape", "dismiss_none", "Close", id="close-picker")]

    def __init__(self, title: str, choices: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(id="picker", classes="dialog"):
            yield Label(Content(self.title_text), classes="dialog-title")
            if self.choices:
                yield CustomerChoices(
                    *[Option(Content(f"{cid}  {label}"), id=cid) for cid, label in self.choices],
                    id="choices",
                )
            else:
                yield Label("Nothing yet: look a customer up first.", classes="muted")
        yield Footer()  # the dialog's keys, not those of the screen behind it

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
