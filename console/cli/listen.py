"""`klaviyo-console listen [--port N] [--host HOST]`: take iPaaS.com outbound notifications."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from console.cli.base import OK
from console.cli.common import say
from core.config import Config, ConfigError
from core.engine import Engine
from core.engine.listen import ListenError

log = logging.getLogger("console.cli.listen")

DEFAULT_PORT = 8787
DEFAULT_HOST = "127.0.0.1"
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def address(ns: argparse.Namespace, config: Config) -> tuple[str, int]:
    """Host and port to bind: the command line, else the config file, else the defaults."""
    host = ns.host if ns.host is not None else config.listen_host or DEFAULT_HOST
    port = (ns.port if ns.port is not None
            else config.listen_port if config.listen_port is not None else DEFAULT_PORT)
    return host, port


async def run(ns: argparse.Namespace, engine: Engine) -> int:
    """Push each notified customer, one line each, until Ctrl-C or SIGTERM."""
    host, port = address(ns, engine.config)
    if host not in LOOPBACK_HOSTS:
        say(f"warning: listening on {host}: notifications travel as plain http",
            style="yellow")
    try:
        listening = await engine.listen(host, port, say)
    except ListenError as exc:
        raise ConfigError(f"listen: {exc}") from None
    if listening.generated_secret:
        say(f"sandbox: generated a listen secret for this run: {listening.generated_secret}",
            style="yellow")
    log.info("listen: listening on %s (sandbox: %s)", listening.url,
             "yes" if engine.sandbox is not None else "no")
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
    log.info("listen: stopped listening on %s", listening.url)
    say("stopped listening")
    return OK
