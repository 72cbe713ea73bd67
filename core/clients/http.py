"""What both service clients share: typed API errors, the retry policy and the retrying session."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import random
import re
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self

import httpx

from core.clients.limiter import Clock, Limiter, RateLimitState, Sleep
from core.model import ErrorKind

__all__ = ["ApiError", "ApiSession", "RateLimitState", "RetryPolicy", "redact", "register_secret"]

log = logging.getLogger("core.clients")

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
_CODED = re.compile(r"\b[A-Z]{4}-\d{3,5}\b")
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_REDACTED = "[redacted]"
_MAX_TEXT = 300


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


class ApiError(Exception):
    """A failed call to Klaviyo or iPaaS.com, in the service's own terms; never holds a secret."""

    def __init__(
        self,
        service: str,
        *,
        status: int | None = None,
        code: str | None = None,
        title: str | None = None,
        detail: str | None = None,
        pointer: str | None = None,
        parameter: str | None = None,
        duplicate_profile_id: str | None = None,
        retry_after: float | None = None,
        method: str | None = None,
        path: str | None = None,
        attempts: int = 1,
        local: bool = False,
    ) -> None:
        self.service = service
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.pointer = pointer
        self.parameter = parameter
        self.duplicate_profile_id = duplicate_profile_id
        self.retry_after = retry_after
        self.method = method
        self.path = path
        self.attempts = attempts
        # Raised before anything was sent (bad input); never a service outage.
        self.local = local
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """One line for an operator: service, status, code and what the service said."""
        where = f" ({self.method} {self.path})" if self.method and self.path else ""
        status = f" {self.status}" if self.status is not None else ""
        code = f" {self.code}" if self.code else ""
        said = self.detail or self.title or "no details given"
        if self.pointer:
            said += f" [at {self.pointer}]"
        elif self.parameter:
            said += f" [parameter {self.parameter}]"
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        return f"{self.service}{status}{code}: {said}{where}{tries}"

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"ApiError({self.message!r})"

    @property
    def kind(self) -> ErrorKind:
        """The error-log kind of design §9."""
        status = self.status
        if self.local:
            return ErrorKind.VALIDATION
        if self.code == "malformed_response":
            return ErrorKind.API_UNAVAILABLE
        if status is None or status >= 500:
            return ErrorKind.API_UNAVAILABLE
        if status in (401, 403):
            return ErrorKind.AUTH
        if status == 404:
            return ErrorKind.NOT_FOUND
        if status == 409:
            return ErrorKind.CONFLICT
        if status == 429:
            return ErrorKind.RATE_LIMITED
        if status == 400 and self._about_phone():
            return ErrorKind.PHONE_REJECTED
        return ErrorKind.VALIDATION

    @property
    def transient(self) -> bool:
        """Worth retrying later: throttling, server errors, broken connections, garbled answers."""
        if self.local:
            return False
        if self.status is None or self.code == "malformed_response":
            return True
        return self.status in _RETRY_STATUSES or self.status >= 500

    def _about_phone(self) -> bool:
        if self.pointer and "phone_number" in self.pointer:
            return True
        text = f"{self.title or ''} {self.detail or ''}".lower()
        return "phone" in text


# Every credential any client in this process was given: an answer from one service may
# echo another service's secret (a proxy page, a misrouted request), so all are scrubbed.
_KNOWN_SECRETS: set[str] = set()


def register_secret(secret: str) -> None:
    """Add a credential to those scrubbed from every error message."""
    if secret and len(secret) >= 4:
        _KNOWN_SECRETS.add(secret)


def redact(text: str | None, secrets: Iterable[str] = ()) -> str | None:
    """The text with every given or registered secret replaced; None stays None."""
    if text is None:
        return None
    for secret in sorted({*secrets, *_KNOWN_SECRETS}, key=len, reverse=True):
        if secret and len(secret) >= 4:
            text = _redact_cut(text.replace(secret, _REDACTED), secret)
    return text


# A body cut off mid-secret (a dropped connection, a truncated echo) ends with a prefix of it;
# one cut at the front starts with a suffix. Pieces this long are never innocent text.
_MIN_PIECE = 6


def _redact_cut(text: str, secret: str) -> str:
    for size in range(len(secret) - 1, _MIN_PIECE - 1, -1):
        if text.endswith(secret[:size]):
            text = text[:-size] + _REDACTED
            break
    for size in range(len(secret) - 1, _MIN_PIECE - 1, -1):
        if text.startswith(secret[-size:]):
            text = _REDACTED + text[size:]
            break
    return text


def _short(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: integer, decimal or HTTP date; None if unusable."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)


def _text_field(node: Mapping[str, Any], *names: str) -> str | None:
    lowered = {str(k).lower(): v for k, v in node.items()}
    for name in names:
        value = lowered.get(name.lower())
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value)
    return None


def _klaviyo_fields(body: Any) -> dict[str, Any]:
    errors = body.get("errors") if isinstance(body, Mapping) else None
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], Mapping):
        return {}
    first = errors[0]
    source: Mapping[str, Any] = first.get("source") or {}
    meta: Mapping[str, Any] = first.get("meta") or {}
    source = source if isinstance(source, Mapping) else {}
    meta = meta if isinstance(meta, Mapping) else {}
    dup = meta.get("duplicate_profile_id")
    fields: dict[str, Any] = {
        "code": _text_field(first, "code"),
        "title": _text_field(first, "title"),
        "detail": _text_field(first, "detail"),
        "pointer": _text_field(source, "pointer"),
        "parameter": _text_field(source, "parameter"),
        "duplicate_profile_id": dup if isinstance(dup, str) and dup else None,
    }
    if len(errors) > 1:
        more = [e.get("detail") for e in errors[1:] if isinstance(e, Mapping) and e.get("detail")]
        if more and fields["detail"]:
            fields["detail"] = "; ".join([fields["detail"], *map(str, more)])
    return fields


def _coded_fields(body: Any) -> dict[str, Any]:
    """iPaaS.com's CATEGORY-NNNN errors; the JSON field names are unpublished, so read widely."""
    if isinstance(body, str):
        match = _CODED.search(body)
        return {"code": match.group(0) if match else None, "detail": body}
    if isinstance(body, list) and body and isinstance(body[0], Mapping):
        body = body[0]
    if not isinstance(body, Mapping):
        return {}
    code = _text_field(body, "code", "error_code", "errorCode", "errorcode")
    detail = _text_field(
        body, "message", "detail", "error_description", "error", "errorMessage", "description"
    )
    title = _text_field(body, "title")
    nested = body.get("errors")
    if isinstance(nested, list) and nested and isinstance(nested[0], Mapping):
        inner = _coded_fields(nested[0])
        code = code or inner.get("code")
        detail = detail or inner.get("detail")
    elif isinstance(nested, Mapping):
        # ASP.NET validation problem: {"errors": {"Field": ["message", ...]}}
        parts = [
            f"{key}: {'; '.join(map(str, value)) if isinstance(value, list) else value}"
            for key, value in nested.items()
        ]
        listed = "; ".join(parts)
        if listed:
            detail = f"{detail}: {listed}" if detail else listed
    if code is None:
        match = _CODED.search(" ".join(filter(None, (detail, title))))
        code = match.group(0) if match else None
    return {"code": code, "title": title, "detail": detail}


def error_from_response(
    service: str, response: httpx.Response, secrets: Sequence[str] = ()
) -> ApiError:
    """An ApiError for an HTTP error response, whatever its body looks like."""
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    raw = response.text
    fields: dict[str, Any] = {}
    content_type = response.headers.get("Content-Type", "").lower()
    stripped = raw.lstrip()
    if not stripped:
        fields = {"detail": f"HTTP {status} {response.reason_phrase or ''}".strip()}
    elif "html" in content_type or stripped.startswith("<"):
        title = _HTML_TITLE.search(raw)
        page = f" ({title.group(1).strip()})" if title else ""
        fields = {"detail": f"the service answered with an HTML page{page} instead of JSON"}
    else:
        try:
            body = json.loads(raw)
        except ValueError:
            fields = {"detail": f"unreadable error body: {raw}"}
            if stripped[:1] in ("{", "["):
                # JSON cut off on the way: the status may be right but what it said is lost
                # (a 409's duplicate_profile_id), so it counts as garbled and is retried.
                fields["code"] = "malformed_response"
        else:
            fields = _klaviyo_fields(body) or _coded_fields(body)
            if not any(fields.values()):
                fields = {"detail": f"error body without a message: {raw}"}
    def clean(key: str) -> str | None:
        value = fields.get(key)
        return _short(redact(value, secrets)) if isinstance(value, str) else None

    return ApiError(
        service,
        status=status,
        code=clean("code"),
        title=clean("title"),
        detail=clean("detail"),
        pointer=clean("pointer"),
        parameter=clean("parameter"),
        duplicate_profile_id=clean("duplicate_profile_id"),
        retry_after=retry_after,
        method=response.request.method,
        path=response.request.url.path,
    )


def json_body(
    service: str, response: httpx.Response, secrets: Sequence[str] = ()
) -> Any:
    """The parsed JSON of a success response, or an ApiError saying the body was unreadable."""
    try:
        return json.loads(response.content)
    except ValueError:
        # Redact before cutting, so a secret cannot survive as a truncated prefix.
        snippet = (redact(response.text, secrets) or "")[:80]
        raise ApiError(
            service,
            status=response.status_code,
            code="malformed_response",
            detail=_short(f"response body is not JSON: {snippet!r}"),
            method=response.request.method,
            path=response.request.url.path,
        ) from None


def malformed(service: str, response: httpx.Response, what: str) -> ApiError:
    """An ApiError for a JSON body that does not have the shape the API documents."""
    return ApiError(
        service,
        status=response.status_code,
        code="malformed_response",
        detail=what,
        method=response.request.method,
        path=response.request.url.path,
    )


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
                detail=_short(redact(f"no answer in time ({type(exc).__name__})", self._secrets)),
            )
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            return ApiError(
                self.service, code="connection_error", method=method, path=path,
                detail=_short(redact(f"could not reach the service: {reason}", self._secrets)),
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
