"""The impact report: what a template would do across many customers, as bar charts, with
drill-down from a bucket to its customers' previews. Writes nothing anywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.bar import Bar
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, ProgressBar, Static

from console.keymap import binding
from console.screens.base import say, wait_engine
from console.widgets.screenbar import ScreenBar


class ReportReady(Message):
    def __init__(self, found: Any) -> None:
        super().__init__()
        self.found = found


class ReportProgress(Message):
    def __init__(self, processed: int, total: int | None) -> None:
        super().__init__()
        self.processed = processed
        self.total = total


def buckets(body: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(bucket key, label, count) of a report --json body, in reading order."""
    out = [(f"routes.{name}", f"route {name}", n) for name, n in body["routes"].items()]
    out += [(f"blocked.{name}", f"blocked: {name}", n) for name, n in body["blocked"].items()]
    out += [(f"consent.{name}", f"consent {name}", n) for name, n in body["consent"].items()]
    out.append(("confirm_needed", "needs confirmation", body["confirm_needed"]))
    for name, counts in body["lists"].items():
        out += [(f"lists.{name}.{a}", f"list {name}: {a}", n) for a, n in counts.items() if n]
    for name, counts in body["fields"].items():
        out += [(f"fields.{name}.{c}", f"{name} {c}", n) for c, n in counts.items() if n]
    return out


READY = ("Enter in either field runs the report. Nothing is written: no history, no error "
         "records, no links, no pushes.")


class ReportScreen(Screen[None]):
    """Counts of every chosen customer's plan as bars; Enter on a bucket lists its customers,
    Enter on a customer opens its preview."""

    SCOPED_CSS = False
    DEFAULT_CSS = """
        #report-bar Input { width: 1fr; }
        #report-progress { height: 1; margin: 0 1; }
        #report-status { height: auto; padding: 0 1; }
        #report-buckets { height: 2fr; min-height: 5; border: round $panel-lighten-2; }
        #report-customers { height: 1fr; min-height: 4; border: round $panel-lighten-2; }
    """
    HELP = ("Impact report: customer ids (empty: all) and optionally a template file, then "
            "Enter. Nothing is written. Enter on a bucket lists its customers; Enter on one "
            "opens its preview.")
    BINDINGS = [binding("refresh", "run_report")]

    def __init__(self) -> None:
        super().__init__()
        self.found: Any = None

    def compose(self) -> ComposeResult:
        yield ScreenBar("report")
        with Horizontal(id="report-bar"):
            # Short enough to read whole at 80 columns; the status line says how to run it.
            yield Input(placeholder="Customer ids (empty: all)", id="report-ids")
            yield Input(placeholder="Template file (empty: current)", id="report-template")
        yield ProgressBar(id="report-progress", show_eta=False)
        yield Static(READY, id="report-status")
        yield DataTable(id="report-buckets", cursor_type="row", zebra_stripes=True)
        yield DataTable(id="report-customers", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#report-buckets", DataTable)
        table.add_column("bucket", key="bucket")
        table.add_column("customers", key="n")
        table.add_column("", key="bar", width=30)
        table.border_title = "Impact"
        customers = self.query_one("#report-customers", DataTable)
        customers.add_column("customer", key="customer")
        customers.add_column("route", key="route")
        customers.add_column("reason", key="reason")
        customers.border_title = "Customers (Enter: preview)"
        self.query_one("#report-progress").display = False

    @on(Input.Submitted)
    def submitted(self, _event: Input.Submitted) -> None:
        self.action_run_report()

    def action_run_report(self) -> None:
        ids = self.query_one("#report-ids", Input).value.replace(",", " ").split()
        template = self.query_one("#report-template", Input).value.strip()
        self.run_report(ids or None, Path(template).expanduser() if template else None)

    @work(exclusive=True, group="report", exit_on_error=False)
    async def run_report(self, ids: list[str] | None, template: Path | None) -> None:
        progress = self.query_one("#report-progress", ProgressBar)
        progress.display = True
        progress.update(total=len(ids) if ids else None, progress=0)
        self.query_one("#report-status", Static).update("Planning… (nothing is written)")
        try:
            engine: Any = await wait_engine(self.app)
            found = await engine.report(ids, template=template, on_progress=lambda p:
                                        self.post_message(ReportProgress(p.processed,
                                                                         p.total)))
        except Exception as exc:
            progress.display = False
            self.query_one("#report-status", Static).update(f"Report failed: {say(exc)}")
            self.notify(say(exc), title="Report failed", severity="error", markup=False)
            return
        self.post_message(ReportReady(found))

    def on_report_progress(self, message: ReportProgress) -> None:
        self.query_one("#report-progress", ProgressBar).update(
            total=message.total, progress=message.processed)

    def on_report_ready(self, message: ReportReady) -> None:
        self.found = message.found
        self.query_one("#report-progress").display = False
        body = self.found.report.to_json()
        scale = max(body["customers"], 1)
        table = self.query_one("#report-buckets", DataTable)
        table.clear()
        for key, label, count in buckets(body):
            table.add_row(label, str(count), Bar(scale, 0, count, color="cyan"), key=key)
        self.query_one("#report-status", Static).update(
            f"{body['customers']} customers planned; nothing was written. "
            "Enter on a bucket lists its customers.")
        table.focus()

    @on(DataTable.RowSelected, "#report-buckets")
    def bucket_selected(self, event: DataTable.RowSelected) -> None:
        self.show_bucket(str(event.row_key.value))

    def show_bucket(self, bucket: str) -> None:
        """List the bucket's sample customers with their route and reason."""
        if self.found is None:
            return
        customers = self.query_one("#report-customers", DataTable)
        customers.clear()
        for cid in self.found.report.bucket_ids(bucket):
            plan = self.found.plans.get(cid)
            customers.add_row(cid, plan.route.value if plan else "?",
                              plan.reason if plan else "", key=cid)
        customers.border_title = f"{bucket}: sample customers (Enter: preview)"
        customers.focus()

    @on(DataTable.RowSelected, "#report-customers")
    def customer_selected(self, event: DataTable.RowSelected) -> None:
        preview = getattr(self.app, "preview_customer", None)
        if preview is not None:
            preview(str(event.row_key.value))
