"""While a call retries, the console says what it waits for and when it tries again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from console.app import ConsoleApp
from console.retry_notices import QUIET_SECONDS, RetryNotices, watch_retries
from console.widgets.status import StatusLine
from core.clients.http import RetryNotice
from tests.ui.guard_stub import GuardStub
from tests.ui.helpers import settle, text_of, until
from tests.ui.stub_engine import StubConfig, stub_factory

NOTICE = RetryNotice(service="Klaviyo", base_url="https://a.klaviyo.com", attempt=2,
                     attempts=5, wait_s=4.0, cause="not answering")


def test_one_toast_per_service_while_a_batch_retries_many_calls():
    shown: list[tuple[str, dict]] = []
    now = [100.0]
    notices = RetryNotices(lambda text, **kw: shown.append((text, kw)), clock=lambda: now[0])
    notices(NOTICE)
    notices(NOTICE)
    now[0] += QUIET_SECONDS
    notices(NOTICE)
    assert [text for text, _ in shown] == [
        "Klaviyo at https://a.klaviyo.com not answering; attempt 2/5 in 4 s"] * 2
    assert shown[0][1]["markup"] is False and shown[0][1]["timeout"] >= 4


def test_an_engine_without_retry_notices_is_left_alone():
    assert watch_retries(object(), object())() is None


class RetryingPreview(GuardStub):
    """A preview whose call waits to retry once, and stays waiting until `go` is set."""

    def __init__(self, config: StubConfig) -> None:
        super().__init__(config)
        self.go = asyncio.Event()

    async def preview(self, customer_id: str) -> Any:
        for listener in list(self.retry_listeners):
            listener(NOTICE)
        await self.go.wait()
        return await super().preview(customer_id)


def console_over(engine: GuardStub, tmp_path: Path) -> tuple[ConsoleApp, list[str]]:
    app = ConsoleApp(engine.config, engine_factory=stub_factory(engine), keymap={},
                     recent_path=tmp_path / "recent.json")
    toasts: list[str] = []
    app.notify = lambda message, **kw: toasts.append(str(message))  # type: ignore[method-assign]
    return app, toasts


async def test_the_console_shows_a_wait_nobody_else_shows_as_a_toast(tmp_path):
    engine = GuardStub(StubConfig(state_dir=tmp_path))
    app, toasts = console_over(engine, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        [listener] = engine.retry_listeners  # one listener for the whole console
        listener(NOTICE)
        await until(pilot, lambda: any("attempt 2/5 in 4 s" in t for t in toasts))


async def test_the_lookup_names_its_own_wait_in_its_status_line_only(tmp_path):
    engine = RetryingPreview(StubConfig(state_dir=tmp_path))
    app, toasts = console_over(engine, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert len(engine.retry_listeners) == 1
        await pilot.press(*"55260", "enter")
        await until(pilot, lambda: "attempt 2/5 in 4 s" in text_of(pilot, "#status"))
        assert pilot.app.screen.query_one("#status", StatusLine).busy
        assert not [t for t in toasts if "attempt" in t]  # not a toast as well
        engine.go.set()
        await settle(pilot)
        assert "Preview of customer 55260" in text_of(pilot, "#status")
        assert not [t for t in toasts if "attempt" in t]
