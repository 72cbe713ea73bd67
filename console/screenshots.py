"""SVG screenshots of the real console on the demo sandbox: `python -m console.screenshots`."""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input

from console.app import ConsoleApp
from console.screens.batch import BatchScreen
from console.screens.batch_dialogs import SurveyScreen
from core.config import Config
from core.engine import Engine
from core.sandbox import Knobs, Sandbox

SIZE = (140, 42)
Step = Callable[[Pilot[Any]], Awaitable[None]]
PROFILE_WRITE = re.compile(r"^/api/profiles(?:/[^/]+)?/?$")


class PacedBatch(httpx.AsyncBaseTransport):
    """Lets Klaviyo profile writes through one every `spacing` seconds, holds those past `flowing`.

    A customer counts as done when its profile is written, so spacing the writes spreads
    the first customers over a few seconds and the throughput and headroom charts draw real
    samples; the rest wait until `release` is set, so the batch is still in progress when
    the shot is taken. (Pacing the per-customer iPaaS.com reads did not: the external-id
    lookup's first number is the system id, the same for every customer, so none waited.)
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, *, spacing: float = 0.12,
                 flowing: int = 40) -> None:
        self._inner = inner
        self._spacing = spacing
        self._flowing = flowing
        self._writes = 0
        self._first: float | None = None
        self.release = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method in ("POST", "PATCH") and PROFILE_WRITE.match(request.url.path):
            loop = asyncio.get_running_loop()
            rank, self._writes = self._writes, self._writes + 1
            if self._first is None:
                self._first = loop.time()
            if rank >= self._flowing:
                await self.release.wait()
            else:
                await asyncio.sleep(max(0.0, self._first + rank * self._spacing - loop.time()))
        return await self._inner.handle_async_request(request)


async def settle(pilot: Pilot[Any]) -> None:
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def press(pilot: Pilot[Any], *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


async def lookup(pilot: Pilot[Any], customer_id: str) -> None:
    await press(pilot, "f4")
    pilot.app.screen.query_one("#customer", Input).value = ""
    await press(pilot, *customer_id, "enter")


async def shoot(state: Path, out: Path, name: str, steps: Step) -> Path:
    """Run the console on the sandbox in `state`, play `steps`, save `name`.svg."""
    config = Config.load(env={}, state_dir=state, sandbox=True)

    pacing: list[PacedBatch] = []

    async def open_engine(config: Config) -> Any:
        if name != "batch":
            return await Engine.open(config, sandbox=Sandbox(state, knobs=Knobs()))
        # Sandbox latency plus paced starts spread the batch over seconds; the tail is held.
        sandbox = Sandbox(state, knobs=Knobs(latency_ms=150))
        pacing.append(PacedBatch(sandbox.transport))
        return await Engine.open(config, sandbox=sandbox, transport=pacing[0])

    app = ConsoleApp(config, engine_factory=open_engine, keymap={},
                     recent_path=state / "recent.json")
    Input.cursor_blink = False
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await steps(pilot)
        app.clear_notifications()
        await pilot.pause()
        saved = Path(app.save_screenshot(f"{name}.svg", str(out)))
        if isinstance(app.screen, BatchScreen) and app.screen.running:
            for paced in pacing:
                paced.release.set()
            await press(pilot, "f10")  # let the batch stop before its state dir goes away
        return saved


async def lookup_steps(pilot: Pilot[Any]) -> None:
    await lookup(pilot, "55266")
    await lookup(pilot, "55280")
    await lookup(pilot, "55260")
    await press(pilot, "f4")
    pilot.app.screen.query_one("#customer", Input).value = ""
    await press(pilot, "f3")


async def preview_steps(pilot: Pilot[Any]) -> None:
    await lookup(pilot, "55264")


async def confirm_steps(pilot: Pilot[Any]) -> None:
    await lookup(pilot, "55262")
    await press(pilot, "f5")


async def errors_steps(pilot: Pilot[Any]) -> None:
    # Held and blocked customers leave error records, as an overnight batch would.
    await press(pilot, "f8", *"55330 55331 55262 55271 55260 55340", "f5")
    await press(pilot, "f6")


async def batch_steps(pilot: Pilot[Any]) -> None:
    await press(pilot, "f8", "ctrl+t", "f3")
    screen = pilot.app.screen
    assert isinstance(screen, BatchScreen)
    await pilot.press("f5")  # no settle: the shot is of a batch still running
    # The consent survey asks first when customers need a confirmation: run, confirming none.
    for _ in range(600):
        if isinstance(pilot.app.screen, SurveyScreen) or screen.running:
            break
        await pilot.pause(0.05)
    if isinstance(pilot.app.screen, SurveyScreen):
        await pilot.pause()
        pilot.app.screen.query_one("#survey-run", Button).press()
        await pilot.pause()
    # Real samples only: wait until the sampler has drawn a few seconds of the running batch.
    wanted = round(4 / screen.SAMPLE_SECONDS)
    for _ in range(600):
        await pilot.pause(0.05)
        drawn = sum(1 for rate in screen.throughput if rate > 0)
        if drawn >= wanted or not screen.running:
            break
    await pilot.pause()


async def history_steps(pilot: Pilot[Any]) -> None:
    await lookup(pilot, "55266")
    await press(pilot, "f5", "y")
    await press(pilot, "f7")


async def undo_steps(pilot: Pilot[Any]) -> None:
    # Pushes to put back, one that wrote nothing among them; all marked, then Undo asks once.
    engine: Any = pilot.app.engine
    await engine.push("55330")
    for customer_id in ("55260", "55270", "55266"):
        await engine.push(customer_id, confirm=True)
    await press(pilot, "f7")
    pilot.app.screen.query_one(DataTable).focus()
    await press(pilot, "a", "f5")


async def report_steps(pilot: Pilot[Any]) -> None:
    await press(pilot, "f12")
    pilot.app.screen.query_one("#report-ids", Input).focus()
    await press(pilot, "enter")
    await press(pilot, "down", "enter")  # route update: its customers


SHOTS: dict[str, Step] = {
    "lookup": lookup_steps,
    "preview": preview_steps,
    "push-confirm": confirm_steps,
    "errors": errors_steps,
    "batch": batch_steps,
    "history": history_steps,
    "undo-confirm": undo_steps,
    "report": report_steps,
}


async def export(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    saved = []
    for name, steps in SHOTS.items():
        with tempfile.TemporaryDirectory(prefix="console-shot-") as state:
            saved.append(await shoot(Path(state), out, name, steps))
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    args = parser.parse_args(argv)
    for path in asyncio.run(export(args.out)):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
