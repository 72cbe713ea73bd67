"""The sandbox banner: always visible while the console runs on emulated services."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static


class SandboxBanner(Static):
    """Says, on every screen, that nothing reaches the real Klaviyo or iPaaS.com."""

    def __init__(self, **kwargs: Any) -> None:
        # Set up when composed, not on mount, so the first frame is laid out once.
        super().__init__(TEXT, **kwargs)
        config: Any = getattr(self.app, "config", None)
        self.display = bool(getattr(config, "sandbox", True))


TEXT = "SANDBOX · emulated Klaviyo and iPaaS.com · nothing leaves this machine"
