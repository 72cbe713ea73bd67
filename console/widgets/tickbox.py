"""A checkbox whose box is empty when off, so its state reads without colour."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox


class TickBox(Checkbox):
    """Checkbox drawn ▐X▌ when ticked and ▐ ▌ when not (Textual's own shows X either way)."""

    def render(self) -> Content:
        self.BUTTON_INNER = "X" if self.value else " "
        return super().render()
