"""`klaviyo-console sandbox serve [--port N]`: both emulators on loopback, URLs printed."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Any

from console.cli.base import OK
from console.cli.common import say
from core.config import Config, ConfigError
from core.sandbox import Knobs, Sandbox, SandboxSeedError, export_lines, serve_sandbox


async def serve(ns: argparse.Namespace, config: Config) -> int:
    """Print the export lines, then serve until Ctrl-C or SIGTERM."""
    try:
        knobs = Knobs.from_env()
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        sandbox = Sandbox(config.state_dir, seed=config.sandbox_seed, knobs=knobs)
    except SandboxSeedError as exc:
        raise ConfigError(str(exc)) from None

    def ready(server: Any) -> None:
        for line in export_lines(sandbox.credentials, server.url):
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
        say(f"# sandbox serving Klaviyo (/api) and iPaaS.com (/customers, /sso) at "
            f"{server.url}; state in {config.state_dir}; Ctrl-C to stop")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    task = asyncio.create_task(serve_sandbox(sandbox, "127.0.0.1", ns.port, ready))
    waiter = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            failure = task.exception()
            if isinstance(failure, OSError):
                raise ConfigError(f"cannot serve on port {ns.port}: {failure.strerror}")
            if failure is not None:
                raise failure
    finally:
        for pending in (task, waiter):
            pending.cancel()
        await asyncio.gather(task, waiter, return_exceptions=True)
        sandbox.close()
    return OK
