"""Test doubles for the clients: a virtual clock and real-API-shaped fake handlers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]

KEY = "pk_test_0123456789abcdefSECRET"
TOKEN = "ipaas-token-TOPSECRET-42"


@dataclass
class VirtualClock:
    """Time that moves only when the code under test sleeps; parallel sleepers overlap."""

    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        target = self.now + max(0.0, seconds)
        self.slept.append(seconds)
        await asyncio.sleep(0)
        self.now = max(self.now, target)


def jsonapi(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    content = b"" if body is None else json.dumps(body).encode()
    return httpx.Response(
        status, content=content,
        headers={"Content-Type": "application/vnd.api+json", **(headers or {})},
    )


def klaviyo_error(status: int, code: str, detail: str, pointer: str | None = None,
                  meta: dict[str, Any] | None = None,
                  headers: dict[str, str] | None = None) -> httpx.Response:
    error: dict[str, Any] = {
        "id": "8c8f4aea-1111-2222-3333-444455556666", "status": status, "code": code,
        "title": "Invalid input." if status == 400 else "Error.", "detail": detail,
        "source": {"pointer": pointer} if pointer else {}, "links": {}, "meta": meta or {},
    }
    return jsonapi(status, {"errors": [error]}, headers)


def profile_resource(pid: str, attributes: dict[str, Any], *, lists: list[str] | None = None,
                     email_consent: str = "NEVER_SUBSCRIBED") -> dict[str, Any]:
    resource: dict[str, Any] = {
        "type": "profile", "id": pid,
        "attributes": {
            **attributes,
            "subscriptions": {
                "email": {"marketing": {"consent": email_consent,
                                        "can_receive_email_marketing": True}},
                "sms": {"marketing": {"consent": "NEVER_SUBSCRIBED",
                                      "can_receive_sms_marketing": False}},
            },
        },
        "relationships": {"lists": {"links": {"self": "x", "related": "y"}}},
        "links": {"self": f"https://a.klaviyo.com/api/profiles/{pid}"},
    }
    if lists is not None:
        resource["relationships"]["lists"]["data"] = [{"type": "list", "id": i} for i in lists]
    return resource


class Recorder:
    """Wraps a handler, keeping every request it saw (with its body)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        return await self.handler(request)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests if r.content]

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def sequence(*responses: httpx.Response | Exception) -> Handler:
    """A handler answering with these responses (or raising these errors) in turn."""
    queue = list(responses)

    async def handle(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        # A fresh copy each time: a response object belongs to one request.
        return httpx.Response(item.status_code, headers=item.headers, content=item.content)

    return handle
