"""A footer that dims and undims its keys in place instead of rebuilding them."""

from __future__ import annotations

from typing import Any

from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class KeysFooter(Footer):
    """Footer whose keys change state in place when only which ones can run has changed.

    Textual's Footer recomposes on every bindings refresh, mounting a widget per key and
    restyling each (most of a preview's cost when a kept plan dims F5 and its refresh undims
    it); the same keys in the same order only need their `-disabled` class set.
    """

    def on_mount(self) -> None:
        # Footer shows keys only once the screen's bindings change after it mounted; one that
        # mounts after the first frame (when the screen's keys are already settled) shows them
        # now. Footer's own on_mount still subscribes it to later changes.
        self.bindings_changed(self.screen)

    def bindings_changed(self, screen: Any) -> None:
        if not self._bindings_ready or not self.is_attached or screen is not self.screen:
            super().bindings_changed(screen)
            return
        if not screen.app.app_focus:
            return
        wanted = self.wanted_keys()
        shown = list(self.query(FooterKey))
        if [(key.key, key.action) for key in shown] != [(k, a) for k, a, _ in wanted]:
            super().bindings_changed(screen)
            return
        for key, (_, _, enabled) in zip(shown, wanted, strict=True):
            key._disabled = not enabled
            key.set_class(not enabled, "-disabled")

    def wanted_keys(self) -> list[tuple[str, str, bool]]:
        """(key, action, enabled) in the order Footer.compose yields its keys."""
        active = self.screen.active_bindings
        first: dict[str, tuple[str, str, bool]] = {}
        for _, binding, enabled, _ in active.values():
            if binding.show and binding.action not in first:
                first[binding.action] = (binding.key, binding.action, enabled)
        keys = list(first.values())
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            found = active.get(self.app.COMMAND_PALETTE_BINDING)
            if found is not None:
                keys.append((found[1].key, found[1].action, found[2]))
        return keys
