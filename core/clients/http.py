"""What both service clients share: the retry policy, URL checks and the retrying session."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self
from urllib.parse import quote

import httpx

from core.clients.errors import (
    ApiError,
    error_from_response,
    json_body,
    malformed,
    origin,
    service_name,
    shorten,
)
from core.clients.limiter import Clock, Limiter, RateLimitState, Sleep
from core.clients.redaction import redact, register_secret

# ApiError and redact are re-exported: the engine and the CLI import them from here.
__all__ = [
    "ApiError",
    "ApiSession",
    "NetworkSettings",
    "RateLimitState",
    "RetryListener",
    "RetryNotice",
    "RetryPolicy",
    "SessionClient",
    "redact",
    "register_secret",
    "retry_message",
]

log = logging.getLogger("core.clients")


class NetworkSettings(Protocol):
    """The settings a RetryPolicy is built from; core.config.Config has them all."""

    @property
    def retry_attempts(self) -> int: ...
    @property
    def connect_timeout(self) -> float: ...
    @property
    def read_timeout(self) -> float: ...
    @property
    def total_timeout(self) -> float: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard a client tries before giving up: attempts, backoff, timeouts and a time box.

    `connect_timeout` and `read_timeout` left at None take the client's `timeout` argument
    (read) and the lesser of it and 10 s (connect). No attempt outlives `total_timeout`.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    total_timeout: float = 120.0
    connect_timeout: float | None = None
    read_timeout: float | None = None

    @classmethod
    def from_settings(cls, settings: NetworkSettings) -> RetryPolicy:
        """The policy the operator configured: attempts and the three timeouts."""
        return cls(
            max_attempts=max(1, settings.retry_attempts),
            total_timeout=settings.total_timeout,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
        )

    def backoff(self, attempt: int, rand: float) -> float:
        """Jittered exponential delay before attempt `attempt + 1` (rand in [0, 1))."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return float(ceiling * (0.5 + rand / 2))

    def timeouts(self, default_read: float) -> httpx.Timeout:
        """The httpx timeouts of one attempt under this policy."""
        read = self.read_timeout if self.read_timeout is not None else default_read
        return timeouts(read, connect=self.connect_timeout)


def timeouts(total: float, *, connect: float | None = None) -> httpx.Timeout:
    """Connect, read, write and pool timeouts derived from one figure (and a connect one)."""
    for name, value in (("timeout", total), ("connect timeout", connect)):
        if value is not None and not value > 0:
            raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    chosen = connect if connect is not None else min(10.0, total)
    return httpx.Timeout(connect=chosen, read=total, write=total, pool=total)


def _capped(base: httpx.Timeout, remaining: float) -> httpx.Timeout:
    """The attempt's timeouts, none longer than what is left of the total time box."""
    left = max(remaining, 0.001)

    def cap(value: float | None) -> float:
        return left if value is None else min(value, left)

    return httpx.Timeout(connect=cap(base.connect), read=cap(base.read), write=cap(base.write),
                         pool=cap(base.pool))


@dataclass(frozen=True, slots=True)
class RetryNotice:
    """A call is about to wait and try again: what it waits for, and when the next attempt is."""

    service: str  # as an operator knows it: "Klaviyo", "iPaaS.com"
    base_url: str  # scheme://host[:port] the calls go to
    attempt: int  # the attempt about to be made, counting from 1
    attempts: int  # the attempts the policy allows
    wait_s: float
    cause: str  # what went wrong with the last attempt: "not answering", "answered 503"
    method: str = ""
    path: str = ""

    def __str__(self) -> str:
        return retry_message(self)


RetryListener = Callable[[RetryNotice], None]


def retry_message(notice: RetryNotice) -> str:
    """The one line the CLI, the console and the log show while a call waits to retry."""
    wait = f"{notice.wait_s:.1f}" if notice.wait_s < 1 else f"{notice.wait_s:.0f}"
    return (f"{notice.service} at {notice.base_url} {notice.cause}; "
            f"attempt {notice.attempt}/{notice.attempts} in {wait} s")


def retry_cause(error: ApiError) -> str:
    """What an operator is told the last attempt ran into, in a few words."""
    if error.code == "timeout":
        return "not answering"
    if error.code == "connection_error":
        return "not reachable"
    if error.code == "malformed_response":
        return "sent a garbled answer"
    if error.status == 429:
        return "rate limited (429)"
    if error.status is not None:
        return f"answered {error.status}"
    return "failed"


# Left as they are in a query: characters RFC 3986 allows there, of which Klaviyo's filters
# are made (any(email,['a@b.co'])). quote() escapes a text with anything to escape one byte
# at a time, 0.1 ms for a filter of 100 emails; "[", "]" and "+" are in nearly every filter, so
# they pass it and are escaped after, in one scan each.
_QUERY_SAFE = "'(),:@[]+"


def _query_part(text: str) -> str:
    return (quote(text, safe=_QUERY_SAFE)
            .replace("[", "%5B").replace("]", "%5D").replace("+", "%2B"))


def query_string(params: Mapping[str, str]) -> str:
    """A query's text, percent-encoded so that it reads back as these params."""
    return "&".join(f"{_query_part(key)}={_query_part(value)}" for key, value in params.items())


def refuse_plain_http(service: str, base_url: str) -> None:
    """ValueError unless the URL is https, or plain http to this machine (the sandbox)."""
    url = httpx.URL(base_url)
    if url.scheme == "https":
        return
    host = url.host
    loopback = host == "localhost"
    with contextlib.suppress(ValueError):
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    if url.scheme != "http" or not loopback:
        raise ValueError(
            f"{service} base URL must be https (plain http only to loopback), got "
            f"{url.scheme}://{host}"
        )


class ApiSession:
    """One httpx.AsyncClient with retries, Retry-After, backoff, pacing and secret-free errors."""

    def __init__(
        self,
        service: str,
        *,
        base_url: str,
        headers: Mapping[str, str],
        secrets: Sequence[str],
        limiter: Limiter,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        on_retry: RetryListener | None = None,
    ) -> None:
        self.service = service
        self.limiter = limiter
        self.retry = retry or RetryPolicy()
        self.base_url = origin(base_url)
        self._listeners: list[RetryListener] = [on_retry] if on_retry else []
        self._timeouts = self.retry.timeouts(timeout)
        self._secrets = tuple(s for s in secrets if s)
        for secret in self._secrets:
            register_secret(secret)
        self._clock = clock
        self._sleep = sleep
        self._rand = rand
        self._parsed: weakref.WeakKeyDictionary[httpx.Response, Any] = (
            weakref.WeakKeyDictionary()
        )
        if transport is None:
            refuse_plain_http(service, base_url)
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=dict(headers),
            transport=transport,
            timeout=self._timeouts,
            # Certificates are always checked; a redirect never carries the credentials on.
            verify=True,
            follow_redirects=False,
        )
        # Paths are absolute ("/api/profiles"), joined to the base as httpx would join them.
        self._prefix = str(self._client.base_url).rstrip("/")

    def __repr__(self) -> str:
        return f"ApiSession({self.service!r}, base_url={str(self._client.base_url)!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    def on_retry(self, listener: RetryListener) -> Callable[[], None]:
        """Call `listener` before every retry wait; returns what unsubscribes it."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    def _notify(self, notice: RetryNotice) -> None:
        for listener in list(self._listeners):
            try:
                listener(notice)
            except Exception:
                # A broken display must not turn a retry into a failed transfer.
                log.exception("retry listener %r failed", listener)

    async def request(
        self,
        method: str,
        path: str,
        *,
        buckets: Sequence[str] = (),
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        ok: Iterable[int] = (),
        parse: bool = False,
        check: Callable[[httpx.Response], str | None] | None = None,
    ) -> httpx.Response:
        """Send with retries; 2xx and any status in `ok` return, the rest raise ApiError.

        With `parse`, a 2xx whose body is not JSON (cut off, an HTML page) counts as a
        failed attempt and is retried; `json()` then returns the parsed body. `check` may
        name what is wrong with a 2xx body, which then counts as garbled in the same way.
        """
        accepted = set(ok)
        policy = self.retry
        # Time on the wire and in backoff. Waits for the rate limiter are this process's own
        # pacing, so they do not eat into the time box an answering server gets.
        spent = 0.0
        attempt = 0
        while True:
            attempt += 1
            await self.limiter.acquire(buckets)
            sent = self._clock()
            error = await self._attempt(
                method, path, buckets, params, body, accepted, policy.total_timeout - spent
            )
            spent += self._clock() - sent
            if isinstance(error, httpx.Response):
                response = error
                problem = check(response) if check and response.is_success else None
                if problem is not None:
                    error = malformed(self.service, response, problem)
                elif not (parse and response.is_success):
                    return response
                else:
                    try:
                        self._parsed[response] = json_body(self.service, response, self._secrets)
                        return response
                    except ApiError as garbled:
                        error = garbled
            if not error.transient or attempt >= policy.max_attempts:
                error.stamp(attempts=attempt, base_url=self.base_url)
                raise error
            delay = policy.backoff(attempt, self._rand())
            if error.retry_after is not None:
                # Never before Retry-After; a little jitter keeps parallel callers apart.
                delay = error.retry_after + self._rand() * min(1.0, policy.base_delay)
            if spent + delay > policy.total_timeout:
                # The time box, not the attempt count, ended it: say both, so "after 4
                # attempts" is never read as all of the 5 configured.
                error.stamp(attempts=attempt, attempts_allowed=policy.max_attempts,
                            total_timeout=policy.total_timeout, base_url=self.base_url)
                raise error
            notice = RetryNotice(
                service=service_name(self.service), base_url=self.base_url,
                attempt=attempt + 1, attempts=policy.max_attempts, wait_s=delay,
                cause=retry_cause(error), method=method, path=path,
            )
            log.warning("%s (%s %s: %s)", retry_message(notice), method, path,
                        error.code or error.status or "no response")
            self._notify(notice)
            slept_from = self._clock()
            await self._sleep(delay)
            spent += self._clock() - slept_from

    def _url(self, path: str, params: Mapping[str, str] | None) -> str:
        """The absolute URL of a call, its query encoded here: httpx re-reads a URL it merges
        with a base, and encodes a params mapping by another pass over every character."""
        return f"{self._prefix}{path}?{query_string(params)}" if params else self._prefix + path

    async def _attempt(
        self,
        method: str,
        path: str,
        buckets: Sequence[str],
        params: Mapping[str, str] | None,
        body: bytes | None,
        accepted: set[int],
        remaining: float,
    ) -> httpx.Response | ApiError:
        limits = _capped(self._timeouts, remaining)
        try:
            response = await self._client.request(
                method, self._url(path, params), content=body, timeout=limits
            )
        except httpx.TimeoutException as exc:
            waited = _waited(exc, limits)
            return ApiError(
                self.service, code="timeout", method=method, path=path, base_url=self.base_url,
                detail=shorten(redact(f"no answer in time ({waited})", self._secrets)),
            )
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            return ApiError(
                self.service, code="connection_error", method=method, path=path,
                base_url=self.base_url,
                detail=shorten(redact(f"could not reach the service: {reason}", self._secrets)),
            )
        for bucket in buckets:
            self.limiter.observe(bucket, response.headers)
        if response.is_success or response.status_code in accepted:
            return response
        error = error_from_response(self.service, response, self._secrets)
        if response.status_code == 429:
            for bucket in buckets:
                self.limiter.throttled(bucket, error.retry_after)
        return error

    def json(self, response: httpx.Response) -> Any:
        """The JSON body of a success response (ApiError if unreadable)."""
        if response in self._parsed:
            return self._parsed.pop(response)
        return json_body(self.service, response, self._secrets)

    def rate_limits(self) -> dict[str, RateLimitState]:
        return self.limiter.states()


def _waited(exc: httpx.TimeoutException, limits: httpx.Timeout) -> str:
    """Which timeout ran out, and its length: "ReadTimeout after 30 s"."""
    seconds = {
        httpx.ConnectTimeout: limits.connect,
        httpx.ReadTimeout: limits.read,
        httpx.WriteTimeout: limits.write,
        httpx.PoolTimeout: limits.pool,
    }.get(type(exc))
    after = f" after {seconds:.3g} s" if seconds is not None else ""
    return f"{type(exc).__name__}{after}"


class SessionClient:
    """What both service clients share: the session's lifetime, retry notices, rate limits."""

    _session: ApiSession

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._session.aclose()

    @property
    def base_url(self) -> str:
        """scheme://host[:port] this client's calls go to."""
        return self._session.base_url

    @property
    def retry_policy(self) -> RetryPolicy:
        """The attempts and timeouts every call of this client keeps to."""
        return self._session.retry

    def on_retry(self, listener: RetryListener) -> Callable[[], None]:
        """Tell `listener` before every retry wait of any call; returns what unsubscribes it."""
        return self._session.on_retry(listener)

    def rate_limits(self) -> dict[str, RateLimitState]:
        """Per endpoint bucket: published limits, the server's last RateLimit-* and throttles."""
        return self._session.rate_limits()
