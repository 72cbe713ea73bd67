"""The error log: paged table, filters, a plain-words detail pane, retry one or all."""

from __future__ import annotations

import asyncio
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, ProgressBar, Select, Static

from console.keymap import binding
from console.screens.base import Counts, CountsChanged, say, wait_engine
from console.widgets.outcomes import table_time
from console.widgets.screenbar import ScreenBar
from console.widgets.words import FIXES, short_time
from core.model import ErrorKind, ErrorRecord, ErrorStatus

STATUS_CHOICES: list[tuple[str, str]] = [("all statuses", "all"), ("open", "open"),
                                         ("resolved", "resolved")]
KIND_CHOICES: list[tuple[str, str]] = [("every kind", "all")] + [
    (kind.value.replace("_", " "), kind.value) for kind in ErrorKind
]


class ErrorsLoaded(Message):
    def __init__(self, records: list[ErrorRecord], total: int) -> None:
        super().__init__()
        self.records = records
        self.total = total


class RetryFinished(Message):
    def __init__(self, summary: str, severity: str) -> None:
        super().__init__()
        self.summary = summary
        self.severity = severity


def detail_text(record: ErrorRecord) -> Content:
    """Cause and fix in plain words, every attempt oldest first, then the facts to quote."""
    status_style = "bold $success" if record.status is ErrorStatus.RESOLVED else "bold $error"
    attempts = record.attempts
    parts: list[str | tuple[str, str]] = [
        (f"{record.status.value.upper()}", status_style),
        f"  {record.kind.value} at {record.stage.value} · customer {record.customer_id}"
        f" · {len(attempts)} attempt(s)\n\n",
        ("What happened: ", "bold"), f"{record.headline()}\n\n",
    ]
    first = attempts[0] if attempts else None
    if first is not None and (first.kind, first.message) != (record.kind.value,
                                                               record.message):
        parts += [("First cause: ", "bold"), f"{first.kind}: {first.message}\n\n"]
    parts += [
        ("How to fix: ", "bold"), f"{FIXES[record.kind]}\n\n",
        # Not "Retry will:": the words are often what to fix before a retry can succeed.
        ("Retry: ", "bold"), f"{record.retry_action or 'run the push again'}\n",
    ]
    confirmed = getattr(record, "confirmed", None)
    if confirmed:
        parts.append(("\nConsent confirmed: ", "bold"))
        parts.append("retry carries the confirmation while the plan's consent operations stay "
                     "the same; a changed plan is held again.\n")
    if attempts:
        parts.append(("\nAttempts, oldest first:\n", "bold"))
        for number, attempt in enumerate(attempts, 1):
            parts.append((f"{number}. {short_time(attempt.at)} {attempt.kind}", "$text-muted"))
            earlier = attempts[number - 2] if number > 1 else None
            if earlier is not None and (earlier.kind, earlier.message) == (attempt.kind,
                                                                            attempt.message):
                parts.append(": the same again\n")
            else:
                parts.append(f": {attempt.message}\n")
    facts = [
        ("error id", record.id), ("http status", record.http_status), ("code", record.code),
        ("profile", record.profile_id), ("detail", record.detail),
        ("first seen", short_time(record.created_at)), ("last seen", short_time(record.updated_at)),
    ]
    parts.append("\n")
    for name, value in facts:
        if value not in (None, ""):
            parts.append((f"{name}: ", "$text-muted"))
            parts.append(f"{value}\n")
    return Content.assemble(*parts).rstrip()


def retry_words(what: str, counts: Counts, held_again: list[ErrorRecord]) -> str:
    """The summary of a retry, naming why each record the guard held again was held."""
    if counts.finished == 0:
        return "Nothing to retry: no error record is open."
    summary = (f"Retried {what}: {counts.done} resolved, {counts.failed} failed, "
               f"{counts.held} held by the consent guard.")
    for record in held_again[:3]:
        summary += f"\nHeld again, customer {record.customer_id}: {record.message}"
    if len(held_again) > 3:
        summary += f"\n… and {len(held_again) - 3} more (filter kind: consent guard)."
    return summary


class ErrorsScreen(Screen[None]):
    """Browse failures, read the cause and the fix, retry one or every open record."""

    # Parsed when this screen is first shown, not at start-up with console.tcss; unscoped so
    # the rules read exactly as they did there.
    SCOPED_CSS = False
    DEFAULT_CSS = """
        #filters { height: 3; padding: 0 1; }
        #filters Select { width: 26; }
        Screen.-narrow #filters Select { width: 23; }
        Screen.-narrow .filter-label { display: none; }
        .filter-label { padding: 1 1 0 1; }
        #page-info { padding: 1 2 0 2; width: 1fr; color: $text-muted; }
        #errors-body { height: 1fr; }
        #error-table { width: 3fr; height: 1fr; }
        #error-side {
            width: 2fr;
            height: 1fr;
            border: round $panel-lighten-2;
            border-title-color: $text-muted;
            padding: 0 1;
        }
        #error-detail { height: 1fr; }
        #retry-progress { height: 1; }
        Screen.-narrow #errors-body { layout: vertical; }
        Screen.-narrow #error-table { width: 100%; height: 1fr; }
        /* Stacked at 80x24, the cause and the fix need the rows more than the table does. */
        Screen.-narrow #error-side { width: 100%; height: 2fr; }
    """

    HELP = "The error log. r retries the highlighted record, a retries every open one."
    BINDINGS = [
        binding("retry", "retry"),
        binding("retry-all", "retry_all"),
        binding("next-page", "page(1)"),
        binding("previous-page", "page(-1)"),
        binding("filter-kind", "cycle_kind"),
        binding("filter-status", "cycle_status"),
        binding("refresh", "reload", show=False),
    ]
    PAGE_SIZE = 50

    page: reactive[int] = reactive(0, init=False, bindings=True)  # the page keys follow it
    retrying: reactive[bool] = reactive(False, bindings=True)

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, ErrorRecord] = {}
        self.total = 0
        self.pages_shown = 1

    def compose(self) -> ComposeResult:
        yield ScreenBar("errors")
        with Horizontal(id="filters"):
            yield Label("Kind", classes="filter-label")
            yield Select(KIND_CHOICES, value="all", allow_blank=False, id="kind")
            yield Label("Status", classes="filter-label")
            yield Select(STATUS_CHOICES, value="all", allow_blank=False, id="status-filter")
            yield Static("", id="page-info")
        with Horizontal(id="errors-body", classes="panes"):
            yield DataTable(id="error-table", cursor_type="row", zebra_stripes=True)
            with Vertical(id="error-side"):
                yield Static("Select a record to see the cause and the fix.", id="error-detail")
                yield ProgressBar(id="retry-progress", show_eta=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        # The stage is in the detail pane; without it the dates fit at 120 columns.
        for label in ("id", "customer", "kind", "status", "tries", "last seen", "message"):
            table.add_column(label, key=label)
        self.query_one("#error-side").border_title = "Cause and fix"
        self.query_one("#retry-progress").display = False
        table.focus()

    def on_screen_resume(self) -> None:
        self.query_one(DataTable).focus()
        self.load()

    # ------------------------------------------------------------------------ loading

    def filters(self) -> tuple[ErrorStatus | None, ErrorKind | None]:
        status = self.query_one("#status-filter", Select).value
        kind = self.query_one("#kind", Select).value
        return (
            None if status in ("all", Select.NULL) else ErrorStatus(str(status)),
            None if kind in ("all", Select.NULL) else ErrorKind(str(kind)),
        )

    @work(exclusive=True, group="errors-load", exit_on_error=False)
    async def load(self) -> None:
        status, kind = self.filters()
        offset = self.page * self.PAGE_SIZE
        try:
            engine = await wait_engine(self.app)
            # The store is synchronous (TinyDB): read it off the event loop.
            records, total = await asyncio.to_thread(
                lambda: (engine.errors.query(status=status, kind=kind, offset=offset,
                                             limit=self.PAGE_SIZE),
                         engine.errors.count(status=status, kind=kind)))
        except Exception as exc:
            self.notify(say(exc), title="Error log unavailable", severity="error",
                        markup=False)
            return
        self.post_message(ErrorsLoaded(records, total))

    def on_errors_loaded(self, message: ErrorsLoaded) -> None:
        self.total = message.total
        pages = max(1, -(-message.total // self.PAGE_SIZE))
        if self.page >= pages:
            self.page = pages - 1
            return
        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear()
        self.records = {r.id: r for r in message.records}
        for record in message.records:
            resolved = record.status is ErrorStatus.RESOLVED
            # Text cells: a DataTable reads plain strings as markup, and these are data.
            table.add_row(
                Text(record.id),
                Text(record.customer_id),
                Text(record.kind.value),
                Text(record.status.value, style="green" if resolved else "bold red"),
                Text(str(len(record.attempts))),
                Text(table_time(record.updated_at)),
                Text(record.headline()),
                key=record.id,
            )
        if message.records:
            table.move_cursor(row=min(keep, len(message.records) - 1))
        else:
            self.query_one("#error-detail", Static).update("No error records match.")
        self.query_one("#page-info", Static).update(
            f"page {self.page + 1} of {pages} · {message.total} record(s)")
        if pages != self.pages_shown:
            self.pages_shown = pages
            self.refresh_bindings()  # next/previous page may have become (un)available

    def watch_page(self) -> None:
        self.load()

    @on(Select.Changed)
    def filter_changed(self) -> None:
        if self.page:
            self.page = 0
        else:
            self.load()

    @on(DataTable.RowHighlighted, "#error-table")
    def show_detail(self, event: DataTable.RowHighlighted) -> None:
        record = self.records.get(str(event.row_key.value))
        if record is not None:
            self.query_one("#error-detail", Static).update(detail_text(record))

    def highlighted(self) -> ErrorRecord | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return self.records.get(str(key.value))

    # ------------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("retry", "retry_all") and self.retrying:
            return None
        if action == "page":
            step = int(str(parameters[0])) if parameters else 0
            pages = max(1, -(-self.total // self.PAGE_SIZE))
            if not 0 <= self.page + step < pages:
                # Hidden, not greyed: at 80 columns the two page keys pushed Quit off the footer.
                return False
        return True

    def action_page(self, step: int) -> None:
        pages = max(1, -(-self.total // self.PAGE_SIZE))
        self.page = max(0, min(pages - 1, self.page + step))

    def action_cycle_kind(self) -> None:
        self.cycle_filter("#kind", KIND_CHOICES)

    def action_cycle_status(self) -> None:
        self.cycle_filter("#status-filter", STATUS_CHOICES)

    def cycle_filter(self, selector: str, choices: list[tuple[str, str]]) -> None:
        select: Select[str] = self.query_one(selector, Select)
        values = [value for _label, value in choices]
        current = str(select.value) if select.value in values else values[0]
        select.value = values[(values.index(current) + 1) % len(values)]

    def action_reload(self) -> None:
        self.load()

    def action_retry(self) -> None:
        record = self.highlighted()
        if record is None:
            self.notify("No error record selected.", severity="warning")
            return
        if record.status is ErrorStatus.RESOLVED:
            self.notify(f"Error {record.id} is already resolved.", severity="information")
            return
        self.retrying = True
        self.retry([record.id])

    def action_retry_all(self) -> None:
        self.retrying = True
        self.retry(None)

    @work(group="retry", exit_on_error=False)
    async def retry(self, error_ids: list[str] | None) -> None:
        """Retry one record or every open one; progress arrives as CountsChanged."""
        bar = self.query_one("#retry-progress", ProgressBar)
        bar.display = error_ids is None
        bar.update(total=None, progress=0)
        try:
            engine = await wait_engine(self.app)
            final = await engine.retry(
                error_ids, on_progress=lambda p: self.post_message(CountsChanged(Counts.of(p))))
        except Exception as exc:
            self.post_message(RetryFinished(f"Retry failed: {say(exc)}", "error"))
            return
        counts = Counts.of(final)
        what = f"error {error_ids[0]}" if error_ids else "all open errors"
        held_again: list[ErrorRecord] = []
        if counts.held:
            held_again = await asyncio.to_thread(
                lambda: engine.errors.query(status=ErrorStatus.OPEN,
                                            kind=ErrorKind.CONSENT_GUARD, limit=50))
            if error_ids:
                held_again = [r for r in held_again if r.id in error_ids] or held_again[:1]
        summary = retry_words(what, counts, held_again)
        severity = "information" if not (counts.failed or counts.held) else "warning"
        self.post_message(RetryFinished(summary, severity))

    def on_counts_changed(self, message: CountsChanged) -> None:
        bar = self.query_one("#retry-progress", ProgressBar)
        bar.update(total=message.counts.total, progress=message.counts.finished)

    def on_retry_finished(self, message: RetryFinished) -> None:
        self.retrying = False
        self.query_one("#retry-progress").display = False
        severity: Any = message.severity
        # Long enough to read why a record was held again.
        self.notify(message.summary, title="Retry", severity=severity, markup=False,
                    timeout=15 if message.severity != "information" else 5)
        self.load()
