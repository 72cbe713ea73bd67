"""The lookup's customer search: typed text to one customer, and the index's refresh."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual.content import Content

from console.screens.base import say
from console.screens.recent import PickCustomerScreen
from console.search_words import hit_label, no_match, search_title
from console.widgets.status import StatusLine

if TYPE_CHECKING:
    from textual.screen import Screen

    from console.screens.base import EnginePort

NOT_PICKED = "No customer picked: nothing shown."


async def choose_customer(screen: Screen[None], engine: EnginePort,
                          query: str) -> tuple[str | None, str]:
    """The id of the customer the query finds (the operator picks when several match), or
    None and the words saying why there is none."""
    found = await engine.search_customers(query)
    if found.live_error:
        screen.notify(f"iPaaS.com's exact search failed ({found.live_error}); these are the "
                      "customer index's suggestions.", severity="warning", markup=False)
    if not found.hits:
        screen.notify(no_match(query, found), severity="warning", markup=False)
        return None, no_match(query, found)
    if len(found.hits) == 1 and not found.more:
        return found.hits[0].id, ""
    # An index hit is a suggestion: picking it previews the customer fresh.
    choices = [(hit.id, hit_label(hit)) for hit in found.hits]
    picked = await screen.app.push_screen_wait(PickCustomerScreen(search_title(found), choices))
    return (picked, "") if picked else (None, NOT_PICKED)


class IndexRefresh:
    """Refreshes the customer index for a screen whose status line follows the build."""

    def __init__(self, screen: Screen[None]) -> None:
        self.screen = screen
        self.note = ""  # what this last said in the status line

    async def run(self, engine: EnginePort, *, force: bool) -> None:
        """Refresh when the index is empty or older than the setting (always with `force`)."""
        if force:
            self.say("Refreshing the customer index…")
        started = time.monotonic()
        shown = 0.0

        def progress(read: int) -> None:
            nonlocal shown
            now = time.monotonic()
            if now - shown >= 0.25 or read <= 1:
                shown = now
                self.say(f"Building the customer index (for parts of emails and names): "
                         f"{read:,} customers read…")

        try:
            status = await engine.refresh_customer_index(if_older=not force,
                                                         on_progress=progress)
        except Exception as exc:  # the index only adds suggestions: say it, keep the lookup
            self.say("")
            self.screen.notify(f"The customer index was not refreshed: {say(exc)}",
                               markup=False, severity="warning", title="Customer index")
            return
        self.say("")
        if status is not None and (force or time.monotonic() - started > 2):
            self.screen.notify(f"Customer index refreshed: {status.customers:,} customers.",
                               title="Customer index", markup=False)

    def say(self, text: str) -> None:
        """Put the words in the status line, unless it is saying something else."""
        status = self.screen.query_one("#status", StatusLine)
        shown = status.visual.plain if isinstance(status.visual, Content) else ""
        if status.busy or shown not in ("", self.note):
            return
        self.note = text
        status.update(Content(text))
