"""Pilot steps through the batch's consent survey, shared by the batch tests on the sandbox."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Button, Checkbox

from console.screens.batch import BatchScreen
from console.screens.batch_dialogs import SurveyScreen
from tests.ui.helpers import until


async def past_survey(pilot: Pilot[Any], batch: BatchScreen, *, confirm: Iterable[str] = (),
                      arm: Any = None) -> None:
    """Wait for the run's plans to be read; in the dialog, if one asks, tick `confirm` and Run.

    `arm` (a HoldCustomer) starts holding only now, so the survey reads every customer and the
    run itself is the one left waiting.
    """
    await until(pilot, lambda: isinstance(pilot.app.screen, SurveyScreen)
                or batch.cancel_event is not None or not batch.running, timeout=30)
    if arm is not None:
        arm.armed = True
    dialog = pilot.app.screen
    if isinstance(dialog, SurveyScreen):
        await pilot.pause()  # laid out before it is answered, however busy the machine
        for kind in confirm:
            dialog.query_one(f"#confirm-{kind}", Checkbox).value = True
        dialog.query_one("#survey-run", Button).press()
        await until(pilot, lambda: pilot.app.screen is batch, timeout=30)
