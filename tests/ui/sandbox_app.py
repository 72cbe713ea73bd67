"""The real console over the real engine on a repeatable demo sandbox (fixed rng and clock)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from console.app import ConsoleApp
from core.config import Config
from core.engine import Engine
from core.sandbox import Knobs, Sandbox

FIXED_TIME = datetime(2026, 7, 1, 9, 30, tzinfo=UTC)
Wrap = Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]


def fixed_clock() -> datetime:
    return FIXED_TIME


def sandbox_config(state: Path, **overrides: Any) -> Config:
    """A sandbox Config that never reads the developer's own config file or environment."""
    config = Config.load(env={"XDG_CONFIG_HOME": str(Path(state).parent / "no-config")},
                         state_dir=state, sandbox=True)
    return replace(config, **overrides) if overrides else config


def sandbox_app(state: Path, *, knobs: Knobs | None = None, wrap: Wrap | None = None,
                keymap: dict[str, str] | None = None, config: Config | None = None,
                recent_path: Path | None = None) -> ConsoleApp:
    """ConsoleApp over Engine.open on the demo sandbox in `state`, ids and times fixed.

    keymap=None reads the [keymap] of the config, as the console does at start-up.
    """
    config = config or sandbox_config(state)

    async def open_engine(config: Config) -> Engine:
        sandbox = Sandbox(Path(config.state_dir), knobs=knobs or Knobs(), rng=random.Random(0),
                          wall_clock=fixed_clock)
        transport = wrap(sandbox.transport) if wrap is not None else None
        return await Engine.open(config, sandbox=sandbox, transport=transport, clock=fixed_clock)

    return ConsoleApp(config, engine_factory=open_engine, keymap=keymap,
                      recent_path=recent_path or Path(config.state_dir) / "recent.json")


class HoldCustomer(httpx.AsyncBaseTransport):
    """Holds reads of one iPaaS.com customer until `release` is set: a batch stays in flight."""

    def __init__(self, inner: httpx.AsyncBaseTransport, customer_id: str) -> None:
        self._inner = inner
        self._segment = f"/{customer_id}/"
        self.held = asyncio.Event()
        self.release = asyncio.Event()
        # False lets the batch's survey read the customer; armed, the run itself waits.
        self.armed = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.armed and self._segment in request.url.path + "/":  # read, external-id lookup
            self.held.set()
            await self.release.wait()
        return await self._inner.handle_async_request(request)
