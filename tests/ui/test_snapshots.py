"""SVG snapshots of the key screens on a deterministic engine (fixed ids, times and paths)."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.app import ConsoleApp
from console.screens.batch import BatchScreen
from core.model import ErrorKind, ErrorStatus
from tests.ui.helpers import settle
from tests.ui.stub_engine import StubConfig, StubEngine, stub_factory

WIDE = (160, 48)
NARROW = (80, 24)


@pytest.fixture(autouse=True)
def frozen_batch_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The throughput sampler runs on wall time; keep it out of snapshots."""
    monkeypatch.setattr(BatchScreen, "SAMPLE_SECONDS", 3600.0)


def build(engine: StubEngine | None = None) -> ConsoleApp:
    engine = engine or StubEngine(StubConfig(state_dir=Path("/state/sandbox")))
    return ConsoleApp(engine.config, engine_factory=stub_factory(engine), keymap={})


def with_errors() -> StubEngine:
    engine = StubEngine(StubConfig(state_dir=Path("/state/sandbox")))
    engine.add_error("55260", ErrorKind.API_UNAVAILABLE, "Klaviyo did not answer (503) after "
                     "5 attempts")
    engine.add_error("1001", ErrorKind.RATE_LIMITED, "Klaviyo answered 429 for 65 s")
    engine.add_error("1002", ErrorKind.VALIDATION, "phone_number +1555 is not a valid number",
                     status=ErrorStatus.RESOLVED)
    engine.add_error("1004", ErrorKind.NO_IDENTIFIER, "no valid identifier: add an email or a "
                     "phone number")
    return engine


def keys(*pressed: str):
    """A run_before that presses keys and waits for every worker they start."""

    async def run(pilot) -> None:
        await settle(pilot)
        for key in pressed:
            await pilot.press(key)
            await settle(pilot)

    return run


def test_lookup_empty(snap_compare):
    assert snap_compare(build(), terminal_size=NARROW, run_before=keys())


def test_preview_update_with_diff_wide(snap_compare):
    assert snap_compare(build(), terminal_size=WIDE, run_before=keys(*"55260", "enter"))


def test_preview_update_narrow_stacks_panes(snap_compare):
    assert snap_compare(build(), terminal_size=NARROW, run_before=keys(*"55260", "enter"))


def test_preview_blocked(snap_compare):
    assert snap_compare(build(), terminal_size=WIDE, run_before=keys(*"1004", "enter"))


def test_push_confirmation_with_consent_warning(snap_compare):
    async def open_dialog(pilot) -> None:
        await settle(pilot)
        await pilot.press(*"1005", "enter")
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)

    assert snap_compare(build(), terminal_size=WIDE, run_before=open_dialog)


def test_error_log(snap_compare):
    assert snap_compare(build(with_errors()), terminal_size=WIDE, run_before=keys("f6"))


def test_error_log_narrow(snap_compare):
    assert snap_compare(build(with_errors()), terminal_size=NARROW, run_before=keys("f6"))


def test_batch_in_progress(snap_compare):
    engine = StubEngine(StubConfig(state_dir=Path("/state/sandbox")))
    engine.hold_after = 3

    async def start(pilot) -> None:
        await settle(pilot)
        await pilot.press("f8")
        await settle(pilot)
        await pilot.press(*"55260 1001 1002 1003 1005", "f5")
        for _ in range(50):
            await pilot.pause()
            if pilot.app.screen.counts.finished == 3:
                break
        await pilot.pause()

    assert snap_compare(build(engine), terminal_size=WIDE, run_before=start)


def test_history(snap_compare):
    async def push_then_history(pilot) -> None:
        await settle(pilot)
        await pilot.press(*"55260", "enter")
        await settle(pilot)
        await pilot.press("f5", "y")
        await settle(pilot)
        pilot.app.clear_notifications()
        await pilot.press("f7")
        await settle(pilot)

    assert snap_compare(build(), terminal_size=WIDE, run_before=push_then_history)


def test_settings(snap_compare):
    assert snap_compare(build(), terminal_size=WIDE, run_before=keys("f2"))
