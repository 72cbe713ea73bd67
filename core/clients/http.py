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
from typing import Any, Self

import httpx

from core.clients.errors import ApiError, error_from_response, json_body, malformed, shorten
from core.clients.limiter import Clock, Limiter, RateLimitState, Sleep
from core.clients.redaction import redact, register_secret

# ApiError and redact are re-exported: the engine and the CLI import them from here.
__all__ = [
    "ApiError",
    "ApiSession",
    "RateLimitState",
    "RetryPolicy",
    "SessionClient",
    "redact",
    "register_secret",
]

log = logging.getLogger("core.clients")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard a client tries before giving up: attempts, backoff bounds and a total time box."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    total_timeout: float = 120.0

    def backoff(self, attempt: int, rand: float) -> float:
        """Jittered exponential delay before attempt `attempt + 1` (rand in [0, 1))."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return float(ceiling * (0.5 + rand / 2))


def timeouts(total: float) -> httpx.Timeout:
    """Connect, read, write and pool timeouts derived from one figure."""
    if not total > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {total!r}")
    return httpx.Timeout(connect=min(10.0, total), read=total, write=total, pool=total)


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
    ) -> None:
        self.service = service
        self.limiter = limiter
        self.retry = retry or RetryPolicy()
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
            timeout=timeouts(timeout),
            # Certificates are always checked; a redirect never carries the credentials on.
            verify=True,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"ApiSession({self.service!r}, base_url={str(self._client.base_url)!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

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
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            await self.limiter.acquire(buckets)
            error = await self._attempt(method, path, buckets, params, body, accepted)
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
            error.attempts = attempt
            if not error.transient or attempt >= self.retry.max_attempts:
                raise error
            delay = self.retry.backoff(attempt, self._rand())
            if error.retry_after is not None:
                # Never before Retry-After; a little jitter keeps parallel callers apart.
                delay = error.retry_after + self._rand() * min(1.0, self.retry.base_delay)
            if self._clock() - started + delay > self.retry.total_timeout:
                raise error
            log.warning(
                "%s %s %s: %s; attempt %d of %d, retrying in %.2f s",
                self.service, method, path, error.code or error.status or "no response",
                attempt, self.retry.max_attempts, delay,
            )
            await self._sleep(delay)

    async def _attempt(
        self,
        method: str,
        path: str,
        buckets: Sequence[str],
        params: Mapping[str, str] | None,
        body: bytes | None,
        accepted: set[int],
    ) -> httpx.Response | ApiError:
        try:
            response = await self._client.request(method, path, params=params, content=body)
        except httpx.TimeoutException as exc:
            return ApiError(
                self.service, code="timeout", method=method, path=path,
                detail=shorten(redact(f"no answer in time ({type(exc).__name__})", self._secrets)),
            )
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            return ApiError(
                self.service, code="connection_error", method=method, path=path,
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


class SessionClient:
    """What both service clients share: the session's lifetime and its rate-limit view."""

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

    def rate_limits(self) -> dict[str, RateLimitState]:
        """Per endpoint bucket: published limits, the server's last RateLimit-* and throttles."""
        return self._session.rate_limits()
