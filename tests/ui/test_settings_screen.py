"""Settings shows config data and its own words literally, and takes focus for scrolling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from console.screens.settings import SettingsScreen, pairs_table
from tests.ui.helpers import settle
from tests.ui.stub_engine import StubConfig


@dataclass(frozen=True)
class MarkupConfig(StubConfig):
    def redacted(self) -> dict[str, Any]:
        return {**super().redacted(), "template": "/tmp/[red]odd[/red] [b]name.toml"}


def test_pairs_are_literal():
    from rich.console import Console

    console = Console(width=80, record=True)
    console.print(pairs_table([("path", "[red]x[/red] :100: [/b]")]))
    assert "[red]x[/red] :100: [/b]" in console.export_text()


async def test_settings_show_keymap_title_and_config_values_literally(make_app, stub, tmp_path):
    stub.config = MarkupConfig(state_dir=tmp_path)
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        keys = screen.query_one("#settings-keys")
        assert "[keymap]" in str(keys.border_title)
        config = screen.query_one("#settings-config")
        lines = config.render_lines(config.region.reset_offset)
        assert "/tmp/[red]odd[/red] [b]name.toml" in "".join(line.text for line in lines)
        assert app.focused is screen.query_one("#settings")
