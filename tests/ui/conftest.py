"""Fixtures that build the console on a stub engine (deterministic) or the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Input

from console.app import ConsoleApp
from tests.ui.stub_engine import StubConfig, StubEngine, stub_factory


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor makes screenshots differ run to run."""
    monkeypatch.setattr(Input, "cursor_blink", False)


@pytest.fixture
def stub(tmp_path: Path) -> StubEngine:
    return StubEngine(StubConfig(state_dir=tmp_path))


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[[StubEngine], ConsoleApp]:
    def build(engine: StubEngine) -> ConsoleApp:
        return ConsoleApp(engine.config, engine_factory=stub_factory(engine), keymap={},
                          recent_path=tmp_path / "recent.json")

    return build


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Snapshots run in a fresh folder with the state dir at the relative path `state`, which
    the settings screen shows: the same text every run."""
    monkeypatch.chdir(tmp_path)
