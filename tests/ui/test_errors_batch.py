"""Error log, retry, batch with cancel, history and settings, driven by keys."""

from __future__ import annotations

from textual.widgets import DataTable, Input

from console.screens.batch import BatchScreen, headroom, parse_ids
from console.screens.errors import ErrorsScreen
from console.screens.history import HistoryScreen
from console.screens.settings import SettingsScreen
from core.model import ErrorKind, ErrorStatus
from tests.ui.helpers import history_after_push, settle, text_of


def seed_errors(stub):
    stub.add_error("55260", ErrorKind.API_UNAVAILABLE, "Klaviyo answered 503 three times")
    stub.add_error("1001", ErrorKind.RATE_LIMITED, "Klaviyo answered 429")
    stub.add_error("1002", ErrorKind.VALIDATION, "phone_number is invalid",
                   status=ErrorStatus.RESOLVED)


async def test_error_log_shows_records_with_cause_and_fix(make_app, stub):
    seed_errors(stub)
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f6")
        await settle(pilot)
        assert isinstance(app.screen, ErrorsScreen)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 3  # resolved records stay visible
        detail = text_of(pilot, "#error-detail")
        assert "What happened: phone_number is invalid" in detail
        assert "How to fix:" in detail
        assert "3 record(s)" in text_of(pilot, "#page-info")


async def test_error_filters_by_status_and_kind(make_app, stub):
    seed_errors(stub)
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f6")
        await settle(pilot)
        await pilot.press("s")  # status: open
        await settle(pilot)
        assert app.screen.query_one(DataTable).row_count == 2
        await pilot.press("k", "k", "k", "k")  # kind: rate limited
        await settle(pilot)
        assert app.screen.query_one(DataTable).row_count == 1
        assert "Klaviyo answered 429" in text_of(pilot, "#error-detail")


async def test_error_log_pages(make_app, stub):
    for n in range(7):
        stub.add_error(str(1000 + n), ErrorKind.INTERNAL, f"failure {n}")
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f6")
        await settle(pilot)
        app.screen.PAGE_SIZE = 3
        app.screen.load()
        await settle(pilot)
        assert app.screen.query_one(DataTable).row_count == 3
        assert "page 1 of 3" in text_of(pilot, "#page-info")
        await pilot.press("n", "n")
        await settle(pilot)
        assert app.screen.query_one(DataTable).row_count == 1
        assert "page 3 of 3" in text_of(pilot, "#page-info")
        await pilot.press("p")
        await settle(pilot)
        assert "page 2 of 3" in text_of(pilot, "#page-info")


async def test_retry_one_resolves_the_highlighted_record(make_app, stub):
    seed_errors(stub)
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f6")
        await settle(pilot)
        first = app.screen.highlighted()
        assert first is not None and first.status is ErrorStatus.RESOLVED
        await pilot.press("down")  # E0002, open
        target = app.screen.highlighted()
        await pilot.press("r")
        await settle(pilot)
        assert stub.errors.get(target.id).status is ErrorStatus.RESOLVED
        assert stub.errors.count(status=ErrorStatus.OPEN) == 1
        assert "resolved" in str(app.screen.query_one(DataTable).get_cell(target.id, "status"))


async def test_retry_all_reports_progress_and_leaves_failures_open(make_app, stub):
    seed_errors(stub)
    stub.fail_ids.add("1001")
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f6")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert stub.errors.get("E0001").status is ErrorStatus.RESOLVED
        assert stub.errors.get("E0002").status is ErrorStatus.OPEN
        assert not app.screen.retrying


async def test_batch_runs_and_can_be_cancelled(make_app, stub):
    stub.hold_after = 2
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f8")
        await settle(pilot)
        assert isinstance(app.screen, BatchScreen)
        await pilot.press(*"55260 1001 1002 1003 1005", "f5")
        for _ in range(50):
            await pilot.pause()
            if app.screen.counts.done == 2:
                break
        assert app.screen.running
        assert "done 2" in text_of(pilot, "#batch-counts")
        await pilot.press("f10")
        await settle(pilot)
        assert not app.screen.running
        counts = text_of(pilot, "#batch-counts")
        assert "Batch cancelled: 2 done" in counts
        assert [cid for cid, _ in stub.pushes] == ["55260", "1001"]


async def test_batch_of_all_customers_holds_risky_consent(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f8")
        await settle(pilot)
        await pilot.press("f3", "f5")  # all customers, start
        await settle(pilot)
        counts = text_of(pilot, "#batch-counts")
        assert "Batch finished: 4 done, 1 failed, 1 held" in counts
        assert app.screen.query_one("#batch-progress").percentage == 1.0


async def test_batch_without_ids_asks_for_them(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f8")
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        assert not app.screen.running
        assert stub.pushes == []


async def test_batch_charts_sample_only_while_the_batch_screen_is_shown(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f8")
        await settle(pilot)
        batch = app.screen
        assert isinstance(batch, BatchScreen)
        await pilot.pause(BatchScreen.SAMPLE_SECONDS * 1.5)
        shown_at = batch.last_sample
        assert shown_at > 0
        await pilot.press("f6")
        await settle(pilot)
        hidden_at = batch.last_sample
        await pilot.pause(BatchScreen.SAMPLE_SECONDS * 3)
        assert batch.last_sample == hidden_at
        await pilot.press("f8")
        await settle(pilot)
        await pilot.pause(BatchScreen.SAMPLE_SECONDS * 1.5)
        assert batch.last_sample > hidden_at


def test_batch_helpers():
    assert parse_ids("55260, 1001\n1001;1002") == ["55260", "1001", "1002"]
    assert headroom({"a": type("S", (), {"limit": 10, "remaining": 5})()}) == 50.0
    assert headroom({}) == 100.0


async def test_history_shows_before_and_after_of_a_push(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await history_after_push(pilot, "55260")
        assert isinstance(app.screen, HistoryScreen)
        assert app.screen.query_one("#history-customer", Input).value == "55260"
        table = app.screen.query_one(DataTable)
        assert table.row_count == 1
        assert "UPDATE customer 55260" in text_of(pilot, "#history-summary")
        assert '"Anne"' in app.screen.query_one("#before").text
        assert '"Ann"' in app.screen.query_one("#after").text


async def test_settings_show_redacted_config_and_keys(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(app.screen, SettingsScreen)
        assert app.screen.query_one("#settings-config").visual is not None
        await pilot.press("f4")
        await settle(pilot)
        assert app.focused is app.screen.query_one("#customer")
