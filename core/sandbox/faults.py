"""The failures SANDBOX_FAILURE_RATE injects: what a flaky network and a bad day look like."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from enum import StrEnum
from typing import NoReturn

import httpx


class Fault(StrEnum):
    SERVER_ERROR = "500"
    UNAVAILABLE = "503"
    BAD_GATEWAY_HTML = "html"  # a proxy's HTML error page instead of the API's JSON
    RESET = "reset"  # connection dropped before the request reached the service
    CONNECT = "connect"  # could not connect at all
    TIMEOUT = "timeout"  # the request was processed, its response never arrived
    MALFORMED_JSON = "malformed"  # the request was processed, its body arrived truncated


# These happen after the emulator has handled the request: a retry must cope with a write
# that already took effect (the case that makes duplicates if a client is careless).
AFTER_HANDLING = frozenset({Fault.TIMEOUT, Fault.MALFORMED_JSON})

ALL_FAULTS = tuple(Fault)


def pick_fault(rng: random.Random, rate: float) -> Fault | None:
    """A fault with probability `rate`, each kind equally likely."""
    if rate <= 0 or rng.random() >= rate:
        return None
    return rng.choice(ALL_FAULTS)


def raise_transport(fault: Fault, request: httpx.Request) -> NoReturn:
    """Raise the httpx exception a client sees for a network-level fault."""
    if fault is Fault.TIMEOUT:
        raise httpx.ReadTimeout("sandbox: timed out reading the response", request=request)
    if fault is Fault.RESET:
        raise httpx.RemoteProtocolError(
            "sandbox: server disconnected without sending a response", request=request
        )
    raise httpx.ConnectError("sandbox: connection refused", request=request)


def error_page(
    fault: Fault, service: str, ipaas_error: Callable[[int, str, str], httpx.Response]
) -> httpx.Response:
    """A 500, 503 or HTML 502 response in the style of the service that 'failed'."""
    if fault is Fault.BAD_GATEWAY_HTML:
        html = (
            "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
            "<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center>"
            "</body></html>\n"
        )
        return httpx.Response(
            502, content=html.encode(), headers={"Content-Type": "text/html; charset=utf-8"}
        )
    status = 503 if fault is Fault.UNAVAILABLE else 500
    if service == "ipaas":
        message = "service unavailable, retry later" if status == 503 else "internal server error"
        response = ipaas_error(status, "INTL-1000", message)
    else:
        title = "Service unavailable." if status == 503 else "A server error occurred."
        body = {"errors": [{
            "id": str(uuid.uuid4()), "status": status,
            "code": "service_unavailable" if status == 503 else "error",
            "title": title, "detail": title, "source": {"pointer": "/data/"},
        }]}
        response = httpx.Response(
            status, content=json.dumps(body).encode(),
            headers={"Content-Type": "application/vnd.api+json"},
        )
    if status == 503:
        response.headers["Retry-After"] = "1"
    return response


def truncated(response: httpx.Response) -> httpx.Response:
    """The same response with its JSON body cut short, so it no longer parses."""
    body = response.content
    if len(body) < 2:
        return response  # nothing to cut: an empty 202/204 stays as it is
    cut = body[: len(body) // 2]
    headers = [(k, v) for k, v in response.headers.raw if k.lower() != b"content-length"]
    return httpx.Response(response.status_code, content=cut, headers=headers)
