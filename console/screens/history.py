"""Push history: what was pushed for a customer, when, and the profile before and after."""

from __future__ import annotations

import asyncio
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from console.keymap import binding
from console.screens.base import say, wait_engine
from console.widgets.preview import SIDES_CSS, JsonView
from console.widgets.screenbar import ScreenBar
from console.widgets.words import short_time
from core.model import HistoryEntry


class HistoryLoaded(Message):
    def __init__(self, customer_id: str | None, entries: list[HistoryEntry]) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.entries = entries


def entry_summary(entry: HistoryEntry) -> Content:
    """Outcome, trigger and the consent and list operations of one push."""
    parts: list[str | tuple[str, str]] = [
        ("OK" if entry.ok else "FAILED", "bold $success" if entry.ok else "bold $error"),
        f"  {entry.route.value.upper()} customer {entry.customer_id}"
        f" → profile {entry.profile_id or '-'} at {short_time(entry.at)} ({entry.trigger})",
    ]
    if entry.error_id:
        parts.append(f"\nerror record {entry.error_id} (F6)")
    for consent in entry.consent:
        action = consent.get("action", "?")
        style = "bold $error" if action == "unsubscribe" or consent.get("double_opt_in") else ""
        where = f" via list {consent['list']!r}" if consent.get("list") else ""
        parts.append(("\nconsent: " + f"{action} {consent.get('channel', 'email')}{where}",
                      style))
    for item in entry.lists:
        parts.append(f"\nlist: {item.get('action', '?')} {item.get('list', '?')!r}")
    return Content.assemble(*parts)


class HistoryScreen(Screen[None]):
    """Every push of one customer (or the latest pushes), newest first."""

    # Parsed when this screen is first shown, not at start-up with console.tcss; unscoped so
    # the rules read exactly as they did there.
    SCOPED_CSS = False
    DEFAULT_CSS = SIDES_CSS + """
        #history-table { height: 1fr; min-height: 5; border: round $panel-lighten-2; }
        #history-detail { height: 2fr; padding: 0 1; }
        #history-summary { padding: 0 1; height: auto; }
    """

    HELP = "Push history. Type a customer id and Enter; empty shows the latest pushes."
    BINDINGS = [binding("refresh", "reload")]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[str, HistoryEntry] = {}

    def compose(self) -> ComposeResult:
        yield ScreenBar("history")
        with Horizontal(id="lookup-bar"):
            yield Input(placeholder="Customer id (empty: latest pushes), then Enter",
                        id="history-customer")
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="history-detail"):
            yield Static("", id="history-summary")
            with Horizontal(id="history-sides", classes="sides"):
                yield JsonView(id="before", classes="side")
                yield JsonView(id="after", classes="side")
            yield JsonView(id="sent", classes="side")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in ("when", "customer", "route", "outcome", "trigger", "profile"):
            table.add_column(label, key=label)
        self.query_one("#before").border_title = "Profile before"
        self.query_one("#after").border_title = "Profile after"
        self.query_one("#sent").border_title = "Sent"
        self.query_one("#history-detail").display = False

    def on_screen_resume(self) -> None:
        current = getattr(self.app, "current_customer", None)
        field = self.query_one("#history-customer", Input)
        if current and not field.value:
            field.value = current
        self.load(field.value.strip() or None)
        self.query_one(DataTable).focus()

    @on(Input.Submitted, "#history-customer")
    def customer_submitted(self, event: Input.Submitted) -> None:
        self.load(event.value.strip() or None)

    def action_reload(self) -> None:
        self.load(self.query_one("#history-customer", Input).value.strip() or None)

    @work(exclusive=True, group="history-load", exit_on_error=False)
    async def load(self, customer_id: str | None) -> None:
        try:
            engine = await wait_engine(self.app)
            history: Any = engine.history
            entries = await asyncio.to_thread(
                (lambda: history.for_customer(customer_id, limit=200)) if customer_id
                else (lambda: history.recent(200)))
        except Exception as exc:
            self.notify(say(exc), title="History unavailable", severity="error", markup=False)
            return
        self.post_message(HistoryLoaded(customer_id, entries))

    def on_history_loaded(self, message: HistoryLoaded) -> None:
        table = self.query_one(DataTable)
        table.clear()
        self.entries = {e.id: e for e in message.entries}
        for entry in message.entries:
            table.add_row(
                short_time(entry.at),
                entry.customer_id,
                entry.route.value.upper(),
                Text("ok", style="green") if entry.ok else Text("failed", style="bold red"),
                entry.trigger,
                entry.profile_id or "-",
                key=entry.id,
            )
        who = f"customer {message.customer_id}" if message.customer_id else "all customers"
        table.border_title = f"Pushes for {who}: {len(message.entries)}"
        detail = self.query_one("#history-detail")
        detail.display = bool(message.entries)
        if not message.entries:
            self.notify(f"No pushes recorded for {who}.", severity="information")

    @on(DataTable.RowHighlighted, "#history-table")
    def show_entry(self, event: DataTable.RowHighlighted) -> None:
        entry = self.entries.get(str(event.row_key.value))
        if entry is None:
            return
        self.query_one("#history-summary", Static).update(entry_summary(entry))
        self.query_one("#before", JsonView).show(entry.before)
        self.query_one("#after", JsonView).show(entry.after)
        self.query_one("#sent", JsonView).show(entry.sent)
