"""iPaaS.com outbound notifications (ipaas-api.md §4 hook body) turned into pushes."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from core.engine.context import PushResult
from core.loopback import LoopbackServer

log = logging.getLogger("core.engine.listen")

MAX_HOOK_BODY = 256 * 1024
MAX_NOTIFICATIONS = 3000  # Manual Sync's own ceiling per submit
CUSTOMER_SCOPES = frozenset({"customer/created", "customer/updated"})
# Pushes of one hook in flight at once; the clients' rate limiter still paces the requests.
MAX_CONCURRENT_PUSHES = 8

PushOne = Callable[[str], Awaitable[PushResult]]


class ListenError(ValueError):
    """Listening cannot start; the message says what to fix."""


class HookError(ValueError):
    """A hook body that does not have the shape of ipaas-api.md §4."""


@dataclass(frozen=True)
class Notification:
    """One entry of a hook's `notifications`: what happened to which iPaaS.com record."""

    scope: str
    action: str
    id: str | None
    external_id: str | None
    # The iPaaS.com system the notification is for; None when the hook does not say.
    destination: str | None = None

    @property
    def customer_scope(self) -> str:
        """The scope without a trailing /debug."""
        return self.scope.removesuffix("/debug")


def parse_hook(body: bytes) -> tuple[str | None, list[Notification]]:
    """The hook's id and its notifications; HookError names what is wrong."""
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise HookError("body is not JSON") from None
    if not isinstance(raw, dict):
        raise HookError("body must be a JSON object")
    items = raw.get("notifications")
    if not isinstance(items, list):
        raise HookError("notifications must be a list")
    if len(items) > MAX_NOTIFICATIONS:
        raise HookError(f"too many notifications ({len(items)} > {MAX_NOTIFICATIONS})")
    out: list[Notification] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise HookError(f"notifications[{index}] must be an object")
        scope = item.get("scope")
        if not isinstance(scope, str) or not scope:
            raise HookError(f"notifications[{index}].scope is missing")
        out.append(Notification(
            scope=scope.strip().lower(),
            action=str(item.get("action") or ""),
            id=_text(item.get("id")),
            external_id=_text(item.get("external_id")),
            destination=_text(item.get("destination")),
        ))
    hook_id = _text(raw.get("id"))
    return hook_id, out


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text or None


class HookHandler:
    """An httpx-style handler for LoopbackServer: authenticate, parse, push each customer."""

    def __init__(self, push_one: PushOne, secret: str, *,
                 on_result: Callable[[Notification, PushResult | None, str], None] | None = None,
                 system_id: str | None = None,
                 max_concurrent: int = MAX_CONCURRENT_PUSHES) -> None:
        if not secret:
            raise ValueError("a listen secret is required")
        self._push = push_one
        self._expected = f"Bearer {secret}".encode()
        self._on_result = on_result
        self._system_id = system_id or None
        self._max_concurrent = max(1, max_concurrent)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        where = _origin(request)
        if request.method != "POST":
            log.warning("listen: 405 %s %s from %s", request.method, request.url.path, where)
            return _reply(405, {"error": "only POST is accepted"}, allow="POST")
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, self._expected):
            # The header itself is never logged: a near miss may be a real secret.
            state = "missing" if not given else "wrong"
            log.warning("listen: 401 %s bearer token on POST %s from %s",
                        state, request.url.path, where)
            return _reply(401, {"error": "missing or wrong bearer token"})
        body = await request.aread()
        if len(body) > MAX_HOOK_BODY:
            log.warning("listen: 413 body of %d bytes from %s", len(body), where)
            return _reply(413, {"error": f"body over {MAX_HOOK_BODY} bytes"})
        try:
            hook_id, notifications = parse_hook(body)
        except HookError as exc:
            log.warning("listen: 400 %s from %s", exc, where)
            return _reply(400, {"error": str(exc)})
        log.info("listen: hook %s accepted from %s with %d notification(s)",
                 hook_id or "-", where, len(notifications))
        results = await self._handle_all(notifications)
        failed = sum(1 for r in results if r["status"] == "failed")
        log.info("listen: hook %s answered 200: %d failed", hook_id or "-", failed)
        return _reply(200, {"id": hook_id, "results": results, "failed": failed})

    async def _handle_all(self, notifications: list[Notification]) -> list[dict[str, Any]]:
        """Each notification's answer, in order; different customers are pushed concurrently."""
        gate = asyncio.Semaphore(self._max_concurrent)
        # Two notifications for one customer run in order, so the later state wins.
        customer_locks: dict[str | None, asyncio.Lock] = {}

        async def bounded(note: Notification) -> dict[str, Any]:
            lock = customer_locks.setdefault(note.id, asyncio.Lock())
            async with lock, gate:
                return await self._one(note)

        return list(await asyncio.gather(*(bounded(note) for note in notifications)))

    async def _one(self, note: Notification) -> dict[str, Any]:
        if (self._system_id is not None and note.destination is not None
                and note.destination != self._system_id):
            reason = (f"destination {note.destination} is another system "
                      f"(this one is {self._system_id})")
            return self._ignored(note, reason)
        if note.customer_scope not in CUSTOMER_SCOPES:
            reason = ("delete is not supported: remove the profile in Klaviyo"
                      if note.customer_scope.startswith("customer/") and "delete" in note.scope
                      else f"scope {note.scope} is not handled")
            return self._ignored(note, reason)
        if note.id is None:
            return self._ignored(note, "notification has no iPaaS.com id")
        result = await self._push(note.id)
        status = "ok" if result.ok else "held" if result.held else "failed"
        self._report(note, result, status)
        return {
            "id": note.id,
            "scope": note.scope,
            "status": status,
            "profile_id": result.profile_id,
            "error_id": result.error.id if result.error else None,
        }

    def _ignored(self, note: Notification, reason: str) -> dict[str, Any]:
        self._report(note, None, reason)
        return {"id": note.id, "scope": note.scope, "status": "ignored", "reason": reason}

    def _report(self, note: Notification, result: PushResult | None, status: str) -> None:
        level = logging.WARNING if status == "failed" else logging.INFO
        log.log(level, "listen: %s", notification_line(note, result, status))
        if self._on_result is not None:
            self._on_result(note, result, status)


def _origin(request: httpx.Request) -> str:
    # Behind a reverse proxy the peer is the proxy; the proxy names the real client.
    forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
    return forwarded or request.headers.get("x-real-ip", "") or "a direct client"


def _reply(status: int, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def outcome_words(result: PushResult) -> str:
    """A push result in a few words: ok with the profile, held, or failed with the record."""
    if result.ok:
        return f"ok → profile {result.profile_id}"
    state = "held" if result.held else "failed"
    error = result.error
    return f"{state} ({error.id}: {error.message})" if error is not None else state


def notification_line(note: Notification, result: PushResult | None, status: str) -> str:
    """One line for an outbound notification and what its push did."""
    return f"{note.scope} {note.id or '-'}: " + (
        outcome_words(result) if result is not None else status)


def sandbox_change_line(result: PushResult) -> str:
    """One line for a sandbox customer change pushed as an enabled trigger would push it."""
    return f"sandbox change: customer {result.plan.customer_id}: {outcome_words(result)}"


@dataclass
class Listening:
    """A started hook listener: where it listens and how its secret was chosen."""

    server: LoopbackServer
    # Set when a sandbox rehearsal made its own secret: posts still need one.
    generated_secret: str | None
    following_sandbox: bool
    stop_following: Callable[[], None]

    @property
    def url(self) -> str:
        """The base URL hooks are posted to."""
        return self.server.url

    async def close(self) -> None:
        """Stop taking notifications and sandbox changes (pushes under way finish)."""
        self.stop_following()
        await self.server.close()


def listen_secret(configured: str | None, *, sandbox: bool) -> tuple[str, bool]:
    """The shared secret to require, and whether it was generated for this sandbox run."""
    if configured:
        return configured, False
    if not sandbox:
        raise ListenError("a shared secret is required: set KLAVIYO_CONSOLE_LISTEN_SECRET "
                          "(or [listen] secret in the config file)")
    # A rehearsal on the sandbox still refuses unauthenticated posts.
    return secrets.token_urlsafe(24), True


async def start_server(handler: HookHandler, host: str, port: int) -> LoopbackServer:
    """A started LoopbackServer for the handler, or a ListenError naming the address."""
    server = LoopbackServer(handler, host, port)
    try:
        await server.start()
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return server
