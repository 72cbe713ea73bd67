"""Fixtures for the reliability tests: an environment with no credentials or knobs leaking in."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import CLEARED_ENV


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("KLAVIYO_CONSOLE_RETRY_ATTEMPTS", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("COLUMNS", "160")
    return monkeypatch
