"""The impact report: what a template would do across many customers, as bar charts, with
drill-down from a bucket to its customers' previews; with a second template, both side by side
and the customers whose plan differs. Writes nothing anywhere."""

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
from console.widgets.words import not_ids_refusal, parse_ids
from core.model import Plan
from core.plan.diff import flatten

# The bucket of customers whose plan differs between the two templates.
DIFFERING = "differing"
# Customers listed for one bucket at most; the CSV export has every one.
LISTED = 500


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


def compare_buckets(body: dict[str, Any],
                    other: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    """(bucket key, label, count under the template, count under the compared one), every
    bucket of either report, in the template's reading order."""
    mine = {key: (label, n) for key, label, n in buckets(body)}
    theirs = {key: (label, n) for key, label, n in buckets(other)}
    keys = [*mine, *(key for key in theirs if key not in mine)]
    return [(key, (mine.get(key) or theirs[key])[0], mine.get(key, ("", 0))[1],
             theirs.get(key, ("", 0))[1]) for key in keys]


def delta(first: int, second: int) -> str:
    """The compared count against the template's: +3, -2, or = when the same."""
    return "=" if first == second else f"{second - first:+d}"


def _attributes(plan: Plan) -> dict[str, Any]:
    data = (plan.payload or {}).get("data") or {}
    return flatten(data.get("attributes"))


def plan_differences(first: Plan, second: Plan) -> str:
    """What a push would do differently under the second template, in a few words."""
    parts: list[str] = []
    if first.route is not second.route:
        parts.append(f"route {first.route.value} → {second.route.value}")
    mine, theirs = _attributes(first), _attributes(second)
    fields = sorted(name for name in mine.keys() | theirs.keys()
                    if mine.get(name) != theirs.get(name))
    if fields:
        parts.append("fields " + ", ".join(fields))
    one, two = first.to_json(), second.to_json()
    parts += [name for name in ("consent", "lists", "guard", "errors") if one[name] != two[name]]
    return "; ".join(parts) or "the request sent"


READY = ("Enter in any field runs the report: customer ids (empty: all), a template file "
         "(empty: the current one) and optionally a template to compare with. Nothing is "
         "written: no history, no error records, no links, no pushes.")


class ReportScreen(Screen[None]):
    """Counts of every chosen customer's plan as bars; Enter on a bucket lists its customers,
    Enter on a customer opens its preview."""

    SCOPED_CSS = False
    DEFAULT_CSS = """
        #report-bar Input { width: 1fr; }
        #report-progress { height: 1; margin: 0 1; }
        #report-status { height: auto; padding: 0 1; }
        #report-buckets { height: 1fr; min-height: 5; border: round $panel-lighten-2; }
        /* As tall as its customers, up to half the screen: a third showed one at 80x24. */
        #report-customers {
            height: auto; max-height: 50%; min-height: 4; border: round $panel-lighten-2;
        }
    """
    HELP = ("Impact report: customer ids (empty: all), optionally a template file and a second "
            "one to compare, then Enter. Nothing is written. Enter on a bucket lists its "
            "customers; Enter on one opens its preview.")
    BINDINGS = [binding("refresh", "run_report")]

    def __init__(self) -> None:
        super().__init__()
        self.found: Any = None
        self.bucket_labels: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield ScreenBar("report")
        with Horizontal(id="report-bar"):
            # Short enough to read whole at 80 columns; the status line says how to run it.
            yield Input(placeholder="Customer ids (all)", id="report-ids")
            yield Input(placeholder="Template (current)", id="report-template")
            yield Input(placeholder="Compare with (none)", id="report-compare")
        yield ProgressBar(id="report-progress", show_eta=False)
        yield Static(READY, id="report-status")
        yield DataTable(id="report-buckets", cursor_type="row", zebra_stripes=True)
        yield DataTable(id="report-customers", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.bucket_columns(compared=False)
        customers = self.query_one("#report-customers", DataTable)
        customers.add_column("customer", key="customer")
        customers.add_column("route", key="route")
        customers.add_column("reason", key="reason")
        customers.border_title = "Customers (Enter: preview)"
        self.query_one("#report-progress").display = False

    def on_screen_resume(self) -> None:
        # Back on the screen, the ids field with its old text selected, so typing replaces it.
        field = self.query_one("#report-ids", Input)
        field.focus()
        field.select_all()

    @on(Input.Submitted)
    def submitted(self, _event: Input.Submitted) -> None:
        self.action_run_report()

    def bucket_columns(self, *, compared: bool) -> None:
        """One count and bar per template: the candidate's, and the compared one's beside it."""
        table = self.query_one("#report-buckets", DataTable)
        table.clear(columns=True)
        table.add_column("bucket", key="bucket")
        if compared:
            table.add_column("template", key="n")
            table.add_column("compare", key="m")
            table.add_column("Δ", key="delta")
            table.add_column("", key="bar", width=10)
            table.add_column("", key="bar2", width=10)
        else:
            table.add_column("count", key="n")  # consent rows count operations, not customers
            table.add_column("", key="bar", width=30)
        table.border_title = "Impact"

    def action_run_report(self) -> None:
        ids = parse_ids(self.query_one("#report-ids", Input).value)
        refusal = not_ids_refusal(ids, "no report was run")
        if refusal:
            self.query_one("#report-status", Static).update(refusal)
            self.notify(refusal, severity="warning", markup=False)
            return
        template = self.query_one("#report-template", Input).value.strip()
        compare = self.query_one("#report-compare", Input).value.strip()
        self.run_report(ids or None, Path(template).expanduser() if template else None,
                        Path(compare).expanduser() if compare else None)

    @work(exclusive=True, group="report", exit_on_error=False)
    async def run_report(self, ids: list[str] | None, template: Path | None,
                         compare: Path | None = None) -> None:
        progress = self.query_one("#report-progress", ProgressBar)
        progress.display = True
        progress.update(total=len(ids) if ids else None, progress=0)
        self.query_one("#report-status", Static).update("Planning… (nothing is written)")
        try:
            engine: Any = await wait_engine(self.app)
            found = await engine.report(ids, template=template, compare=compare,
                                        on_progress=lambda p: self.post_message(
                                            ReportProgress(p.processed, p.total)))
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
        compared = getattr(self.found, "compared", None)
        self.bucket_columns(compared=compared is not None)
        table = self.query_one("#report-buckets", DataTable)
        self.query_one("#report-customers", DataTable).clear()
        rows = buckets(body) if compared is None else compare_buckets(body, compared.to_json())
        self.bucket_labels = {row[0]: row[1] for row in rows}
        if compared is None:
            for key, label, count in buckets(body):
                table.add_row(label, str(count), Bar(scale, 0, count, color="cyan"), key=key)
            status = f"{body['customers']} customers planned"
        else:
            differing = len(self.found.differing)
            table.add_row("plans differ", str(differing), "", "", Bar(scale, 0, differing,
                          color="yellow"), "", key=DIFFERING)
            for key, label, n, m in compare_buckets(body, compared.to_json()):
                table.add_row(label, str(n), str(m), delta(n, m),
                              Bar(scale, 0, n, color="cyan"), Bar(scale, 0, m, color="magenta"),
                              key=key)
            table.border_title = "Impact: template (cyan) and compared (magenta)"
            status = (f"{body['customers']} customers planned under both templates; "
                      f"{differing} plans differ")
        self.query_one("#report-status", Static).update(
            f"{status}; nothing was written. Enter on a bucket lists its customers.")
        table.focus()

    @on(DataTable.RowSelected, "#report-buckets")
    def bucket_selected(self, event: DataTable.RowSelected) -> None:
        self.show_bucket(str(event.row_key.value))

    def show_bucket(self, bucket: str) -> None:
        """List the bucket's sample customers with their route and reason; the customers whose
        plan differs with what differs."""
        if self.found is None:
            return
        customers = self.query_one("#report-customers", DataTable)
        customers.clear()
        compared = getattr(self.found, "compared", None)
        others: dict[str, Plan] = getattr(self.found, "compared_plans", {})
        if bucket == DIFFERING:
            ids = list(self.found.differing)
            title = f"plans differ: {len(ids)} customers"
        else:
            ids = self.found.report.bucket_ids(bucket)
            if compared is not None:
                ids += [cid for cid in compared.bucket_ids(bucket) if cid not in ids]
            title = f"{self.bucket_labels.get(bucket, bucket)}: sample customers"
        for cid in ids[:LISTED]:
            plan = self.found.plans.get(cid)
            other = others.get(cid)
            route = plan.route.value if plan else "?"
            reason = plan.reason if plan else ""
            if plan is not None and other is not None and bucket == DIFFERING:
                if other.route is not plan.route:
                    route = f"{plan.route.value} → {other.route.value}"
                reason = plan_differences(plan, other)
            customers.add_row(cid, route, reason, key=cid)
        shown = f" (first {LISTED})" if len(ids) > LISTED else ""
        customers.border_title = f"{title}{shown} (Enter: preview)"
        customers.focus()

    @on(DataTable.RowSelected, "#report-customers")
    def customer_selected(self, event: DataTable.RowSelected) -> None:
        preview = getattr(self.app, "preview_customer", None)
        if preview is not None:
            preview(str(event.row_key.value))
