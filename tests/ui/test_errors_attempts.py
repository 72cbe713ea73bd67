"""The errors screen keeps the first cause in view, fits at 120 columns and says why a retry
was held again."""

from __future__ import annotations

from dataclasses import replace

from textual.widgets import DataTable

from console.screens.errors import ErrorsScreen, detail_text
from core.model import Attempt, ErrorKind, ErrorRecord, ErrorStatus, Stage
from tests.ui.guard_stub import GuardStub
from tests.ui.helpers import settle, text_of, until
from tests.ui.stub_engine import STAMP, StubConfig, stub_factory


def record_with_attempts() -> ErrorRecord:
    record = ErrorRecord(id="E0001", customer_id="55341", kind=ErrorKind.CONSENT_GUARD,
                         stage=Stage.CONSENT, message="held: resubscribe email",
                         retry_action="confirm the push", created_at=STAMP, updated_at=STAMP)
    attempts = (Attempt("2026-07-01T09:30:00+00:00", "phone_rejected", "Klaviyo refused +1 555"),
                Attempt("2026-07-02T10:00:00+00:00", "consent_guard", "held: resubscribe email"))
    return replace(record, attempts=attempts)


def test_detail_lists_attempts_oldest_first_with_the_first_cause():
    text = detail_text(record_with_attempts()).plain
    assert "consent_guard at consent" in text
    assert "First cause: phone_rejected: Klaviyo refused +1 555" in text
    first = text.index("1. 2026-07-01 09:30:00 phone_rejected")
    assert first < text.index("2. 2026-07-02 10:00:00 consent_guard")


def test_a_repeated_attempt_is_not_spelled_out_again():
    record = record_with_attempts()
    again = Attempt("2026-07-03T10:00:00+00:00", "consent_guard", "held: resubscribe email")
    record = replace(record, attempts=(*record.attempts, again))
    text = detail_text(record).plain
    assert "3. 2026-07-03 10:00:00 consent_guard: the same again" in text


def app_of(engine, tmp_path):
    from console.app import ConsoleApp

    return ConsoleApp(engine.config, engine_factory=stub_factory(engine), keymap={},
                      recent_path=tmp_path / "recent.json")


async def test_header_and_dates_fit_at_120_columns(tmp_path):
    engine = GuardStub(StubConfig(state_dir=tmp_path))
    engine.add_error("55331", ErrorKind.API_UNAVAILABLE, "Klaviyo answered 503")
    async with app_of(engine, tmp_path).run_test(size=(120, 36)) as pilot:
        await pilot.press("f6")
        await settle(pilot)
        table = pilot.app.screen.query_one(DataTable)
        assert pilot.app.focused is table
        before_message = [c for c in table.columns.values() if str(c.label) != "message"]
        width = sum(c.get_render_width(table) for c in before_message)
        assert width <= table.scrollable_content_region.width
        assert "07-01 09:30" in str(table.get_cell("E0001", "last seen"))


async def test_data_in_a_record_is_never_markup(tmp_path):
    engine = GuardStub(StubConfig(state_dir=tmp_path))
    engine.add_error("55331", ErrorKind.VALIDATION, "company Smith [old account] Co [/b] :100:")
    async with app_of(engine, tmp_path).run_test(size=(120, 36)) as pilot:
        await pilot.press("f6")
        await settle(pilot)
        table = pilot.app.screen.query_one(DataTable)
        assert "Smith [old account] Co [/b] :100:" in str(table.get_cell("E0001", "message"))
        assert "Smith [old account] Co [/b] :100:" in text_of(pilot, "#error-detail")


async def test_retry_held_again_says_so_and_why(tmp_path):
    engine = GuardStub(StubConfig(state_dir=tmp_path))
    engine.hold_on_retry = True
    engine.add_error("1005", ErrorKind.API_UNAVAILABLE, "Klaviyo answered 503")
    app = app_of(engine, tmp_path)
    toasts: list[str] = []
    app.notify = lambda message, **kw: toasts.append(str(message))  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f6")
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, ErrorsScreen)
        await pilot.press("r")
        await settle(pilot)
        said = "\n".join(toasts)
        assert "1 held by the consent guard" in said
        assert "Held again, customer 1005: held again: the plan changed" in said
        assert engine.errors.get("E0001").status is ErrorStatus.OPEN
        await until(pilot, lambda: "plan changed" in text_of(pilot, "#error-detail"))
