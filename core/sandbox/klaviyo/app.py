"""KlaviyoEmulator: Klaviyo's REST API (revision 2026-07-15) served from memory through httpx."""

from __future__ import annotations

import gzip
import json
import random
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx

from core.sandbox.klaviyo import consent, imports
from core.sandbox.klaviyo.calls import JSON, Call, iso
from core.sandbox.klaviyo.errors import JSON_API, KlaviyoProblem, invalid, not_found
from core.sandbox.klaviyo.ratelimit import XS, M, RateLimiter, Tier, seconds_header
from core.sandbox.klaviyo.routes import match_route
from core.sandbox.klaviyo.state import AccountState

REQUEST_MAX_BYTES = 5 * 1024 * 1024
_REVISION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")
_MEDIA_TYPES = ("application/json", "application/vnd.api+json")


class KlaviyoEmulator:
    """An in-memory Klaviyo account behind Klaviyo's real paths, checks, errors and rate limits."""

    def __init__(
        self,
        *,
        api_key: str,
        rate_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("the Klaviyo sandbox needs an API key to check requests against")
        self._api_key = api_key
        self._clock = clock
        self._wall = wall_clock or (lambda: datetime.now(UTC))
        self._iso_second = -1
        self._iso_text = ""
        self.rate_scale = rate_scale
        self._limiter = RateLimiter(scale=rate_scale)
        self.state = AccountState(
            now_iso=self._now_iso, epoch_ms=lambda: int(self._wall().timestamp() * 1000),
            rng=rng,
        )

    def __repr__(self) -> str:
        return (
            f"KlaviyoEmulator(profiles={len(self.state.profiles)}, lists={len(self.state.lists)})"
        )

    # ------------------------------------------------------------------ public surface

    @property
    def rate_scale(self) -> float:
        """Multiplier on every rate-limit window and job duration (1 = Klaviyo's real limits)."""
        return self._rate_scale

    @rate_scale.setter
    def rate_scale(self, value: float) -> None:
        self._rate_scale = value
        self._limiter = RateLimiter(scale=value)

    @property
    def opt_in_process(self) -> str:
        """The account's opt-in process for a subscribe without a list (Klaviyo's API hides it)."""
        return self.state.opt_in_process

    @property
    def outbox(self) -> list[JSON]:
        """Double opt-in emails sent: {to, list_id, list_name, profile_id, at}."""
        return self.state.outbox

    @property
    def changed(self) -> bool:
        """Whether state changed since the flag was last cleared."""
        return self.state.changed

    @changed.setter
    def changed(self, value: bool) -> None:
        self.state.changed = value

    def seed(
        self, profiles: list[JSON], lists: list[JSON], account: JSON | None = None
    ) -> dict[str, str]:
        """Add design §8 seed profiles, lists and account settings; returns index -> profile id."""
        return self.state.seed(profiles, lists, account)

    def dump(self) -> JSON:
        """All state, JSON-able."""
        return self.state.dump()

    def load(self, state: JSON) -> None:
        """Replace all state; jobs left unfinished by the previous run finish now."""
        self.state.load(state)
        imports.advance(self.state, self._clock(), self._now_iso(), finish_all=True)
        self.state.changed = False

    def confirm_consent(self, email: str) -> list[str | None]:
        """The person clicks the double opt-in link; returns the list ids joined."""
        return consent.confirm_consent(self.state, email)

    def profile_id_for_email(self, email: str) -> str | None:
        """The profile owning an email, for operators and tests."""
        return self.state.find_by_email(email)

    def now(self) -> datetime:
        """The account's wall-clock time, for stamps and consent dates."""
        return self._wall()

    def monotonic(self) -> float:
        """The clock rate limits and import jobs run on."""
        return self._clock()

    async def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as Klaviyo would."""
        try:
            return await self._dispatch(request)
        except KlaviyoProblem as problem:
            return problem.response()

    # ------------------------------------------------------------------ plumbing

    def _now_iso(self) -> str:
        moment = self._wall()
        second = int(moment.timestamp())
        if second != self._iso_second:
            # Formatting is the hot spot of bulk seeding; a second-resolution cache removes it.
            self._iso_second, self._iso_text = second, iso(moment)
        return self._iso_text

    async def _dispatch(self, request: httpx.Request) -> httpx.Response:
        if self.state.jobs:
            imports.advance(self.state, self._clock(), self._now_iso())
        path = request.url.path.rstrip("/")
        parts = tuple(path.split("/")[1:]) if path else ()
        route, ids = match_route(parts)
        if route is None:
            raise not_found("Not found.")
        entry = route.methods.get(request.method)
        if entry is None:
            raise KlaviyoProblem(
                405, "method_not_allowed", f'Method "{request.method}" not allowed.'
            )
        op, handler, tier = entry
        self._authenticate(request)
        self._check_revision(request)
        query = dict(
            parse_qsl(request.url.query.decode("ascii", "replace"), keep_blank_values=True)
        )
        verdict = self._limiter.check(self._buckets(op, tier, query), self._clock())
        if not verdict.allowed:
            wait = seconds_header(verdict.retry_after, self.rate_scale)
            raise KlaviyoProblem(
                429,
                "throttled",
                f"Request was throttled. Expected available in {wait} second"
                + ("" if wait == "1" else "s")
                + ".",
                pointer="/data",
                links={
                    "type": "https://developers.klaviyo.com/en/docs/rate_limits_and_error_handling#rate-limits"
                },
                headers={"Retry-After": wait},
            )
        limit_headers = {
            "RateLimit-Limit": str(verdict.limit),
            "RateLimit-Remaining": str(verdict.remaining),
            "RateLimit-Reset": seconds_header(verdict.reset_seconds, self.rate_scale),
        }
        try:
            body = await self._body(request)
            base = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"
            call = Call(request, ids, query, body, base)
            reply = await handler(self, call)
        except KlaviyoProblem as problem:
            problem.headers.update(limit_headers)
            raise
        headers = {**limit_headers, **(reply.headers or {}), **call.headers}
        if reply.doc is None:
            return httpx.Response(reply.status, headers=headers)
        headers["Content-Type"] = JSON_API
        return httpx.Response(reply.status, headers=headers, content=json.dumps(reply.doc).encode())

    def _authenticate(self, request: httpx.Request) -> None:
        header = request.headers.get("authorization")
        if not header:
            raise KlaviyoProblem(
                401,
                "not_authenticated",
                "Missing or invalid authorization scheme. Please use Klaviyo-API-Key.",
            )
        scheme, _, key = header.partition(" ")
        if scheme != "Klaviyo-API-Key" or key.strip() != self._api_key:
            # Deliberately silent about the key received: it must never be echoed.
            raise KlaviyoProblem(
                401,
                "authentication_failed",
                "Incorrect authentication credentials.",
                title="Incorrect authentication credentials.",
            )

    @staticmethod
    def _check_revision(request: httpx.Request) -> None:
        revision = request.headers.get("revision")
        if not revision:
            raise invalid(
                "The 'revision' header is required (for example: 2026-07-15).", parameter="revision"
            )
        if not _REVISION.match(revision) or revision[:10] < "2022-10-17":
            raise invalid(
                f"'{revision}' is not a valid revision; use a date such as 2026-07-15.",
                parameter="revision",
            )

    @staticmethod
    def _buckets(op: str, tier: Tier, query: dict[str, str]) -> list[tuple[str, Tier]]:
        buckets = [(op, tier)]
        if "predictive_analytics" in query.get("additional-fields[profile]", ""):
            buckets.append((f"{op}:predictive_analytics", M))
        if "profile_count" in query.get("additional-fields[list]", ""):
            buckets.append((f"{op}:profile_count", XS))
        if op == "get_profile":
            # include=lists / include=segments carry their own 1/s, 15/m limit (the OpenAPI
            # description of get_profile), counted on top of the endpoint's bucket.
            included = {part.strip() for part in query.get("include", "").split(",")}
            for name in sorted(included & {"lists", "segments"}):
                buckets.append((f"{op}:include_{name}", XS))
        return buckets

    @staticmethod
    async def _body(request: httpx.Request) -> Any:
        raw = await request.aread()
        if not raw:
            return None
        encoding = request.headers.get("content-encoding", "identity").lower()
        if encoding == "gzip":
            try:
                raw = gzip.decompress(raw)
            except OSError:
                raise invalid("The request body is not valid gzip.") from None
        elif encoding != "identity":
            raise KlaviyoProblem(
                415,
                "unsupported_media_type",
                f'Unsupported content encoding "{encoding}" in request.',
            )
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in _MEDIA_TYPES:
            raise KlaviyoProblem(
                415, "unsupported_media_type", f'Unsupported media type "{media}" in request.'
            )
        if len(raw) > REQUEST_MAX_BYTES:
            raise KlaviyoProblem(
                413, "payload_too_large", "The request payload exceeds the maximum size of 5 MB."
            )
        try:
            return json.loads(raw, parse_constant=_not_json, parse_float=_finite)
        except (ValueError, UnicodeDecodeError) as exc:
            raise invalid(f"JSON parse error - {exc}", pointer="/data") from None
        except RecursionError:
            # A few kilobytes of "[[[[..." exhaust the decoder's stack; still a bad body.
            raise invalid(
                "JSON parse error - the body nests too deeply.", pointer="/data"
            ) from None


def _not_json(constant: str) -> Any:
    # Python reads NaN and Infinity, JSON has neither: stored, they would make every later
    # answer about the profile unreadable to a strict client.
    raise ValueError(f"{constant} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:20]} is too large")
    return value
