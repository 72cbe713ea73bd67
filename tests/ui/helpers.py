"""Small Pilot helpers shared by the UI tests."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Static


async def settle(pilot: Pilot[Any]) -> None:
    """Let messages, workers and the follow-up messages they post run to completion."""
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def lookup(pilot: Pilot[Any], query: str) -> None:
    await settle(pilot)
    field = pilot.app.screen.query_one("#customer")
    field.value = ""
    await pilot.click("#customer")
    await pilot.press(*query, "enter")
    await settle(pilot)


def text_of(pilot: Pilot[Any], selector: str) -> str:
    return str(pilot.app.screen.query_one(selector, Static).render())
