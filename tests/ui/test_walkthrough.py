"""Issue 15, item 8: an operator's walk through the real console on the demo sandbox at 80x24.

lookup -> failed lookup -> preview -> push with its consent dialog -> an error -> retry ->
history -> batch, each step asserting on the text the terminal shows (the app's own SVG
export, read back row by row), not on widget state.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from console.screens.batch_dialogs import SurveyScreen
from tests.ui.batch_helpers import past_survey
from tests.ui.helpers import (
    lookup,
    press_and_settle,
    screen_lines,
    screen_text,
    settle,
    until,
)
from tests.ui.sandbox_app import sandbox_app, sandbox_config

ANN = "01JGFJK6QFB96KRART17WEJVYY"  # 55260's profile, linked
PRIYA = "01JGFJKP6DB96KRART17WES8GG"  # 55262's profile, UNSUBSCRIBED in Klaviyo


def klaviyo_reachable(app: Any, reachable: bool) -> None:
    """The sandbox's outage knob (SANDBOX_KLAVIYO_DOWN), turned while the console runs."""
    sandbox = app.engine.sandbox
    sandbox.knobs = replace(sandbox.knobs, klaviyo_down=not reachable)


async def press(pilot: Pilot[Any], *keys: str) -> str:
    """Press the keys, let what they started finish, and read the screen."""
    await press_and_settle(pilot, *keys)
    return screen_text(pilot.app)


async def test_an_operator_walks_through_the_console_at_80x24(tmp_path: Path) -> None:
    # One attempt per call: the outage below is logged at once instead of after backoff.
    state = tmp_path / "state"
    app = sandbox_app(state, config=sandbox_config(state, retry_attempts=1))
    async with app.run_test(size=(80, 24)) as pilot:
        # 1. Lookup: the route banner and its reason.
        await lookup(pilot, "55260")
        screen = screen_text(app)
        assert f"UPDATE   customer 55260 → profile {ANN}" in screen
        assert f"linked via external id {ANN}" in screen
        assert "Preview of customer 55260: UPDATE. F5 to push." in screen
        assert "first_name" in screen and "Anne" in screen  # the diff starts on screen one

        # 2. A failed lookup: it says "not found", and 55260's preview is gone.
        await lookup(pilot, "99999")
        screen = screen_text(app)
        assert "Preview of 99999 failed: customer 99999 not found in iPaaS.com" in screen
        assert "UPDATE" not in screen and ANN not in screen and "first_name" not in screen
        assert "f5 Push" not in screen  # nothing on screen to push

        # 3. Preview of a customer who unsubscribed: the push would re-subscribe them.
        await lookup(pilot, "55262")
        screen = screen_text(app)
        assert f"UPDATE   customer 55262 → profile {PRIYA}" in screen
        assert "2 consent changes need confirmation (resubscribe)" in screen

        # 4. Push: the consent dialog names why it asks, and both buttons fit at 80x24.
        dialog = await press(pilot, "f5")
        assert "Push customer 55262?" in dialog
        assert "Needs your confirmation:" in dialog
        assert "who is" in dialog and "UNSUBSCRIBED in Klaviyo: consent must come" in dialog
        [buttons] = [row for row in screen_lines(app) if "Push with consent changes" in row]
        assert "Cancel" in buttons
        assert screen_lines(app)[-1].split() == ["y", "Push", "esc", "Cancel", "↓", "Scroll"]
        screen = await press(pilot, "y")
        assert f"Pushed customer 55262 to profile {PRIYA}.  Now: UPDATE." in screen

        # 5. An error: Klaviyo goes down just as the operator confirms a new customer's push.
        await lookup(pilot, "55300")
        assert "CREATE   customer 55300" in screen_text(app)
        assert "Push customer 55300?" in await press(pilot, "f5")
        klaviyo_reachable(app, False)
        await pilot.press("y")
        # Waits on the words themselves: on a loaded machine the push can outlast a settle.
        await until(pilot, lambda: "Push of customer 55300 failed: Klaviyo" in screen_text(app),
                    timeout=60)

        # ... the error log names it in plain words: what happened and how to fix it.
        screen = await press(pilot, "f6")
        assert "1 record(s)" in screen
        row = next(line for line in screen_lines(app) if "55300" in line and "open" in line)
        assert "api_unavailable" in row
        assert "OPEN  api_unavailable" in screen
        assert "What happened: Klaviyo" in screen and "How to fix:" in screen

        # 6. Retry, once Klaviyo answers again: the record is resolved on its second attempt.
        klaviyo_reachable(app, True)
        screen = await press(pilot, "r")
        row = next(line for line in screen_lines(app) if "55300" in line)
        assert "resolved" in row
        assert "RESOLVED  api_unavailable" in screen and "2 attempt(s)" in screen

        # 7. History: the customer's pushes, each with its outcome word and trigger.
        screen = await press(pilot, "f7")
        assert "Pushes for customer 55300: 2" in screen
        [done] = [line for line in screen_lines(app) if "CREATE" in line and "retry" in line]
        assert "done" in done
        [failed] = [line for line in screen_lines(app) if "manual" in line]
        assert "55300" in failed and "failed" in failed

        # 8. Batch: three customers; 55262's re-subscribe is held, as nobody confirms it.
        screen = await press(pilot, "f8")
        assert "Not started." in screen
        await pilot.press(*"55261 55262 55270", "f5")
        await until(pilot, lambda: isinstance(app.screen, SurveyScreen), timeout=30)
        await pilot.pause()
        survey = screen_text(app)
        assert "3 customer(s) planned" in survey and "re-subscribe: 1 customer(s)" in survey
        [buttons] = [row for row in screen_lines(app) if " Run " in row]
        assert "Cancel" in buttons
        await past_survey(pilot, app.screen)
        await settle(pilot)
        screen = screen_text(app)
        assert "Batch finished: 2 done, 0 failed, 1 held by the consent guard" in screen


async def test_a_deleted_link_is_named_in_the_route_banner_at_80x24(tmp_path: Path) -> None:
    grace = "01JGFJMN49B96KRART17WF61KM"  # 55267's link is DELETED:<this id>
    app = sandbox_app(tmp_path / "state")
    async with app.run_test(size=(80, 24)) as pilot:
        await lookup(pilot, "55267")
        screen = screen_text(app)
        assert f"LINK by email   customer 55267 → profile {grace}" in screen
        # The banner's lines, wrapped at 80 columns, joined again without its gutter.
        banner = " ".join(line.removeprefix(" ▌ ").rstrip(" ▁▂▃▄▅▆▇█")
                          for line in screen_lines(app) if line.startswith(" ▌ "))
        assert f"iPaaS.com link to profile {grace} marked deleted; email" in banner
        assert (f"⚠ stale link: the iPaaS.com link to profile {grace} was marked deleted; "
                "treated as not linked (Add collection)") in banner
