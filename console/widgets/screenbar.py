"""The top bar: the console's screens with their F-keys, the current one highlighted."""

from __future__ import annotations

from textual.content import Content
from textual.style import Style
from textual.widgets import Static

from console.keymap import DEFAULT_KEYS

SCREENS = (
    ("lookup", "show-lookup", "Lookup"),
    ("errors", "show-errors", "Errors"),
    ("history", "show-history", "History"),
    ("batch", "show-batch", "Batch"),
    ("settings", "show-settings", "Settings"),
)


CURRENT = Style(bold=True, reverse=True)


class ScreenBar(Static):
    """Clickable; shows the keys in force (after keymap overrides) for each screen."""

    def __init__(self, current: str) -> None:
        # Drawn from the start (composed while the app runs, so its keymap is known) rather
        # than updated on mount, which laid the first frame out a second time.
        super().__init__(self.keys(current), classes="screenbar")
        self.current = current

    def keys(self, current: str) -> Content:
        """Each screen's label with the key in force, the current one highlighted."""
        keymap: dict[str, str] = getattr(self.app, "keymap", {})
        parts: list[str | tuple[str, Style]] = []
        for mode, binding_id, label in SCREENS:
            key = keymap.get(binding_id, DEFAULT_KEYS[binding_id][0]).split(",")[0].upper()
            # Built as Style objects: as markup strings each was parsed by the CSS tokenizer
            # on the first frame (a tenth of its cost).
            style = Style.from_meta({"@click": f"app.switch_mode('{mode}')"})
            if mode == current:
                style = CURRENT + style
            parts.append((f" {key} {label} ", style))
            parts.append(" ")
        return Content.assemble(*parts)
