"""The sandbox banner: always visible while the console runs on emulated services."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static


class SandboxBanner(Static):
    """Says, on every screen, that nothing reaches the real Klaviyo or iPaaS.com."""

    def on_mount(self) -> None:
        config: Any = getattr(self.app, "config", None)
        on_sandbox = bool(getattr(config, "sandbox", True))
        self.display = on_sandbox
        self.update("SANDBOX · emulated Klaviyo and iPaaS.com · nothing leaves this machine")
