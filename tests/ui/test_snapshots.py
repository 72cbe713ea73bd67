"""SVG snapshots of the key screens: the real console over Engine.open on the demo sandbox.

Ids and times are fixed (Sandbox rng and wall_clock, Engine clock) and the state dir is the
relative path `state`, so every run draws the same screens.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from console.app import ConsoleApp
from console.screens.batch import BatchScreen
from tests.ui.batch_helpers import past_survey
from tests.ui.helpers import keys, push_failures, settle
from tests.ui.sandbox_app import HoldCustomer, sandbox_app

pytestmark = pytest.mark.usefixtures("in_tmp")

WIDE = (160, 48)
NARROW = (80, 24)


@pytest.fixture(autouse=True)
def frozen_batch_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The throughput sampler runs on wall time; keep it out of snapshots."""
    monkeypatch.setattr(BatchScreen, "sample", lambda self: None)


def build(**kw) -> ConsoleApp:
    return sandbox_app(Path("state"), **kw)


def test_lookup_empty(snap_compare):
    assert snap_compare(build(), terminal_size=NARROW, run_before=keys())


def test_preview_update_with_diff_wide(snap_compare):
    assert snap_compare(build(), terminal_size=WIDE, run_before=keys(*"55264", "enter"))


def test_preview_update_narrow_stacks_panes(snap_compare):
    assert snap_compare(build(), terminal_size=NARROW, run_before=keys(*"55264", "enter"))


def test_preview_blocked(snap_compare):
    assert snap_compare(build(), terminal_size=WIDE, run_before=keys(*"55330", "enter"))


def test_push_confirmation_with_consent_warning(snap_compare):
    assert snap_compare(build(), terminal_size=WIDE, run_before=keys(*"55262", "enter", "f5"))


def test_error_log(snap_compare):
    assert snap_compare(build(), terminal_size=WIDE, run_before=push_failures)


def test_error_log_narrow(snap_compare):
    assert snap_compare(build(), terminal_size=NARROW, run_before=push_failures)


def test_batch_in_progress(snap_compare):
    gates: list[HoldCustomer] = []

    def hold_55271(inner):
        gates.append(HoldCustomer(inner, "55271"))
        gates[0].armed = False  # the survey reads it; the run waits on it
        return gates[0]

    async def start(pilot) -> None:
        await settle(pilot)
        await pilot.press("f8")
        await settle(pilot)
        await pilot.press(*"55260 55262 55268 55330 55271", "f5")
        screen = pilot.app.screen
        await past_survey(pilot, screen, arm=gates[0])
        # Four customers finish; 55271's read never answers, so the batch stays running.
        for _ in range(400):
            await pilot.pause()
            if screen.counts.finished == 4:
                break
        assert screen.running and gates[0].held.is_set()
        await pilot.pause()

    assert snap_compare(build(wrap=hold_55271), terminal_size=WIDE, run_before=start)


def test_history(snap_compare):
    assert snap_compare(build(), terminal_size=WIDE,
                        run_before=keys(*"55260", "enter", "f5", "y", "f7"))


def test_settings(snap_compare):
    assert snap_compare(build(), terminal_size=WIDE, run_before=keys("f2"))
