"""Undo from the History screen: mark several pushes, one confirmation saying what each undo
does, Cancel doing nothing, and the run's outcome per push. The real engine on the sandbox."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from textual.widgets import DataTable

from console.app import ConsoleApp
from console.screens.history import HistoryScreen
from console.screens.undo_dialog import UndoConfirmScreen, UndoOutcomeScreen
from tests.ui.helpers import settle, text_of, until
from tests.ui.sandbox_app import sandbox_app

PROFILE_PATCH = re.compile(r"^/api/profiles/[^/]+/?$")


class PatchSwitch(httpx.AsyncBaseTransport):
    """Klaviyo answers 503 to profile PATCHes while `down` is set."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down and request.method == "PATCH" and PROFILE_PATCH.match(request.url.path):
            return httpx.Response(503, json={"errors": [{
                "id": "x", "status": 503, "code": "service_unavailable",
                "title": "Service unavailable.", "detail": "Service unavailable."}]},
                headers={"Content-Type": "application/vnd.api+json", "Retry-After": "0"})
        return await self.inner.handle_async_request(request)


async def pushed_then_history(pilot, *customer_ids: str) -> HistoryScreen:
    """Push these customers (confirmed), open History on all pushes, focus its table."""
    await settle(pilot)
    for customer_id in customer_ids:
        await pilot.app.engine.push(customer_id, confirm=True)
    await pilot.press("f7")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, HistoryScreen)
    screen.query_one(DataTable).focus()
    await settle(pilot)
    return screen


def footer_keys(app: ConsoleApp) -> dict[str, str]:
    return {key.action: key.key for key in app.screen.query("Footer FooterKey")}


def marks(screen: HistoryScreen) -> list[str]:
    table = screen.query_one(DataTable)
    return [str(table.get_row_at(row)[0]) for row in range(table.row_count)]


async def test_marking_toggles_one_row_all_rows_and_clears(tmp_path: Path) -> None:
    app = sandbox_app(tmp_path / "state")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await pushed_then_history(pilot, "55260", "55270", "55266")
        keys = footer_keys(app)
        assert keys["screen.toggle_mark"] == "space" and keys["screen.mark_all"] == "a"
        assert keys["undo"] == "f5"

        await pilot.press("space")  # marks the newest and moves down
        await settle(pilot)
        assert marks(screen) == ["✓", "", ""] and screen.marked == {"H-000000-0002"}
        table = screen.query_one(DataTable)
        assert table.border_title.endswith("3 · 1 marked for undo")
        await pilot.press("up", "space")  # the same row again: unmarked
        await settle(pilot)
        assert marks(screen) == ["", "", ""] and "marked" not in table.border_title

        await pilot.press("a")
        await settle(pilot)
        assert marks(screen) == ["✓", "✓", "✓"] and "3 marked" in table.border_title
        await pilot.press("a")  # all marked: the same key clears
        await settle(pilot)
        assert screen.marked == set() and marks(screen) == ["", "", ""]

        screen.query_one("#history-customer").focus()
        await settle(pilot)
        keys = footer_keys(app)  # the field takes space and letters: those keys are not shown
        assert "screen.toggle_mark" not in keys and keys["undo"] == "f5"


async def test_no_pushes_no_undo_key(tmp_path: Path) -> None:
    app = sandbox_app(tmp_path / "state")
    async with app.run_test(size=(80, 24)) as pilot:
        await pushed_then_history(pilot)
        assert "undo" not in footer_keys(app)


async def test_the_confirmation_says_what_each_undo_does_and_cancel_does_nothing(
        tmp_path: Path) -> None:
    app = sandbox_app(tmp_path / "state")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await app.engine.push("55330")  # no identifier: blocked, nothing sent
        screen = await pushed_then_history(pilot, "55270")
        await pilot.press("a", "f5")
        await until(pilot, lambda: isinstance(app.screen, UndoConfirmScreen))
        await settle(pilot)
        text = text_of(pilot, "#undo-summary")
        assert "H-000000-0000  customer 55330" in text
        assert "✖ cannot be undone: the push wrote nothing to Klaviyo" in text
        assert "H-000000-0001  customer 55270 · profile" in text
        assert "first_name: Bob → Robert (restored)" in text
        assert "phone_number: +16172531000 → cleared" in text
        assert "list 'Preview List': profile removed" in text
        assert ("consent: the push did subscribe email via list 'Sms Subscribers': NOT "
                "reversed by Undo") in text
        assert "held until confirmed: undo: unsubscribe email on list Sms Subscribers" in text
        dialog = app.screen
        assert str(dialog.query_one("#do-undo").label) == "Undo 1"
        assert dialog.query_one("#do-undo-consent") is not None
        assert dialog.query_one("#cancel-undo").region.bottom <= 23  # on screen at 80x24
        # Its own keys only; the body is longer than 80x24 leaves, so ↓ scrolls it.
        assert footer_keys(app) == {"undo_fields": "y", "cancel": "escape",
                                    "scroll_body('down')": "down"}
        await pilot.press("down")
        assert app.screen.query_one(".undo-body").scroll_y > 0

        before = [e.id for e in app.engine.history.recent(50)]
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        assert [e.id for e in app.engine.history.recent(50)] == before
        assert screen.marked == {"H-000000-0000", "H-000000-0001"}  # kept for another try


async def test_the_run_reports_done_and_not_undone_and_records_undos(tmp_path: Path) -> None:
    app = sandbox_app(tmp_path / "state")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await app.engine.push("55330")
        screen = await pushed_then_history(pilot, "55260", "55270")
        await pilot.press("a", "f5")
        await until(pilot, lambda: isinstance(app.screen, UndoConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, UndoOutcomeScreen))
        await settle(pilot)
        text = text_of(pilot, "#undo-outcome-text")
        assert text.startswith("2 done, 0 failed, 0 held, 1 with nothing to undo")
        assert "NOT UNDONE  H-000000-0000 customer 55330: the push wrote nothing" in text
        assert re.search(r"DONE  H-000000-0002 customer 55270: \d+ field\(s\) put back, 1 list",
                         text)
        undos = [e for e in app.engine.history.recent(50) if e.trigger == "undo"]
        assert {e.customer_id for e in undos} == {"55260", "55270"}
        assert all(e.consent == () for e in undos)  # consent is not reversed by Undo
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen) and screen.marked == set()
        assert str(screen.query_one(DataTable).get_cell(undos[0].id, "trigger")) == "undo"


async def test_without_marks_undo_takes_the_highlighted_push(tmp_path: Path) -> None:
    app = sandbox_app(tmp_path / "state")
    async with app.run_test(size=(80, 24)) as pilot:
        await pushed_then_history(pilot, "55260", "55270")
        await pilot.press("down", "f5")
        await until(pilot, lambda: isinstance(app.screen, UndoConfirmScreen))
        assert app.screen.results[0].undo.history_id == "H-000000-0000"
        assert len(app.screen.results) == 1


async def test_a_failed_undo_is_reported_with_its_error_record(tmp_path: Path) -> None:
    switch: list[PatchSwitch] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        switch.append(PatchSwitch(inner))
        return switch[0]

    app = sandbox_app(tmp_path / "state", wrap=wrap)
    async with app.run_test(size=(80, 24)) as pilot:
        await pushed_then_history(pilot, "55270")
        await pilot.press("f5")
        await until(pilot, lambda: isinstance(app.screen, UndoConfirmScreen))
        switch[0].down = True
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, UndoOutcomeScreen))
        await settle(pilot)
        text = text_of(pilot, "#undo-outcome-text")
        assert text.startswith("0 done, 1 failed")
        [record] = app.engine.errors.query()
        assert record.undo_of == "H-000000-0000"
        assert "undo of push H-000000-0000: Klaviyo profile write failed" in text
        assert f"error record {record.id}" in text


async def test_a_push_that_wrote_nothing_is_explained_and_cannot_be_confirmed(
        tmp_path: Path) -> None:
    app = sandbox_app(tmp_path / "state")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await app.engine.push("55330")
        await pushed_then_history(pilot)
        await pilot.press("f5")
        await until(pilot, lambda: isinstance(app.screen, UndoConfirmScreen))
        await settle(pilot)
        dialog = app.screen
        assert "Nothing to undo in the 1 chosen push" in str(
            dialog.query_one(".dialog-title").render())
        assert "cannot be undone: the push wrote nothing" in text_of(pilot, "#undo-summary")
        assert not dialog.query("#do-undo") and str(
            dialog.query_one("#cancel-undo").label) == "Close"
        assert "undo_fields" not in footer_keys(app)
        await pilot.press("y")  # no undo to confirm: the key does nothing
        await settle(pilot)
        assert app.screen is dialog
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        assert [e.trigger for e in app.engine.history.recent(10)] == ["manual"]
