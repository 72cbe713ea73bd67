"""The Textual console (placeholder screen until the engine lands)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static


class ConsoleApp(App[None]):
    TITLE = "iPaaS.com → Klaviyo"
    BINDINGS = [("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Customer lookup, preview and push are coming: the sync engine lands first.")
        yield Footer()
