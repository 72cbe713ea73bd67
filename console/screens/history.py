"""Push history: what was pushed for a customer, when, and the profile before and after; mark
pushes and undo them."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

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
from console.screens.undo_dialog import Choice, UndoConfirmScreen, UndoOutcomeScreen
from console.widgets.outcomes import OUTCOME_STYLE, outcome_of, table_time
from console.widgets.preview import SIDES_CSS, JsonView
from console.widgets.screenbar import ScreenBar
from console.widgets.words import short_time
from core.model import HistoryEntry

if TYPE_CHECKING:
    from core.engine.undo import UndoResult

ROW_STYLE = {"done": "green", "failed": "bold red", "held": "bold yellow"}
MARK = Text("✓", style="bold cyan")


class HistoryLoaded(Message):
    def __init__(self, customer_id: str | None, entries: list[HistoryEntry]) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.entries = entries


class UndoPlanned(Message):
    """The undos of the chosen pushes, planned and not yet run (`error`: why they were not)."""

    def __init__(self, ids: list[str], results: list[UndoResult],
                 error: str | None = None) -> None:
        super().__init__()
        self.ids = ids
        self.results = results
        self.error = error


class UndoFinished(Message):
    """The undo run is over (results empty when it could not run; `error` says why)."""

    def __init__(self, results: list[UndoResult], error: str | None = None) -> None:
        super().__init__()
        self.results = results
        self.error = error


class HistoryTable(DataTable[Any]):
    """The pushes, one a row; marking keys act here, where the typing field cannot take them."""

    BINDINGS = [binding("history-mark", "screen.toggle_mark"),
                binding("history-mark-all", "screen.mark_all")]


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

    HELP = ("Push history. Type a customer id and Enter; empty shows the latest pushes. In the "
            "table, mark pushes to undo several at once; undo asks first.")
    BINDINGS = [binding("refresh", "reload"), binding("undo", "undo")]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[str, HistoryEntry] = {}
        self.marked: set[str] = set()
        self.shown_for = "all customers"
        self.undoing = False
        self.opened_for: str | None = None
        self.focus_table = False  # Enter in the field: the table takes the focus once loaded

    def compose(self) -> ComposeResult:
        yield ScreenBar("history")
        with Horizontal(id="lookup-bar"):
            yield Input(placeholder="Customer id (empty: latest pushes), then Enter",
                        id="history-customer")
        yield HistoryTable(id="history-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="history-detail"):
            yield Static("", id="history-summary")
            with Horizontal(id="history-sides", classes="sides"):
                yield JsonView(id="before", classes="side")
                yield JsonView(id="after", classes="side")
            yield JsonView(id="sent", classes="side")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column(" ", key="mark", width=1)
        for label in ("when", "customer", "route", "outcome", "trigger", "id", "profile"):
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
        self.focus_table = True
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
        self.marked &= set(self.entries)  # marks stay only on pushes still shown
        for entry in message.entries:
            outcome = outcome_of(entry)
            # Text cells: a DataTable reads plain strings as markup, and these are data.
            table.add_row(
                MARK if entry.id in self.marked else Text(""),
                Text(table_time(entry.at)),  # the full time is in the summary
                Text(entry.customer_id),
                Text(entry.route.value.upper()),
                Text(outcome, style=ROW_STYLE.get(outcome, "")),
                Text(entry.trigger),
                Text(entry.id),
                Text(entry.profile_id or "-"),
                key=entry.id,
            )
        who = f"customer {message.customer_id}" if message.customer_id else "all customers"
        self.shown_for = who
        self.show_marked()
        detail = self.query_one("#history-detail")
        detail.display = bool(message.entries)
        self.refresh_bindings()
        if self.focus_table and message.entries:
            table.focus()  # so space marks and the arrows move at once
        self.focus_table = False
        if not message.entries:
            self.notify(f"No pushes recorded for {who}.", severity="information")

    def show_marked(self) -> None:
        """The table's title: how many pushes are shown and how many are marked."""
        title = f"Pushes for {self.shown_for}: {len(self.entries)}"
        if self.marked:
            title += f" · {len(self.marked)} marked for undo"
        self.query_one(DataTable).border_title = title

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The footer shows only the keys that act now: nothing to mark or undo, no key.
        if action in ("undo", "toggle_mark", "mark_all"):
            return bool(self.entries) and not (action == "undo" and self.undoing)
        return True

    def highlighted_id(self) -> str | None:
        table = self.query_one(DataTable)
        if not self.entries or table.cursor_row < 0 or table.cursor_row >= table.row_count:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return str(row_key.value)

    def set_marks(self, ids: set[str]) -> None:
        table = self.query_one(DataTable)
        for history_id in self.entries:
            if (history_id in ids) != (history_id in self.marked):
                table.update_cell(history_id, "mark", MARK if history_id in ids else Text(""))
        self.marked = set(ids)
        self.show_marked()

    def action_toggle_mark(self) -> None:
        history_id = self.highlighted_id()
        if history_id is not None:
            self.set_marks(self.marked ^ {history_id})
            self.query_one(DataTable).action_cursor_down()

    def action_mark_all(self) -> None:
        """Mark every push shown, or clear the marks when all are marked already."""
        self.set_marks(set() if self.marked >= set(self.entries) else set(self.entries))

    def action_undo(self) -> None:
        """Plan the undo of the marked pushes (else the highlighted one) and ask first."""
        ids = [i for i in self.entries if i in self.marked]
        if not ids:
            highlighted = self.highlighted_id()
            ids = [highlighted] if highlighted else []
        if not ids or self.undoing:
            return
        self.query_one(DataTable).border_subtitle = (
            f"planning the undo of {len(ids)}… nothing is written yet")
        self.plan_undo(ids)

    @work(exclusive=True, group="history-undo-plan", exit_on_error=False)
    async def plan_undo(self, ids: list[str]) -> None:
        try:
            engine: Any = await wait_engine(self.app)
            # Reversals planned too, so the dialog can show the guard's reasons for them.
            results = await engine.undo(ids, apply=False, reverse_consent=True)
        except Exception as exc:
            self.post_message(UndoPlanned(ids, [], error=say(exc)))
            return
        self.post_message(UndoPlanned(ids, list(results)))

    def on_undo_planned(self, message: UndoPlanned) -> None:
        self.query_one(DataTable).border_subtitle = ""
        if message.error is not None:
            self.notify(message.error, title="Undo not planned", severity="error",
                        markup=False)
            return

        def chosen(choice: Choice) -> None:
            if choice is not None:
                self.undoing = True
                self.refresh_bindings()
                self.run_undo(message.ids, reverse_consent=choice == "consent")

        self.app.push_screen(UndoConfirmScreen(message.results, dict(self.entries)), chosen)

    @work(group="history-undo-run", exit_on_error=False)
    async def run_undo(self, ids: list[str], *, reverse_consent: bool) -> None:
        try:
            engine: Any = await wait_engine(self.app)
            # The operator confirmed in the dialog; each undo re-plans on the profile as it is.
            results = await engine.undo(ids, apply=True, confirmed=reverse_consent,
                                        reverse_consent=reverse_consent)
        except Exception as exc:
            self.post_message(UndoFinished([], error=say(exc)))
            return
        self.post_message(UndoFinished(list(results)))

    def on_undo_finished(self, message: UndoFinished) -> None:
        self.undoing = False
        self.refresh_bindings()
        if message.error is not None:
            self.notify(message.error, title="Undo failed", severity="error", markup=False)
        else:
            self.set_marks(set())
            self.app.push_screen(UndoOutcomeScreen(message.results))
        self.action_reload()

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
