"""A hostile 'service' on loopback that echoes the caller's credentials back in every answer."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from core.loopback import LoopbackServer


async def echo_handler(request: httpx.Request) -> httpx.Response:
    """Answer with the Authorization header in error details, HTML titles and broken JSON."""
    said = request.headers.get("authorization", "")
    path = request.url.path.lower()
    if "lookupexternal" in path:
        # A 'link' that is really the token, then garbage: must not be stored or printed.
        return httpx.Response(200, text=f'"{said}"<<not a ulid>>')
    if path.startswith("/customers/"):
        return httpx.Response(
            500, content=f"<html><head><title>{said}</title></head></html>".encode(),
            headers={"Content-Type": "text/html"})
    if request.method == "GET":
        return httpx.Response(
            200, content=json.dumps({"data": [], "echo": said}).encode()[:-3],
            headers={"Content-Type": "application/vnd.api+json"})
    body = {"errors": [{"status": 400, "code": "invalid", "title": f"Bad key {said}",
                        "detail": f"you sent {said}", "source": {"pointer": f"/{said}"}}]}
    return httpx.Response(400, json=body, headers={"Content-Type": "application/vnd.api+json"})


@contextmanager
def echo_server() -> Iterator[str]:
    """Run the echo service on a loopback port in a thread; yields its base URL."""
    loop = asyncio.new_event_loop()
    server = LoopbackServer(echo_handler)
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield server.url
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
