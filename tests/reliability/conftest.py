"""Fixtures for the reliability tests: an environment with no credentials or knobs leaking in."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import CLEARED_ENV, Cli, template_with_custom_fields


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("KLAVIYO_CONSOLE_RETRY_ATTEMPTS", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("COLUMNS", "160")
    return monkeypatch


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: pytest.MonkeyPatch) -> Cli:
    """The real CLI, in-process, on a seeded sandbox in a temp state dir."""
    return Cli(state_dir=tmp_path / "state", seed_path=tmp_path / "seed.json", capsys=capsys)


@pytest.fixture
def custom_template(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> Path:
    """SubscribeProfile, LIST_Sms Subscribers and UCLIST_Preview List read from custom fields."""
    path = template_with_custom_fields(tmp_path / "template.toml")
    clean_env.setenv("KLAVIYO_CONSOLE_TEMPLATE", str(path))
    return path
