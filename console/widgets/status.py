"""The lookup's status line: busy dots before the words, and the hint below until a preview."""

from __future__ import annotations

from time import monotonic
from typing import Any

from textual.app import RenderResult
from textual.color import Color, Gradient
from textual.content import Content
from textual.geometry import Size
from textual.style import Style
from textual.widgets import Static

DOT = "\u25cf"
INDICATOR_WIDTH = 6  # cells in front of the words while busy, as LoadingIndicator(width: 6)


class StatusLine(Static):
    """Status words, wrapped when long; while `busy` LoadingIndicator's dots pulse before them.

    Until the first preview the hint is drawn under it, after a blank line (as the hint's own
    Static with `padding: 1 2` was). One widget where there were four (a Horizontal, a
    LoadingIndicator and two Statics): each widget on the first frame costs its share of
    styling, layout and messages.
    """

    def __init__(self, text: str = "", *, hint: str = "", id: str | None = None) -> None:
        super().__init__(Content(text), id=id)
        self.busy_since: float | None = None
        self.hint_content = Content(hint) if hint else None

    @property
    def hint(self) -> str:
        return self.hint_content.plain if self.hint_content is not None else ""

    @hint.setter
    def hint(self, hint: str) -> None:
        self.hint_content = Content(hint) if hint else None
        self.refresh(layout=True)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        rules: Any = self.styles  # what Widget.get_content_height hands a visual
        words = self.visual
        lines = 1
        if isinstance(words, Content) and words.cell_length > width - INDICATOR_WIDTH:
            # Long words wrap rather than lose their end (the fix an operator must read).
            lines = Content.assemble(" " * INDICATOR_WIDTH, words).get_height(rules, width)
        if self.hint_content is None:
            return lines
        return lines + 1 + self.hint_content.get_height(rules, width) + 1

    @property
    def busy(self) -> bool:
        return self.busy_since is not None

    @busy.setter
    def busy(self, busy: bool) -> None:
        if busy == self.busy:
            return
        self.busy_since = monotonic() if busy else None
        self.auto_refresh = 1 / 16 if busy else None
        self.refresh()

    def indicator(self) -> Content:
        """LoadingIndicator's pulse: the dots blend from the background to $primary."""
        if self.app.animation_level == "none":
            return Content("...".ljust(INDICATOR_WIDTH))
        elapsed = monotonic() - (self.busy_since or 0.0)
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
            words = Content.assemble(self.indicator(), words)
        if self.hint_content is None or not isinstance(words, Content):
            return words
        return Content.assemble(words, "\n\n", self.hint_content, "\n")
