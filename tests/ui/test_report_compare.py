"""The Report screen with a second template: both counts side by side with deltas, the
customers whose plan differs and what differs, each drillable to its preview."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input

from console.app import ConsoleApp
from console.screens.lookup import LookupScreen
from console.screens.report import ReportScreen
from core.engine.report import ImpactReport
from core.mapping import NO_IDENTIFIER
from core.model import ErrorKind, Plan, Route
from core.plan.report import Report
from tests.ui.helpers import settle, until
from tests.ui.stub_engine import StubConfig, StubEngine, stub_factory

SIZES = {"80x24": (80, 24), "120x36": (120, 36)}
EVERYONE = ["55260", "1001", "1002", "1003", "1004"]


class ComparingStub(StubEngine):
    """Under the compared template 55260's first name is upper-cased and its consent gone,
    and 1002 has no identifier; the other plans are the same."""

    def __init__(self, config: StubConfig) -> None:
        super().__init__(config)
        self.asked: list[tuple[Path | None, Path | None]] = []

    def compared_plan(self, cid: str) -> Plan:
        plan = self.plan(cid)
        if cid == "55260":
            assert plan.payload is not None
            data = plan.payload["data"]
            attributes = {**data["attributes"], "first_name": "ANN"}
            return replace(plan, payload={"data": {**data, "attributes": attributes}},
                           consent=())
        if cid == "1002":
            return Plan(cid, Route.BLOCKED, "no identifier under the compared template",
                        errors=(NO_IDENTIFIER,), error_kind=ErrorKind.NO_IDENTIFIER)
        return plan

    async def report(self, ids: list[str] | None, *, template: Path | None = None,
                     compare: Path | None = None, on_progress: Any = None,
                     cancel: Any = None) -> ImpactReport:
        self.asked.append((template, compare))
        found = ImpactReport(Report(), compared=Report() if compare else None)
        for cid in ids or EVERYONE:
            plan = self.plan(cid)
            found.plans[cid] = plan
            found.report.add(plan)
            if found.compared is not None:
                other = self.compared_plan(cid)
                found.compared_plans[cid] = other
                found.compared.add(other)
        return found


def comparing_app(tmp_path: Path) -> tuple[ComparingStub, ConsoleApp]:
    stub = ComparingStub(StubConfig(state_dir=tmp_path))
    app = ConsoleApp(stub.config, engine_factory=stub_factory(stub), keymap={},
                     recent_path=tmp_path / "recent.json")
    return stub, app


async def compare_report(pilot) -> None:
    """Report every customer under the current template against candidate.toml."""
    await settle(pilot)
    await pilot.press("f12")
    await settle(pilot)
    pilot.app.screen.query_one("#report-compare", Input).value = "candidate.toml"
    pilot.app.screen.query_one("#report-compare", Input).focus()
    await pilot.press("enter")
    await settle(pilot)


def rows(table: DataTable) -> dict[str, list[str]]:
    out = {}
    for index in range(table.row_count):
        cells = [str(cell) for cell in table.get_row_at(index)]
        out[cells[0]] = cells[1:]
    return out


async def test_both_templates_side_by_side_and_the_customers_whose_plan_differs(
        tmp_path: Path) -> None:
    stub, app = comparing_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await compare_report(pilot)
        assert stub.asked == [(None, Path("candidate.toml"))]
        screen = app.screen
        assert isinstance(screen, ReportScreen)
        buckets = screen.query_one("#report-buckets", DataTable)
        counts = rows(buckets)
        assert counts["plans differ"][0] == "2"
        assert counts["route link"][:3] == ["2", "1", "-1"]
        assert counts["blocked: no_identifier"][:3] == ["1", "2", "+1"]
        assert counts["route create"][:3] == ["1", "1", "="]
        assert "both templates; 2 plans differ" in str(
            screen.query_one("#report-status").render())

        buckets.move_cursor(row=0)
        await pilot.press("enter")
        await settle(pilot)
        customers = screen.query_one("#report-customers", DataTable)
        listed = rows(customers)
        assert list(listed) == ["55260", "1002"]
        assert listed["55260"] == ["update", "fields first_name; consent"]
        assert listed["1002"][0] == "link → blocked"
        assert "errors" in listed["1002"][1] and "route link → blocked" in listed["1002"][1]
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, LookupScreen)
                    and app.current_customer == "1002")


async def test_a_bucket_lists_the_customers_of_either_template(tmp_path: Path) -> None:
    _, app = comparing_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await compare_report(pilot)
        buckets = app.screen.query_one("#report-buckets", DataTable)
        labels = list(rows(buckets))
        buckets.move_cursor(row=labels.index("blocked: no_identifier"))
        await pilot.press("enter")
        await settle(pilot)
        customers = app.screen.query_one("#report-customers", DataTable)
        assert list(rows(customers)) == ["1004", "1002"]  # 1002 only under the compared one


async def test_without_a_compared_template_the_report_is_one_column_again(
        tmp_path: Path) -> None:
    stub, app = comparing_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await compare_report(pilot)
        app.screen.query_one("#report-compare", Input).value = ""
        app.screen.query_one("#report-compare", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert stub.asked[-1] == (None, None)
        counts = rows(app.screen.query_one("#report-buckets", DataTable))
        assert "plans differ" not in counts and counts["route link"][0] == "2"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("size", SIZES)
def test_report_compare_snapshot(snap_compare, in_tmp, size):
    async def drilled(pilot) -> None:
        await compare_report(pilot)
        await pilot.press("enter")  # the plans-differ row: its customers
        await settle(pilot)
        pilot.app.clear_notifications()
        await pilot.pause()

    _, app = comparing_app(Path("state"))
    assert snap_compare(app, terminal_size=SIZES[size], run_before=drilled)
