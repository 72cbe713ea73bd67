"""The lookup's status line, with its own busy indicator in front of the words."""

from __future__ import annotations

from time import monotonic

from textual.app import RenderResult
from textual.color import Color, Gradient
from textual.content import Content
from textual.style import Style
from textual.widgets import Static

DOT = "\u25cf"
INDICATOR_WIDTH = 6  # cells in front of the words while busy, as LoadingIndicator(width: 6)


class StatusLine(Static):
    """One line of status words; while `busy` the dots of a LoadingIndicator pulse before them.

    One widget where there were three (a Horizontal, a LoadingIndicator, a Static): each
    widget on the first frame costs its share of styling, layout and messages.
    """

    def __init__(self, text: str = "", *, id: str | None = None) -> None:
        super().__init__(text, id=id)
        self._busy_since: float | None = None

    @property
    def busy(self) -> bool:
        return self._busy_since is not None

    @busy.setter
    def busy(self, busy: bool) -> None:
        if busy == self.busy:
            return
        self._busy_since = monotonic() if busy else None
        self.auto_refresh = 1 / 16 if busy else None
        self.refresh()

    def indicator(self) -> Content:
        """LoadingIndicator's pulse: the dots blend from the background to $primary."""
        if self.app.animation_level == "none":
            return Content("...".ljust(INDICATOR_WIDTH))
        elapsed = monotonic() - (self._busy_since or 0.0)
        background = self.colors[2]
        primary = Color.parse(self.app.theme_variables.get("primary", "blue"))
        gradient = Gradient((0.0, background.blend(primary, 0.1)), (0.7, primary),
                            (1.0, primary.lighten(0.1)))
        parts: list[tuple[str, Style]] = []
        for number in range(INDICATOR_WIDTH // 2):
            blend = (elapsed * 0.8 - number / 8) % 1
            color = gradient.get_color((1 - blend) ** 2)
            parts.append((f"{DOT} ", Style(foreground=color)))
        return Content.assemble(*parts)

    def render(self) -> RenderResult:
        words = self.visual
        if self.busy and isinstance(words, Content):
            return Content.assemble(self.indicator(), words)
        return words
