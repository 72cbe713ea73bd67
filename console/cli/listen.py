"""`klaviyo-console listen [--port N] [--host HOST]`: take iPaaS.com outbound notifications."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from console.cli.base import OK
from console.cli.common import say
from core.config import ConfigError
from core.engine import Engine
from core.engine.listen import ListenError


async def run(ns: argparse.Namespace, engine: Engine) -> int:
    """Push each notified customer, one line each, until Ctrl-C or SIGTERM."""
    if ns.host not in ("127.0.0.1", "::1", "localhost"):
        say(f"warning: listening on {ns.host}: notifications travel as plain http",
            style="yellow")
    try:
        listening = await engine.listen(ns.host, ns.port, say)
    except ListenError as exc:
        raise ConfigError(f"listen: {exc}") from None
    if listening.generated_secret:
        say(f"sandbox: generated a listen secret for this run: {listening.generated_secret}",
            style="yellow")
    say(f"listening on {listening.url}/ for iPaaS.com outbound notifications "
        "(POST, Authorization: Bearer <secret>); Ctrl-C to stop")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTERM)
        await listening.close()
    say("stopped listening")
    return OK
