"""SVG snapshots of errors, history, batch (idle, running, finished, survey and brake dialogs)
and settings at 80x24 and 120x36.

Errors, history, settings and the idle batch run the real engine on the demo sandbox; the batch
states that need issue 14's survey and brake run the guard stub, so they stay the same whatever
the sandbox's data.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from console.app import ConsoleApp
from console.screens.batch import BatchScreen
from tests.ui.guard_stub import GuardStub
from tests.ui.helpers import SIZES, keys, push_failures, settle
from tests.ui.sandbox_app import sandbox_app
from tests.ui.stub_engine import StubConfig, stub_factory

pytestmark = pytest.mark.usefixtures("in_tmp")


@pytest.fixture(autouse=True)
def frozen_batch_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The throughput sampler runs on wall time: it measures a fixed speed here."""
    monkeypatch.setattr(BatchScreen, "sample", lambda self: setattr(self, "speed", 12.5))


def on_sandbox() -> ConsoleApp:
    return sandbox_app(Path("state"))


def on_stub(**setup: object) -> ConsoleApp:
    engine = GuardStub(StubConfig(state_dir=Path("state")))
    for name, value in setup.items():
        setattr(engine, name, value)
    return ConsoleApp(engine.config, engine_factory=stub_factory(engine), keymap={},
                      recent_path=Path("state") / "recent.json")


async def running(pilot) -> None:
    """Two customers done; the third waits until F10, so the run stays in flight."""
    await settle(pilot)
    await pilot.press("f8")
    await settle(pilot)
    await pilot.press(*"55260 1001 1002 1003", "f5")
    screen = pilot.app.screen
    for _ in range(400):
        await pilot.pause()
        if screen.counts.finished == 2:
            break
    assert screen.running
    screen.sample()  # one tick of the (frozen) sampler, so the speed shows at once
    screen.show_counts()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_errors(snap_compare, size):
    assert snap_compare(on_sandbox(), terminal_size=SIZES[size], run_before=push_failures)


@pytest.mark.parametrize("size", SIZES)
def test_history(snap_compare, size):
    assert snap_compare(on_sandbox(), terminal_size=SIZES[size],
                        run_before=keys(*"55260", "enter", "f5", "y", "f7"))


@pytest.mark.parametrize("size", SIZES)
def test_settings(snap_compare, size):
    assert snap_compare(on_sandbox(), terminal_size=SIZES[size], run_before=keys("f2"))


@pytest.mark.parametrize("size", SIZES)
def test_batch_idle(snap_compare, size):
    assert snap_compare(on_sandbox(), terminal_size=SIZES[size], run_before=keys("f8"))


@pytest.mark.parametrize("size", SIZES)
def test_batch_running(snap_compare, size):
    assert snap_compare(on_stub(hold_after=2, needing={}), terminal_size=SIZES[size],
                        run_before=running)


@pytest.mark.parametrize("size", SIZES)
def test_batch_finished(snap_compare, size):
    assert snap_compare(on_stub(), terminal_size=SIZES[size],
                        run_before=keys("f8", *"55260 1001 1003 1004", "f5"))


@pytest.mark.parametrize("size", SIZES)
def test_batch_survey_dialog(snap_compare, size):
    needing = {"unsubscribe": ["1005"], "resubscribe": ["1002"], "consent-email": ["1001"]}
    assert snap_compare(on_stub(needing=needing), terminal_size=SIZES[size],
                        run_before=keys("f8", *"55260 1001 1002 1005", "f5"))


@pytest.mark.parametrize("size", SIZES)
def test_batch_brake_dialog(snap_compare, size):
    assert snap_compare(on_stub(trip_brake=True, needing={}), terminal_size=SIZES[size],
                        run_before=keys("f8", *"55260 1005", "f5"))
