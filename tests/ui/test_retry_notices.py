"""While a call retries, the console says what it waits for and when it tries again."""

from __future__ import annotations

from console.retry_notices import QUIET_SECONDS, RetryNotices, watch_retries
from core.clients.http import RetryNotice
from tests.ui.guard_stub import GuardStub
from tests.ui.helpers import settle, until
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


async def test_the_console_shows_the_wait_as_a_toast(tmp_path):
    from console.app import ConsoleApp

    engine = GuardStub(StubConfig(state_dir=tmp_path))
    app = ConsoleApp(engine.config, engine_factory=stub_factory(engine), keymap={},
                     recent_path=tmp_path / "recent.json")
    toasts: list[str] = []
    app.notify = lambda message, **kw: toasts.append(str(message))  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        # The app's toasts, and the lookup's status line while it waits on its own preview.
        [toaster] = [heard for heard in engine.retry_listeners
                     if type(heard).__name__ == "RetryNotices"]
        toaster(NOTICE)
        await until(pilot, lambda: any("attempt 2/5 in 4 s" in t for t in toasts))
