"""The top bar: the console's screens with their F-keys, the current one highlighted."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from console.keymap import DEFAULT_KEYS

SCREENS = (
    ("lookup", "show-lookup", "Lookup"),
    ("errors", "show-errors", "Errors"),
    ("history", "show-history", "History"),
    ("batch", "show-batch", "Batch"),
    ("settings", "show-settings", "Settings"),
)


class ScreenBar(Static):
    """Clickable; shows the keys in force (after keymap overrides) for each screen."""

    def __init__(self, current: str) -> None:
        super().__init__(classes="screenbar")
        self.current = current

    def on_mount(self) -> None:
        keymap: dict[str, str] = getattr(self.app, "keymap", {})
        parts: list[str | tuple[str, str]] = []
        for mode, binding_id, label in SCREENS:
            key = keymap.get(binding_id, DEFAULT_KEYS[binding_id][0]).split(",")[0].upper()
            style = "bold reverse" if mode == self.current else ""
            parts.append((f" {key} {label} ", f"{style} @click=app.switch_mode('{mode}')"))
            parts.append(" ")
        self.update(Content.assemble(*parts))
