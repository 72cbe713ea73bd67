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
from console.widgets.outcomes import OUTCOME_STYLE, outcome_of, table_time
from console.widgets.preview import SIDES_CSS, JsonView
from console.widgets.screenbar import ScreenBar
from console.widgets.words import short_time
from core.model import HistoryEntry

ROW_STYLE = {"done": "green", "failed": "bold red", "held": "bold yellow"}


class HistoryLoaded(Message):
    def __init__(self, customer_id: str | None, entries: list[HistoryEntry]) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.entries = entries


def consent_line(consent: dict[str, Any], outcome: str) -> tuple[str, str]:
    """One consent operation as it went: done, awaiting confirmation, or never run."""
    action = str(consent.get("action", "?"))
    where = f" via list {consent['list']!r}" if consent.get("list") else ""
    words = f"{action} {consent.get('channel', 'email')}{where}"
    if consent.get("pending_since"):
        return (f"\nconsent: {words}: consent email sent {short_time(consent['pending_since'])}, "
                "awaiting confirmation (nothing sent again)", "")
    if outcome != "done":
        return f"\nconsent: {words}: not run (the push was {outcome})", "$text-muted"
    risky = action == "unsubscribe" or consent.get("double_opt_in")
    return f"\nconsent: {words}", "bold $error" if risky else ""


def entry_summary(entry: HistoryEntry, outcome: str | None = None) -> Content:
    """Outcome, trigger and the consent and list operations of one push."""
    outcome = outcome or outcome_of(entry)
    parts: list[str | tuple[str, str]] = [
        (outcome.upper(), OUTCOME_STYLE.get(outcome, "bold")),
        f"  {entry.route.value.upper()} customer {entry.customer_id}"
        f" → profile {entry.profile_id or '-'} at {short_time(entry.at)} ({entry.trigger})",
    ]
    if entry.error_id:
        parts.append(f"\nerror record {entry.error_id} (F6)")
    for consent in entry.consent:
        parts.append(consent_line(consent, outcome))
    for item in entry.lists:
        verb = item.get("action", "?") if outcome == "done" else f"not run: {item.get('action')}"
        parts.append(f"\nlist: {verb} {item.get('list', '?')!r}")
    return Content.assemble(*parts)


def profile_after(entry: HistoryEntry, outcome: str) -> tuple[Any, str]:
    """The profile after the push and the pane's title; unchanged when nothing was written."""
    if entry.after is not None:
        return entry.after, "Profile after"
    if entry.before is not None and outcome != "done":
        return entry.before, "Profile after (unchanged: nothing was written)"
    if entry.profile_id:
        return {"id": entry.profile_id}, "Profile after (not read back after the push)"
    return None, "Profile after"


class HistoryScreen(Screen[None]):
    """Every push of one customer (or the latest pushes), newest first."""

    # Parsed when this screen is first shown, not at start-up with console.tcss; unscoped so
    # the rules read exactly as they did there.
    SCOPED_CSS = False
    DEFAULT_CSS = SIDES_CSS + """
        #history-table { height: 1fr; min-height: 7; border: round $panel-lighten-2; }
        #history-detail { height: 2fr; padding: 0 1; }
        #history-summary { padding: 0 1; height: auto; }
    """

    HELP = "Push history. Type a customer id and Enter; empty shows the latest pushes."
    BINDINGS = [binding("refresh", "reload")]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[str, HistoryEntry] = {}
        self.opened_for: str | None = None

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
        # F7 follows the customer on the lookup screen, not the one history first opened on.
        if current and current != self.opened_for:
            field.value = current
        self.opened_for = current
        self.load(field.value.strip() or None)
        field.focus()
        field.select_all()  # so typing replaces the old id

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
            outcome = outcome_of(entry)
            # Text cells: a DataTable reads plain strings as markup, and these are data.
            table.add_row(
                Text(table_time(entry.at)),  # the full time is in the summary
                Text(entry.customer_id),
                Text(entry.route.value.upper()),
                Text(outcome, style=ROW_STYLE.get(outcome, "")),
                Text(entry.trigger),
                Text(entry.profile_id or "-"),
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
        outcome = outcome_of(entry)
        self.query_one("#history-summary", Static).update(entry_summary(entry, outcome))
        self.query_one("#before", JsonView).show(entry.before)
        after, title = profile_after(entry, outcome)
        pane = self.query_one("#after", JsonView)
        pane.border_title = title
        pane.show(after)
        sent = self.query_one("#sent", JsonView)
        sent.border_title = "Sent" if entry.sent is not None else "Sent: nothing"
        sent.show(entry.sent)
