"""The push confirmation: what will change, with every consent change named."""

from __future__ import annotations

from collections import Counter

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from console.keymap import binding
from console.screens.recent import DIALOG_CSS
from console.widgets.words import cell, consent_is_risky, consent_words, list_words, route_title
from core.model import Change, Plan, Route


def summary(plan: Plan) -> Content:
    """The dialog's body: route, field counts, changed fields, lists and consent."""
    target = f"profile {plan.profile_id}" if plan.profile_id else "a new profile"
    verb = "Create" if plan.route is Route.CREATE else "Update"
    parts: list[str | tuple[str, str]] = [
        (f"{route_title(plan)}", "bold"),
        f": {verb} {target} for customer {plan.customer_id}.\n",
        (f"{plan.reason}\n\n", "$text-muted"),
    ]
    counts = Counter(d.change for d in plan.diff)
    parts.append(
        f"Fields: {counts[Change.ADDED]} added, {counts[Change.CHANGED]} changed, "
        f"{counts[Change.UNCHANGED]} unchanged, {counts[Change.KEPT]} kept by Klaviyo.\n"
    )
    for diff in plan.diff:
        if diff.change is Change.CHANGED:
            parts.append(f"  {diff.field}: {cell(diff.current)} → {cell(diff.mapped)}\n")
        elif diff.change is Change.ADDED:
            parts.append(f"  {diff.field}: + {cell(diff.mapped)}\n")
    for item in plan.lists:
        parts.append(f"• {list_words(item)}\n")
    risky = [c for c in plan.consent if consent_is_risky(c)]
    safe = [c for c in plan.consent if not consent_is_risky(c)]
    if plan.consent:
        parts.append("\nConsent changes:\n")
    for change in risky:
        parts.append((f"⚠ {consent_words(change)}\n", "bold $error"))
    for change in safe:
        parts.append(f"• {consent_words(change)}\n")
    if risky:
        parts.append(("\nThese consent changes happen only because you confirm them here.",
                      "bold $error"))
    return Content.assemble(*parts).rstrip()


class PushConfirmScreen(ModalScreen[bool]):
    """Asks before a push; focus starts on Cancel when consent is at risk."""

    SCOPED_CSS = False
    DEFAULT_CSS = DIALOG_CSS + """
    PushConfirmScreen { align: center middle; }
    #confirm-body { height: auto; max-height: 60vh; }
    #confirm-summary { height: auto; }
    .buttons { height: auto; margin-top: 1; align-horizontal: right; }
    .buttons Button { margin-left: 2; }
    """

    BINDINGS = [binding("confirm", "confirm"), binding("cancel", "cancel")]

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan
        self.risky = any(consent_is_risky(c) for c in plan.consent)

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm", classes="dialog"):
            yield Label(f"Push customer {self.plan.customer_id}?", classes="dialog-title")
            with VerticalScroll(id="confirm-body"):
                yield Static(summary(self.plan), id="confirm-summary")
            with Horizontal(classes="buttons"):
                yield Button(
                    "Push with consent changes" if self.risky else "Push",
                    variant="error" if self.risky else "primary",
                    id="do-push",
                )
                yield Button("Cancel", id="cancel-push")

    def on_mount(self) -> None:
        self.query_one("#cancel-push" if self.risky else "#do-push", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "do-push")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
