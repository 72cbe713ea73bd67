"""Small Pilot helpers shared by the UI tests."""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Static


def _running(app: Any) -> list[Any]:
    return [worker for worker in app.workers if worker.is_running]


async def _drain(pilot: Pilot[Any]) -> None:
    """Every message queued on the app and the current screen handled, then one refresh."""
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()  # a refresh, so call_after_refresh callbacks run
    await pilot.wait_for_scheduled_animations()


async def settle(pilot: Pilot[Any], timeout: float = 20.0) -> None:
    """Until two rounds in a row find no worker running and no message left to handle.

    Waits on the condition itself, not on the CPU going quiet: a worker that stays in flight
    on purpose (a held batch) is left running once `timeout` has passed.
    """
    app = pilot.app
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 2 and time.monotonic() < deadline:
        await _drain(pilot)
        running = _running(app)
        if not running:
            quiet += 1
            continue
        quiet = 0
        try:
            await asyncio.wait_for(asyncio.shield(app.workers.wait_for_complete(running)),
                                   timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            break
    await _drain(pilot)


async def until(pilot: Pilot[Any], predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Handle messages until `predicate()` holds; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("the console never reached the expected state")
        await _drain(pilot)
        await asyncio.sleep(0.005)


async def lookup(pilot: Pilot[Any], query: str) -> None:
    await settle(pilot)
    field = pilot.app.screen.query_one("#customer")
    field.value = ""
    await pilot.click("#customer")
    await pilot.press(*query, "enter")
    await settle(pilot)


async def press_and_settle(pilot: Pilot[Any], *keys: str) -> None:
    """Press the keys, then wait for every worker and message they set going."""
    await pilot.press(*keys)
    await settle(pilot)


async def history_after_push(pilot: Pilot[Any], customer_id: str) -> None:
    """Look the customer up, push it (confirmed), then open History on it."""
    await lookup(pilot, customer_id)
    await press_and_settle(pilot, "f5", "y")
    await press_and_settle(pilot, "f7")


async def open_push_dialog(pilot: Pilot[Any], customer_id: str) -> Any:
    """Look the customer up and press F5: the push dialog (or the lookup, if it refused)."""
    await lookup(pilot, customer_id)
    await press_and_settle(pilot, "f5")
    return pilot.app.screen


RunBefore = Callable[[Pilot[Any]], Awaitable[None]]
SIZES = {"80x24": (80, 24), "120x36": (120, 36)}  # the terminal sizes snapshots are drawn at


def keys(*pressed: str) -> RunBefore:
    """A snapshot's run_before: presses keys, waiting for every worker each one starts."""

    async def run(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        for key in pressed:
            await press_and_settle(pilot, key)
        pilot.app.clear_notifications()
        await pilot.pause()

    return run


async def push_failures(pilot: Pilot[Any]) -> None:
    """Failed, held and blocked pushes through the engine, then the error log (stable ids)."""
    await settle(pilot)
    for customer_id in ("55330", "55341", "55262", "55331"):
        await pilot.app.engine.push(customer_id)
    await press_and_settle(pilot, "f6")
    pilot.app.clear_notifications()
    await pilot.pause()


def text_of(pilot: Pilot[Any], selector: str) -> str:
    return str(pilot.app.screen.query_one(selector, Static).render())


_SVG_TEXT = re.compile(r'<text [^>]*?x="([0-9.]+)"[^>]*?textLength="([0-9.]+)"[^>]*?'
                       r'clip-path="url\(#[^)]*-line-(\d+)\)"[^>]*>(.*?)</text>')


def screen_lines(app: Any) -> list[str]:
    """The screen as the terminal shows it, one string per row, read from the app's SVG export.

    Rich places every text run at its cell column (x = column * cell width), so the rows are
    rebuilt cell for cell: what lies outside the terminal, or under a dialog, is not there.
    """
    width, height = app.size
    rows = [[" "] * width for _ in range(height)]
    runs = [(float(x), float(length), int(line), html.unescape(text).replace("\xa0", " "))
            for x, length, line, text in _SVG_TEXT.findall(app.export_screenshot())]
    cell = min((length / len(text) for _, length, _, text in runs if text.isascii()),
               default=1.0)
    for x, _, line, text in runs:
        column = round(x / cell)
        for offset, char in enumerate(text):
            if line < height and column + offset < width:
                rows[line][column + offset] = char
    return ["".join(row).rstrip() for row in rows]


def screen_text(app: Any) -> str:
    """The rendered screen as one string, rows joined by newlines."""
    return "\n".join(screen_lines(app))
