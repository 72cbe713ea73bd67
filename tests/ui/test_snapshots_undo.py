"""SVG snapshots of History with pushes marked for undo, and of the undo confirmation, at 80x24
and 120x36, on the real engine over the demo sandbox (fixed clock and ids)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from console.app import ConsoleApp
from tests.ui.helpers import settle
from tests.ui.sandbox_app import sandbox_app

SIZES = {"80x24": (80, 24), "120x36": (120, 36)}


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def on_sandbox() -> ConsoleApp:
    return sandbox_app(Path("state"))


async def marked(pilot) -> None:
    """A blocked push and two written ones; the newest two marked for undo."""
    await settle(pilot)
    await pilot.app.engine.push("55330")
    for customer_id in ("55260", "55270"):
        await pilot.app.engine.push(customer_id, confirm=True)
    await pilot.press("f7")
    await settle(pilot)
    pilot.app.screen.query_one(DataTable).focus()
    await pilot.press("space", "space")
    await settle(pilot)
    pilot.app.clear_notifications()
    await pilot.pause()


async def dialog(pilot) -> None:
    """Every push marked, blocked one included, and Undo pressed: the one confirmation."""
    await marked(pilot)
    await pilot.press("a", "f5")
    await settle(pilot)
    pilot.app.clear_notifications()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_history_with_pushes_marked(snap_compare, size):
    assert snap_compare(on_sandbox(), terminal_size=SIZES[size], run_before=marked)


@pytest.mark.parametrize("size", SIZES)
def test_undo_dialog_for_several_pushes(snap_compare, size):
    assert snap_compare(on_sandbox(), terminal_size=SIZES[size], run_before=dialog)
