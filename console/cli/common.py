"""What the commands print with: rich on stdout, plain lines on stderr, JSON documents."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console

from console import render

if TYPE_CHECKING:
    from core.clients.http import RetryNotice
    from core.engine import Engine

SANDBOX_LINE = "sandbox: talking to the built-in emulators, not to real Klaviyo or iPaaS.com"


def out() -> Console:
    """The console on stdout."""
    return render.make_console()


def print_json(document: Any) -> None:
    """The one JSON document a --json command prints."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def say(message: str, *, style: str | None = None) -> None:
    """One line on stderr, printed as given (no markup)."""
    render.make_console(stderr=True).print(message, style=style)


def sandbox_banner(engine: Engine) -> None:
    """Say on stderr that the sandbox answers; stdout (and so --json) stays clean."""
    if engine.sandbox is not None:
        say(SANDBOX_LINE, style="dim")


class RetryLines:
    """Say on stderr what a retrying call waits for, once per wave: calls running side by side
    that hit the same outage say the same thing at the same moment."""

    def __init__(self, *, quiet_s: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self._quiet_s = quiet_s
        self._clock = clock
        self._last: dict[tuple[str, str, int], float] = {}

    def __call__(self, notice: RetryNotice) -> None:
        key = (notice.service, notice.cause, notice.attempt)
        now = self._clock()
        if now - self._last.get(key, float("-inf")) < self._quiet_s:
            return
        self._last[key] = now
        say(str(notice), style="yellow")
