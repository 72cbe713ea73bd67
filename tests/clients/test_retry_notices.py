"""While a call retries, listeners hear what it waits for; no call outlives its time box."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from core.clients.errors import origin
from core.clients.http import ApiError, ApiSession, RetryNotice, RetryPolicy, retry_message
from core.clients.ipaas import IpaasClient
from core.clients.klaviyo import KlaviyoClient
from core.clients.limiter import Limiter
from core.config import Config
from tests.clients.fakes import KEY, TOKEN, Recorder, VirtualClock, klaviyo_error, sequence


def _klaviyo(handler: Recorder, clock: VirtualClock, policy: RetryPolicy) -> KlaviyoClient:
    return KlaviyoClient(KEY, transport=handler.transport, clock=clock, sleep=clock.sleep,
                         rand=lambda: 0.0, retry=policy, limiter=False)


def test_the_operator_line_comes_from_one_function() -> None:
    notice = RetryNotice(service="Klaviyo", base_url="https://a.klaviyo.com", attempt=2,
                         attempts=5, wait_s=4.0, cause="not answering")
    expected = "Klaviyo at https://a.klaviyo.com not answering; attempt 2/5 in 4 s"
    assert retry_message(notice) == expected == str(notice)
    short = RetryNotice("iPaaS.com", "https://api.ipaas.com", 3, 5, 0.25, "answered 503")
    assert retry_message(short) == (
        "iPaaS.com at https://api.ipaas.com answered 503; attempt 3/5 in 0.2 s")


async def test_each_retry_is_announced_with_the_true_attempt_and_wait() -> None:
    clock = VirtualClock()
    handler = Recorder(sequence(klaviyo_error(503, "error", "Service unavailable")))
    policy = RetryPolicy(max_attempts=5, base_delay=0.5, total_timeout=1000)
    heard: list[RetryNotice] = []
    async with _klaviyo(handler, clock, policy) as client:
        client.on_retry(heard.append)
        with pytest.raises(ApiError) as caught:
            await client.get_profile("01J0000000000000000000000A")
    assert [n.attempt for n in heard] == [2, 3, 4, 5]
    assert {(n.service, n.base_url, n.attempts, n.cause) for n in heard} == {
        ("Klaviyo", "https://a.klaviyo.com", 5, "answered 503")}
    assert [n.wait_s for n in heard] == clock.slept
    assert len(handler.requests) == 5
    assert caught.value.attempts == 5 and "after 5 attempts" in str(caught.value)


@pytest.mark.parametrize(("failure", "cause"), [
    (httpx.ReadTimeout("timed out"), "not answering"),
    (httpx.ConnectError("Connection refused"), "not reachable"),
    (klaviyo_error(429, "throttled", "Request was throttled."), "rate limited (429)"),
])
async def test_the_cause_says_what_the_call_waits_for(failure: object, cause: str) -> None:
    clock = VirtualClock()
    ok = httpx.Response(200, json={"id": 55260})
    handler = Recorder(sequence(failure, ok))  # type: ignore[arg-type]
    heard: list[RetryNotice] = []
    client = IpaasClient(TOKEN, "123", transport=handler.transport, clock=clock,
                         sleep=clock.sleep, on_retry=heard.append)
    async with client:
        await client.get_customer("55260")
    assert [n.cause for n in heard] == [cause]
    assert heard[0].service == "iPaaS.com" and heard[0].base_url == "https://api.ipaas.com"


async def test_an_unsubscribed_or_broken_listener_never_breaks_the_call() -> None:
    clock = VirtualClock()
    ok = httpx.Response(200, json={"id": 55260})
    handler = Recorder(sequence(httpx.ReadTimeout("t"), httpx.ReadTimeout("t"), ok))
    heard: list[RetryNotice] = []

    def broken(notice: RetryNotice) -> None:
        raise RuntimeError("display gone")

    client = IpaasClient(TOKEN, "123", transport=handler.transport, clock=clock,
                         sleep=clock.sleep)
    async with client:
        stop = client.on_retry(heard.append)
        client.on_retry(broken)
        stop()
        assert await client.get_customer("55260") is not None
    assert heard == []


async def test_a_time_box_that_ends_the_retries_is_named_with_the_true_count() -> None:
    # The issue: a server that never answers, 30 s read timeout, 120 s total, 5 attempts
    # configured; the message said "after 4 attempts", read as all that were configured.
    clock = VirtualClock()
    read_timeouts: list[float] = []

    async def never_answers(request: httpx.Request) -> httpx.Response:
        read = request.extensions["timeout"]["read"]
        read_timeouts.append(read)
        clock.now += read
        raise httpx.ReadTimeout("timed out")

    policy = RetryPolicy(max_attempts=5, read_timeout=30.0, total_timeout=120.0)
    client = IpaasClient(TOKEN, "123", transport=httpx.MockTransport(never_answers),
                         clock=clock, sleep=clock.sleep, rand=lambda: 0.0, retry=policy)
    start = clock.now
    async with client:
        with pytest.raises(ApiError) as caught:
            await client.get_customer("55260")
    error = caught.value
    assert error.attempts == len(read_timeouts) == 4
    assert "after 4 of 5 attempts" in str(error) and "120 s total timeout" in str(error)
    assert "https://api.ipaas.com" in str(error)
    # The last attempt only gets what is left of the time box, so the call ends on time.
    assert read_timeouts[:3] == [30.0, 30.0, 30.0] and read_timeouts[3] < 30.0
    assert clock.now - start <= 120.0


async def test_timeouts_come_from_the_policy() -> None:
    clock = VirtualClock()
    seen: list[dict[str, float]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.extensions["timeout"]))
        return httpx.Response(200, json={"id": 1})

    policy = RetryPolicy(connect_timeout=2.0, read_timeout=7.0, total_timeout=60.0)
    client = IpaasClient(TOKEN, "123", transport=httpx.MockTransport(handler), clock=clock,
                         sleep=clock.sleep, retry=policy)
    async with client:
        await client.get_customer("1")
    assert seen[0]["connect"] == 2.0 and seen[0]["read"] == 7.0
    default = RetryPolicy().timeouts(30.0)
    assert (default.connect, default.read) == (10.0, 30.0)


def test_the_configured_settings_make_the_policy(tmp_path: Path) -> None:
    config = Config.load(env={"KLAVIYO_CONSOLE_RETRY_ATTEMPTS": "3",
                              "KLAVIYO_CONSOLE_CONNECT_TIMEOUT": "2",
                              "KLAVIYO_CONSOLE_READ_TIMEOUT": "9",
                              "KLAVIYO_CONSOLE_TOTAL_TIMEOUT": "45",
                              "XDG_CONFIG_HOME": str(tmp_path)},
                         state_dir=tmp_path, sandbox=True)
    policy = RetryPolicy.from_settings(config)
    assert (policy.max_attempts, policy.connect_timeout, policy.read_timeout,
            policy.total_timeout) == (3, 2.0, 9.0, 45.0)
    limits = policy.timeouts(30.0)
    assert (limits.connect, limits.read) == (2.0, 9.0)


@pytest.mark.parametrize("failure", [httpx.ReadTimeout("t"), httpx.ConnectError("refused"),
                                     klaviyo_error(500, "error", "boom")])
async def test_every_network_error_names_the_service_and_its_host(failure: object) -> None:
    clock = VirtualClock()
    handler = Recorder(sequence(failure))  # type: ignore[arg-type]
    client = KlaviyoClient(KEY, base_url="https://eu.klaviyo.example:8443",
                           transport=handler.transport, clock=clock, sleep=clock.sleep,
                           retry=RetryPolicy(max_attempts=2), limiter=False)
    async with client:
        with pytest.raises(ApiError) as caught:
            await client.get_profile("01J0000000000000000000000A")
    message = str(caught.value)
    assert message.startswith("klaviyo") and "https://eu.klaviyo.example:8443" in message
    assert "after 2 attempts" in message


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port whose kernel accepts connections that nothing ever answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


async def test_a_server_that_never_answers_fails_within_the_total_timeout(
    silent_server: int,
) -> None:
    policy = RetryPolicy(max_attempts=5, base_delay=0.05, connect_timeout=5.0,
                         read_timeout=30.0, total_timeout=1.0)
    client = IpaasClient(TOKEN, "123", base_url=f"http://127.0.0.1:{silent_server}",
                         retry=policy)
    async with client:
        with pytest.raises(ApiError) as caught:
            # Only a guard against hanging the suite: without the time box this takes 30 s+.
            await asyncio.wait_for(client.get_customer("55260"), timeout=20)
    error = caught.value
    assert error.code == "timeout" and error.attempts == 1
    assert f"http://127.0.0.1:{silent_server}" in str(error)
    assert "after 1 of 5 attempts (the 1 s total timeout ran out)" in str(error)


async def test_a_silent_server_is_announced_as_not_answering(silent_server: int) -> None:
    heard: list[RetryNotice] = []
    policy = RetryPolicy(max_attempts=2, base_delay=0.05, read_timeout=0.2, total_timeout=10.0)
    client = IpaasClient(TOKEN, "123", base_url=f"http://127.0.0.1:{silent_server}",
                         retry=policy, on_retry=heard.append)
    async with client:
        with pytest.raises(ApiError) as caught:
            await asyncio.wait_for(client.get_customer("55260"), timeout=20)
    assert [(n.cause, n.attempt, n.attempts) for n in heard] == [("not answering", 2, 2)]
    assert str(heard[0]).startswith(
        f"iPaaS.com at http://127.0.0.1:{silent_server} not answering")
    message = str(caught.value)
    assert "after 2 attempts" in message and "ReadTimeout after 0.2 s" in message


async def test_waiting_for_the_rate_limiter_does_not_eat_the_time_box() -> None:
    clock = VirtualClock()

    class BusyLimiter(Limiter):
        async def acquire(self, buckets: Sequence[str]) -> None:
            clock.now += 500.0  # our own pacing held the call longer than the whole box

    reads: list[float] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        reads.append(request.extensions["timeout"]["read"])
        return httpx.Response(200, json={"ok": True})

    session = ApiSession("ipaas", base_url="https://api.ipaas.com", headers={}, secrets=(),
                         limiter=BusyLimiter({}, clock=clock, sleep=clock.sleep),
                         transport=httpx.MockTransport(handler), clock=clock, sleep=clock.sleep,
                         retry=RetryPolicy(read_timeout=30.0, total_timeout=60.0))
    try:
        response = await session.request("GET", "/customers/v2/Customers")
    finally:
        await session.aclose()
    assert response.status_code == 200 and reads == [30.0]


@pytest.mark.parametrize(("url", "shown"), [
    ("https://a.klaviyo.com/", "https://a.klaviyo.com"),
    ("https://user:pw@api.ipaas.com:8443/prefix?x=1", "https://api.ipaas.com:8443"),
    ("http://[::1]:9000", "http://[::1]:9000"),
])
def test_errors_show_the_base_urls_origin_only(url: str, shown: str) -> None:
    assert origin(url) == shown
