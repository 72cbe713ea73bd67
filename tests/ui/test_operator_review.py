"""Findings of an operator's walk through the merged console at 80x24: the top bar names every
screen, Enter and screen switches put the focus where the next key acts, footers name the keys
that act, and the words say what happened and what to read next."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input

from console.screens.batch import BatchScreen
from console.screens.errors import ErrorsScreen, detail_text
from console.screens.history import HistoryScreen
from console.screens.recent import PickCustomerScreen
from console.screens.report import ReportScreen
from console.screens.undo_dialog import UndoOutcomeScreen
from core.model import ErrorKind
from tests.ui.helpers import (
    history_after_push,
    press_and_settle,
    screen_lines,
    settle,
    text_of,
)
from tests.ui.stub_engine import StubConfig
from tests.ui.test_report_screen import ReportingStub, open_report


def footer_words(app) -> dict[str, str]:
    """Each footer key's description by the key the footer shows."""
    return {key.key: key.description for key in app.screen.query("Footer FooterKey")}


async def test_the_top_bar_names_the_report_and_marks_it_current(make_app, stub) -> None:
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "F12 Report" in screen_lines(app)[0]
        await pilot.press("f12")
        await settle(pilot)
        assert isinstance(app.screen, ReportScreen)
        top = screen_lines(app)[0]
        assert "F12 Report" in top and top.rstrip().endswith("F2 Settings")  # whole at 80


async def test_enter_in_the_history_field_focuses_the_table(make_app, stub) -> None:
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await history_after_push(pilot, "55260")
        assert isinstance(app.screen, HistoryScreen)
        field = app.screen.query_one("#history-customer", Input)
        assert app.focused is field
        await pilot.press("enter")
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        assert app.focused is table
        await pilot.press("space")  # marks at once, instead of typing into the field
        await settle(pilot)
        assert field.value == "55260" and len(app.screen.marked) == 1


async def test_report_returns_to_its_ids_field_and_names_the_bucket(make_app,
                                                                    tmp_path: Path) -> None:
    stub = ReportingStub(StubConfig(state_dir=tmp_path))
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        ids = await open_report(pilot)
        report = app.screen
        ids.focus()
        await pilot.press("enter")
        await settle(pilot)
        buckets = report.query_one("#report-buckets", DataTable)
        customers = report.query_one("#report-customers", DataTable)
        assert app.focused is buckets
        labels = [str(buckets.get_row_at(i)[0]) for i in range(buckets.row_count)]
        buckets.move_cursor(row=labels.index("blocked: no_identifier"))
        await pilot.press("enter")
        await settle(pilot)
        assert app.focused is customers
        # Every listed customer in view (header, rows, frame), not one row of a fixed third.
        assert customers.row_count >= 1
        assert customers.size.height >= customers.row_count + 1
        assert customers.border_title.startswith("blocked: no_identifier: sample customers")

        ids.value = "55260 1001"
        await press_and_settle(pilot, "f4")
        await press_and_settle(pilot, "f12")
        assert app.focused is ids and ids.selected_text == "55260 1001"


async def test_the_customer_picker_footer_names_enter(make_app, stub) -> None:
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        picked: list[str | None] = []
        app.push_screen(PickCustomerScreen("2 customers match 'ann'",
                                           [("55260", "Ann"), ("1001", "Annie")]),
                        picked.append)
        await settle(pilot)
        words = footer_words(app)
        assert words.get("enter") == "Open" and words.get("escape") == "Close"
        await pilot.press("down", "enter")
        await settle(pilot)
        assert picked == ["1001"]


async def test_the_undo_outcome_closes_rather_than_cancels(make_app, stub) -> None:
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(UndoOutcomeScreen([]))
        await settle(pilot)
        assert footer_words(app).get("escape") == "Close"
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, UndoOutcomeScreen)


async def test_a_clean_batch_does_not_send_the_operator_to_the_error_log(make_app, stub) -> None:
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_and_settle(pilot, "f8")
        await pilot.press(*"55260 1001", "f5")
        await settle(pilot)
        counts = text_of(pilot, "#batch-counts")
        assert "Batch finished: 2 done, 0 failed, 0 held" in counts
        assert "errors" not in counts.replace("consent guard", "")


async def test_a_cancelled_batch_names_the_customers_not_started(make_app, stub) -> None:
    stub.hold_after = 2
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_and_settle(pilot, "f8")
        await pilot.press(*"55260 1001 1002 1003 1005", "f5")
        for _ in range(50):
            await pilot.pause()
            if app.screen.counts.done == 2:
                break
        await pilot.press("f10")
        await settle(pilot)
        counts = text_of(pilot, "#batch-counts")
        assert "Batch cancelled: 2 done, 0 failed, 0 held" in counts
        assert "3 not started" in counts


async def test_all_customers_greys_the_ids_and_a_run_keeps_its_choice(make_app, stub) -> None:
    stub.hold_after = 1
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_and_settle(pilot, "f8")
        batch = app.screen
        assert isinstance(batch, BatchScreen)
        ids = batch.query_one("#batch-ids", Input)
        await pilot.press(*"55260 1001", "f3")
        await settle(pilot)
        assert ids.disabled  # its ids are not what the run takes
        await pilot.press("f3")
        await settle(pilot)
        assert not ids.disabled
        await pilot.press("f5")
        for _ in range(50):
            await pilot.pause()
            if batch.running and batch.cancel_event is not None:
                break
        await pilot.pause()
        assert batch.running
        assert "f3" not in footer_words(app)  # a running batch keeps the customers it took
        await pilot.press("f10")
        await settle(pilot)
        assert "f3" in footer_words(app)


async def test_the_error_detail_gets_the_rows_at_80_columns(make_app, stub) -> None:
    stub.add_error("55340", ErrorKind.PHONE_REJECTED, "Klaviyo rejected the phone number")
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f6")
        await settle(pilot)
        assert isinstance(app.screen, ErrorsScreen)
        table = app.screen.query_one("#error-table", DataTable)
        side = app.screen.query_one("#error-side")
        assert side.size.height > table.size.height
        record = next(iter(app.screen.records.values()))
        words = detail_text(record).plain
        # What to fix before a retry is not what the retry will do.
        assert "Retry will:" not in words and "Retry: " in words


async def test_report_refuses_words_that_are_not_customer_ids(make_app, tmp_path: Path) -> None:
    stub = ReportingStub(StubConfig(state_dir=tmp_path))
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        ids = await open_report(pilot)
        ids.value = "55260, /tmp/candidate.toml"
        ids.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert stub.asked == []  # nothing was planned
        status = text_of(pilot, "#report-status")
        assert status.startswith("Not a customer id: /tmp/candidate.toml.")
        assert "no report was run" in status

        ids.value = "55260, 1001 55260"
        await pilot.press("enter")
        await settle(pilot)
        assert stub.asked == [(["55260", "1001"], None)]  # commas, spaces, a repeat dropped
