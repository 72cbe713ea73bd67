"""The batch screen asks before consent changes, stops at the brake, and reads true at 80x24."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.widgets import Checkbox, ProgressBar

from console.app import ConsoleApp
from console.screens.base import Counts
from console.screens.batch import BatchScreen, counts_line
from console.screens.batch_dialogs import BrakeScreen, SurveyScreen
from console.widgets.tickbox import TickBox
from tests.ui.guard_stub import GuardStub
from tests.ui.helpers import settle, text_of, until
from tests.ui.stub_engine import StubConfig, stub_factory


@pytest.fixture
def guard(tmp_path: Path) -> GuardStub:
    return GuardStub(StubConfig(state_dir=tmp_path))


def app_of(engine: GuardStub, tmp_path: Path) -> ConsoleApp:
    return ConsoleApp(engine.config, engine_factory=stub_factory(engine), keymap={},
                      recent_path=tmp_path / "recent.json")


async def open_batch(pilot) -> BatchScreen:
    await settle(pilot)
    await pilot.press("f8")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, BatchScreen)
    return screen


async def test_survey_dialog_counts_kinds_and_unticked_kinds_stay_held(guard, tmp_path):
    async with app_of(guard, tmp_path).run_test(size=(80, 24)) as pilot:
        batch = await open_batch(pilot)
        await pilot.press(*"55260 1005", "f5")
        await settle(pilot)
        dialog = pilot.app.screen
        assert isinstance(dialog, SurveyScreen)
        box = dialog.query_one("#confirm-unsubscribe", Checkbox)
        assert "unsubscribe: 1 customer(s)" in str(box.label)
        assert not box.value  # nothing is confirmed unless the operator ticks it
        assert dialog.query_one("#survey-run").region.bottom <= 24  # buttons on screen
        await pilot.click("#survey-run")
        await settle(pilot)
        assert guard.syncs[-1].confirm == frozenset()
        assert "1 done, 0 failed, 1 held" in text_of(pilot, "#batch-counts")
        assert not batch.running


async def test_ticked_kind_is_confirmed_and_bulk_is_passed(guard, tmp_path):
    async with app_of(guard, tmp_path).run_test(size=(120, 36)) as pilot:
        await open_batch(pilot)
        await pilot.click("#batch-bulk")
        await pilot.click("#batch-ids")
        await pilot.press(*"55260 1005", "f5")
        await settle(pilot)
        await pilot.click("#confirm-unsubscribe")
        await pilot.click("#survey-run")
        await settle(pilot)
        assert guard.syncs[-1].confirm == frozenset({"unsubscribe"})
        assert guard.syncs[-1].bulk is True
        assert "2 done, 0 failed, 0 held" in text_of(pilot, "#batch-counts")


async def test_cancelling_the_survey_runs_nothing(guard, tmp_path):
    async with app_of(guard, tmp_path).run_test(size=(80, 24)) as pilot:
        batch = await open_batch(pilot)
        await pilot.press(*"1005", "f5")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert guard.syncs == [] and guard.pushes == []
        assert not batch.running
        assert "not started" in text_of(pilot, "#batch-counts")


async def test_run_without_guarded_changes_asks_nothing(guard, tmp_path):
    async with app_of(guard, tmp_path).run_test(size=(80, 24)) as pilot:
        await open_batch(pilot)
        await pilot.press(*"55260 1001", "f5")
        await settle(pilot)
        assert isinstance(pilot.app.screen, BatchScreen)
        assert [call.ids for call in guard.syncs] == [["55260", "1001"]]


async def test_tripped_brake_asks_and_yes_runs_the_deferred_unsubscribes(guard, tmp_path):
    guard.trip_brake = True
    guard.needing = {}
    async with app_of(guard, tmp_path).run_test(size=(80, 24)) as pilot:
        await open_batch(pilot)
        await pilot.press(*"55260 1005", "f5")
        await settle(pilot)
        dialog = pilot.app.screen
        assert isinstance(dialog, BrakeScreen)
        assert "unsubscribe 1 of 2 customers" in text_of(pilot, "#brake-words")
        assert pilot.app.focused is dialog.query_one("#brake-keep")  # the safe default
        await pilot.click("#brake-apply")
        await settle(pilot)
        assert guard.syncs[-1].ids == ["1005"]
        assert "unsubscribe" in guard.syncs[-1].confirm
        assert "Unsubscribes finished: 1 done" in text_of(pilot, "#batch-counts")


async def test_tripped_brake_no_keeps_them_held(guard, tmp_path):
    guard.trip_brake = True
    guard.needing = {}
    async with app_of(guard, tmp_path).run_test(size=(80, 24)) as pilot:
        await open_batch(pilot)
        await pilot.press(*"55260 1005", "f5")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert len(guard.syncs) == 1
        assert "1 held" in text_of(pilot, "#batch-counts")


async def test_all_customers_count_against_the_surveyed_total(guard, tmp_path):
    guard.needing = {}
    async with app_of(guard, tmp_path).run_test(size=(80, 24)) as pilot:
        await open_batch(pilot)
        await pilot.press("f3", "f5")
        await settle(pilot)
        assert guard.syncs[-1].ids is None
        counts = text_of(pilot, "#batch-counts")
        assert "Batch finished: 5 done, 1 failed" in counts
        assert pilot.app.screen.counts.total == 6  # the survey counted them
        assert pilot.app.screen.query_one(ProgressBar).percentage == 1.0


def test_counts_line_names_a_total_or_says_counting():
    assert counts_line(Counts(None, 3, 1, 0), 2.5).startswith("4 so far (counting customers…)")
    line = counts_line(Counts(10, 0, 0, 0), None)
    assert "0 of 10" in line and "measuring speed" in line and "0.0" not in line
    assert "?" not in counts_line(Counts(None, 0, 0, 0), None)


async def test_idle_bar_is_still_and_the_old_checkbox_is_gone(guard, tmp_path):
    async with app_of(guard, tmp_path).run_test(size=(80, 24)) as pilot:
        batch = await open_batch(pilot)
        assert not batch.query_one(ProgressBar).display
        assert not batch.query("#allow-unsubscribe")
        assert batch.query_one("#batch-bulk")


async def test_f10_after_a_finished_run_does_not_say_cancelled(guard, tmp_path):
    async with app_of(guard, tmp_path).run_test(size=(80, 24)) as pilot:
        await open_batch(pilot)
        await pilot.press(*"55260", "f5")
        await settle(pilot)
        await pilot.press("f10")
        await settle(pilot)
        counts = text_of(pilot, "#batch-counts")
        assert "Batch finished" in counts and "cancelled" not in counts


async def test_tickboxes_show_their_real_state(guard, tmp_path):
    async with app_of(guard, tmp_path).run_test(size=(80, 24)) as pilot:
        batch = await open_batch(pilot)
        box = batch.query_one("#batch-all", TickBox)
        assert "▐ ▌" in str(box.render())
        await pilot.press("f3")
        await pilot.pause()
        assert box.value and "▐X▌" in str(box.render())


async def test_switching_to_batch_focuses_the_ids_with_old_text_selected(guard, tmp_path):
    async with app_of(guard, tmp_path).run_test(size=(80, 24)) as pilot:
        batch = await open_batch(pilot)
        await pilot.press(*"55260")
        await pilot.press("f6")
        await settle(pilot)
        await pilot.press("f8")
        await settle(pilot)
        field = batch.query_one("#batch-ids")
        assert pilot.app.focused is field
        await pilot.press(*"1001")
        await until(pilot, lambda: field.value == "1001")


async def test_listen_help_names_the_bound_key_in_full(guard, tmp_path):
    app = ConsoleApp(guard.config, engine_factory=stub_factory(guard),
                     keymap={"listen": "f11"}, recent_path=tmp_path / "recent.json")
    async with app.run_test(size=(80, 24)) as pilot:
        batch = await open_batch(pilot)
        lines = "".join(str(line.text) for line in batch.query_one("#feed").lines)
        assert "listen is off: F11 takes iPaaS.com outbound notifications here" in lines


async def test_listen_lines_wrap_inside_the_panel_at_80_columns(guard, tmp_path):
    from console.screens.batch import NotificationReceived

    async with app_of(guard, tmp_path).run_test(size=(80, 24)) as pilot:
        batch = await open_batch(pilot)
        # One word of 77 cells: wider than the panel, narrower than RichLog's default minimum.
        long_line = "x" * 77 + " post your own)"
        batch.post_message(NotificationReceived(long_line))
        await settle(pilot)
        feed = batch.query_one("#feed")
        width = feed.scrollable_content_region.width
        assert all(line.cell_length <= width for line in feed.lines)
        assert "post your own)" in "".join(line.text for line in feed.lines)


async def test_f10_while_planning_cancels_before_anything_is_sent(guard, tmp_path):
    planning = asyncio.Event()

    async def slow_survey(ids):
        planning.set()
        await asyncio.Event().wait()  # the survey of a long run: still reading

    guard.survey = slow_survey  # type: ignore[method-assign]
    async with app_of(guard, tmp_path).run_test(size=(80, 24)) as pilot:
        batch = await open_batch(pilot)
        await pilot.press(*"55260 1005", "f5")
        await until(pilot, planning.is_set)
        assert "Planning 2 customer(s)" in text_of(pilot, "#batch-counts")
        await pilot.press("f10")
        await settle(pilot)
        assert not batch.running
        assert guard.syncs == [] and guard.pushes == []
        assert "cancelled while planning" in text_of(pilot, "#batch-counts")
