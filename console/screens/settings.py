"""Settings: the active configuration (secrets masked), the template and the sandbox knobs."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from console.keymap import DEFAULT_KEYS, effective_keys
from console.widgets.screenbar import ScreenBar


def pairs_table(pairs: list[tuple[str, str]]) -> Table:
    """Name/value rows; both are Text, so config data such as "[keymap]" stays literal."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for name, value in pairs:
        table.add_row(Text(name), Text(value))
    return table


def config_pairs(config: Any) -> list[tuple[str, str]]:
    """config.redacted() flattened; the only view of the config the console ever shows."""
    if config is None:
        return [("config", "not loaded")]
    redacted = config.redacted() if hasattr(config, "redacted") else {}
    return [(str(k), "-" if v is None else str(v)) for k, v in redacted.items()]


def knob_pairs(engine: Any) -> list[tuple[str, str]]:
    sandbox = getattr(engine, "sandbox", None)
    knobs = getattr(sandbox, "knobs", None)
    if knobs is None:
        try:
            from core.sandbox.knobs import Knobs

            knobs = Knobs.from_env()
        except ValueError as exc:
            return [("knobs", f"invalid: {exc}")]
    return [
        ("SANDBOX_LATENCY_MS", str(knobs.latency_ms)),
        ("SANDBOX_FAILURE_RATE", str(knobs.failure_rate)),
        ("SANDBOX_KLAVIYO_DOWN", "1" if knobs.klaviyo_down else "0"),
        ("SANDBOX_RATE_SCALE", str(knobs.rate_scale)),
    ]


class SettingsScreen(Screen[None]):
    """Read-only view of what the console runs with; edit the config file to change it."""

    # Parsed when this screen is first shown, not at start-up with console.tcss; unscoped so
    # the rules read exactly as they did there.
    SCOPED_CSS = False
    DEFAULT_CSS = """
        #settings { padding: 0 1; }
        .section {
            height: auto;
            border: round $panel-lighten-2;
            border-title-color: $text-muted;
            padding: 0 1;
        }
    """

    HELP = "The active configuration. Secrets are never shown. Edit the config file to change."

    def compose(self) -> ComposeResult:
        yield ScreenBar("settings")
        with VerticalScroll(id="settings"):
            yield Static(id="settings-config", classes="section")
            yield Static(id="settings-template", classes="section")
            yield Static(id="settings-knobs", classes="section")
            yield Static(id="settings-keys", classes="section")
        yield Footer()

    def on_mount(self) -> None:
        self.show()

    def on_screen_resume(self) -> None:
        self.show()
        self.query_one("#settings", VerticalScroll).focus()  # so the arrows scroll at once

    def show(self) -> None:
        app: Any = self.app
        config = getattr(app, "config", None)
        section = self.query_one("#settings-config", Static)
        section.border_title = "Configuration (secrets masked)"
        section.update(pairs_table(config_pairs(config)))
        template = getattr(config, "template_path", None)
        section = self.query_one("#settings-template", Static)
        section.border_title = "Mapping template"
        section.update(Content(str(template)) if template else
                       "shipped default: the spec's 18 mappings (core/mapping/default.toml)")
        section = self.query_one("#settings-knobs", Static)
        on_sandbox = bool(getattr(config, "sandbox", True))
        section.display = on_sandbox
        section.border_title = "Sandbox knobs (environment)"
        section.update(pairs_table(knob_pairs(app.engine)))
        keys = effective_keys(getattr(app, "keymap", {}))
        section = self.query_one("#settings-keys", Static)
        section.border_title = Content("Keys ([keymap] in the config file remaps these ids)")
        rows = [(f"{bid}", f"{keys[bid]}  ({DEFAULT_KEYS[bid][1]})") for bid in DEFAULT_KEYS]
        # Textual's own keys, fixed: listed so every key is named somewhere.
        rows += [("(palette)", "ctrl+p  (screens, commands and customers by id, email, name)"),
                 ("(quit)", "ctrl+q  (quit the console)")]
        section.update(pairs_table(rows))
