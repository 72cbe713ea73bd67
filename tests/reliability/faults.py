"""Scripted faults: the exact failure on the exact request, for tests that must not be lucky."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from core.sandbox import Sandbox
from core.sandbox.faults import Fault, error_page, raise_transport, truncated

Match = Callable[[httpx.Request], bool]


def creates(request: httpx.Request) -> bool:
    return request.method == "POST" and request.url.path.rstrip("/") == "/api/profiles"


def patches(request: httpx.Request) -> bool:
    return request.method == "PATCH" and request.url.path.startswith("/api/profiles/")


def subscribes(request: httpx.Request) -> bool:
    return request.url.path.startswith("/api/profile-subscription-bulk-create-jobs")


def list_adds(request: httpx.Request) -> bool:
    return request.method == "POST" and request.url.path.startswith("/api/lists/")


def link_stores(request: httpx.Request) -> bool:
    return "updateexternalid" in request.url.path.lower()


def customer_reads(request: httpx.Request) -> bool:
    return request.method == "GET" and "/customers/v2/customer/" in request.url.path.lower()


@dataclass
class ScriptedFaults(httpx.AsyncBaseTransport):
    """The sandbox, except that the next requests `match` picks meet the faults in `script`."""

    sandbox: Sandbox
    match: Match
    script: list[Fault]
    hits: list[str] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.script or not self.match(request):
            return await self.sandbox.handle(request)
        fault = self.script.pop(0)
        self.hits.append(f"{request.method} {request.url.path} {fault.value}")
        service = "klaviyo" if request.url.path.startswith("/api/") else "ipaas"
        if fault in (Fault.RESET, Fault.CONNECT):
            raise_transport(fault, request)
        if fault in (Fault.TIMEOUT, Fault.MALFORMED_JSON):
            # The service did the work; only its answer is lost or garbled on the way back.
            response = await self.sandbox.handle(request)
            if fault is Fault.TIMEOUT:
                raise_transport(fault, request)
            return truncated(response)
        return error_page(fault, service, self.sandbox.ipaas.error)
