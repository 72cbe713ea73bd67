"""While a call waits to retry, the console says what it waits for and when it tries again."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

# A batch retries many calls at once; one toast per service in this window is enough to read.
QUIET_SECONDS = 2.0


class RetryNotices:
    """Turns the clients' retry notices into toasts ("Klaviyo at https://… not answering;
    attempt 2/5 in 4 s"), at most one per service every QUIET_SECONDS."""

    def __init__(self, notify: Callable[..., None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.notify = notify
        self.clock = clock
        self.shown: dict[str, float] = {}

    def __call__(self, notice: Any) -> None:
        service = str(getattr(notice, "service", ""))
        now = self.clock()
        if now - self.shown.get(service, -QUIET_SECONDS) < QUIET_SECONDS:
            return
        self.shown[service] = now
        wait = float(getattr(notice, "wait_s", 0.0))
        self.notify(str(notice), title="Waiting to retry", severity="warning", markup=False,
                    timeout=max(3.0, wait + 1.0))


def watch_retries(app: Any, engine: Any) -> Callable[[], None]:
    """Subscribe the console to the engine's retry notices; returns the unsubscribe.

    One listener for the whole console, so each wait is shown in one place: the screen on
    view takes it when it has a line for it (`show_retry(text) -> bool`, the lookup's status
    while its own call waits), else it is a toast. The engine offers `on_retry(listener) ->
    unsubscribe` over both clients; an engine without it shows no notices (the calls still
    retry).
    """
    subscribe = getattr(engine, "on_retry", None)
    if not callable(subscribe):
        return lambda: None
    toasts = RetryNotices(lambda *args, **kw: app.notify(*args, **kw))

    def shown(notice: Any) -> None:
        show_retry = getattr(app.screen, "show_retry", None)
        if callable(show_retry) and show_retry(str(notice)):
            return
        toasts(notice)

    unsubscribe = subscribe(lambda notice: app.call_later(shown, notice))
    return unsubscribe if callable(unsubscribe) else (lambda: None)
