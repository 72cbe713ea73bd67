"""The Report screen: bars of a template's impact, and drill-down to a customer's preview."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import DataTable, Input

from console.screens.lookup import LookupScreen
from console.screens.report import ReportScreen
from core.engine.report import ImpactReport
from core.plan.report import Report
from tests.ui.helpers import press_and_settle, settle, until
from tests.ui.stub_engine import StubConfig, StubEngine


class ReportingStub(StubEngine):
    """The stub's plans counted as the engine's report counts them."""

    def __init__(self, config: StubConfig) -> None:
        super().__init__(config)
        self.asked: list[tuple[list[str] | None, Path | None]] = []

    async def report(self, ids: list[str] | None, *, template: Path | None = None,
                     compare: Path | None = None, on_progress: Any = None,
                     cancel: Any = None) -> ImpactReport:
        self.asked.append((ids, template))
        found = ImpactReport(Report())
        for cid in ids or ["55260", "1001", "1002", "1003", "1004"]:
            plan = self.plan(cid)
            found.plans[cid] = plan
            found.report.add(plan)
        return found


async def open_report(pilot) -> Input:
    """F12 from the first screen: the Report screen, its ids field returned unfocused."""
    await settle(pilot)
    await press_and_settle(pilot, "f12")
    assert isinstance(pilot.app.screen, ReportScreen)
    return pilot.app.screen.query_one("#report-ids", Input)


async def test_report_shows_bars_and_drills_down_to_a_preview(make_app, tmp_path: Path) -> None:
    stub = ReportingStub(StubConfig(state_dir=tmp_path))
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        (await open_report(pilot)).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert stub.asked == [(None, None)]
        buckets = app.screen.query_one("#report-buckets", DataTable)
        labels = [str(buckets.get_row_at(i)[0]) for i in range(buckets.row_count)]
        counts = dict(zip(labels, (str(buckets.get_row_at(i)[1])
                                   for i in range(buckets.row_count)), strict=True))
        assert counts["route create"] == "1" and counts["route link"] == "2"
        assert counts["blocked: no_identifier"] == "1"

        buckets.move_cursor(row=labels.index("route link"))
        await pilot.press("enter")
        await settle(pilot)
        customers = app.screen.query_one("#report-customers", DataTable)
        assert [str(customers.get_row_at(i)[0]) for i in range(customers.row_count)] == [
            "1002", "1003"]
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, LookupScreen)
                    and app.current_customer == "1003")


async def test_report_takes_ids_and_a_template_file(make_app, tmp_path: Path) -> None:
    stub = ReportingStub(StubConfig(state_dir=tmp_path))
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        (await open_report(pilot)).value = "55260, 1001"
        app.screen.query_one("#report-template", Input).value = str(tmp_path / "t.toml")
        app.screen.query_one("#report-template", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert stub.asked == [(["55260", "1001"], tmp_path / "t.toml")]
        buckets = app.screen.query_one("#report-buckets", DataTable)
        assert buckets.row_count > 4
