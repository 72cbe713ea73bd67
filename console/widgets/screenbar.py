"""The top bar: the console's screens with their F-keys, and below it the sandbox banner."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from console.keymap import DEFAULT_KEYS

SCREENS = (
    ("lookup", "show-lookup", "Lookup"),
    ("errors", "show-errors", "Errors"),
    ("history", "show-history", "History"),
    ("batch", "show-batch", "Batch"),
    ("report", "report", "Report"),
    ("settings", "show-settings", "Settings"),
)
SANDBOX_TEXT = "SANDBOX · emulated Klaviyo and iPaaS.com · nothing leaves this machine"
CURRENT = Style(bold=True, reverse=True)


class ScreenBar(Widget):
    """Clickable screen keys (after keymap overrides), and in sandbox mode the banner that says
    nothing reaches the real Klaviyo or iPaaS.com.

    One widget drawing two lines where there were two Statics: on the first frame each widget
    costs its styling, layout and messages, and the bar's markup went through Content and the
    CSS tokenizer. The lines keep their look through component classes (the bar on $panel, the
    banner $warning 30% over the screen, as the two widgets had).
    """

    DEFAULT_CSS = """
    ScreenBar {
        dock: top;
        height: 1;
        width: 100%;
        &.-sandbox { height: 2; }
        &>.screen-bar--keys { background: $panel; color: $text; }
        &>.screen-bar--sandbox { background: $warning 30%; color: $text; text-style: bold; }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"screen-bar--keys", "screen-bar--sandbox"}

    def __init__(self, current: str) -> None:
        config: Any = getattr(self.app, "config", None)
        sandbox = bool(getattr(config, "sandbox", True))
        super().__init__(classes="-sandbox" if sandbox else None)
        self.current = current
        self.sandbox = sandbox
        self.labels = self.keys(current)

    def keys(self, current: str) -> list[tuple[str, Style]]:
        """Each screen's label with the key in force, the current one highlighted."""
        keymap: dict[str, str] = getattr(self.app, "keymap", {})
        parts: list[tuple[str, Style]] = []
        for mode, binding_id, label in SCREENS:
            key = keymap.get(binding_id, DEFAULT_KEYS[binding_id][0]).split(",")[0].upper()
            # Underlined, as Textual draws a span with a click action (a link).
            style = Style(underline=True, meta={"@click": f"app.switch_mode('{mode}')"})
            if mode == current:
                style = CURRENT + style
            parts.append((f" {key} {label} ", style))
            parts.append((" ", Style()))
        return parts

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            base = self.get_component_rich_style("screen-bar--keys")
            segments = [Segment(text, base + style) for text, style in self.labels]
            return Strip(segments).extend_cell_length(width, base).crop(0, width)
        if y == 1 and self.sandbox:
            style = self.get_component_rich_style("screen-bar--sandbox")
            left = max(0, (width - len(SANDBOX_TEXT)) // 2)
            right = max(0, width - left - len(SANDBOX_TEXT))
            pad = Style(color=style.color, bgcolor=style.bgcolor)  # as content-align pads
            line = [Segment(" " * left, pad), Segment(SANDBOX_TEXT, style),
                    Segment(" " * right, pad)]
            return Strip(line).crop(0, width)
        return Strip.blank(width)
