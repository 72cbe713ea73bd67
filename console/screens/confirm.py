"""The push confirmation: the guard's reasons first, then what will change."""

from __future__ import annotations

from collections import Counter

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Footer, Label, Static

from console.keymap import binding
from console.screens.dialog import SCROLL_BINDINGS, ScrollingDialog
from console.screens.recent import DIALOG_CSS
from console.widgets.words import (
    cell,
    consent_words,
    email_problem,
    guard_lines,
    has_guard,
    list_words,
    plan_email,
    route_title,
)
from core.model import Change, Plan, Route


def summary(plan: Plan, *, resend: bool = False) -> Content:
    """The dialog's body: guard reasons, route, field counts, changed fields, lists, consent."""
    target = f"profile {plan.profile_id}" if plan.profile_id else "a new profile"
    verb = "Create" if plan.route is Route.CREATE else "Update"
    parts: list[str | tuple[str, str]] = []
    lines = guard_lines(plan)
    held = [line for line in lines if line.held]
    if held:
        parts.append(("Needs your confirmation:\n", "bold $error"))
        parts += [(f"⚠ {line.text}\n", "bold $error") for line in held]
    parts += [(f"✓ {line.text} (applied without asking)\n", "$success")
              for line in lines if not line.held]
    if resend:
        parts.append(("Klaviyo is asked to send the double opt-in consent email again, even "
                      "if one is awaiting confirmation.\n", "bold $warning"))
    if parts:
        parts.append("\n")
    parts += [
        (f"{route_title(plan)}", "bold"),
        f": {verb} {target} for customer {plan.customer_id}.\n",
        (f"{plan.reason}\n", "$text-muted"),
    ]
    problem = email_problem(plan_email(plan))
    if problem:
        parts.append((f"✖ {problem}\n", "bold $error"))
    counts = Counter(d.change for d in plan.diff)
    parts.append(
        f"\nFields: {counts[Change.ADDED]} added, {counts[Change.CHANGED]} changed, "
        f"{counts[Change.UNCHANGED]} unchanged, {counts[Change.KEPT]} kept by Klaviyo.\n"
    )
    for diff in plan.diff:
        if diff.change is Change.CHANGED:
            parts.append(f"  {diff.field}: {cell(diff.current)} → {cell(diff.mapped)}\n")
        elif diff.change is Change.ADDED:
            parts.append(f"  {diff.field}: + {cell(diff.mapped)}\n")
    for item in plan.lists:
        parts.append(f"• {list_words(item)}\n")
    # Without a Guard on the plan its held lines above are the risky changes themselves.
    shown = plan.consent if has_guard(plan) else [c for c in plan.consent if not c.risky]
    if shown:
        parts.append("\nConsent operations:\n")
    parts += [f"• {consent_words(change)}\n" for change in shown]
    if held:
        parts.append(("\nThese consent changes happen only because you confirm them here.",
                      "bold $error"))
    return Content.assemble(*parts).rstrip()


class PushConfirmScreen(ScrollingDialog[bool]):
    """Asks before a push; focus starts on Cancel when consent is at risk."""

    SCOPED_CSS = False
    DEFAULT_CSS = DIALOG_CSS + """
    PushConfirmScreen { align: center middle; }
    PushConfirmScreen .dialog { width: 90%; padding: 0 1; max-height: 100%; }
    #confirm-body { height: auto; }
    #confirm-summary { height: auto; }
    .buttons { height: auto; margin-top: 1; align-horizontal: right; }
    .buttons Button { margin-left: 2; }
    """

    BINDINGS = [binding("confirm", "confirm"), binding("cancel", "cancel"), *SCROLL_BINDINGS]

    def __init__(self, plan: Plan, *, resend: bool = False) -> None:
        super().__init__()
        self.plan = plan
        self.resend = resend
        self.risky = any(line.held for line in guard_lines(plan)) or resend

    def compose(self) -> ComposeResult:
        title = (f"Push customer {self.plan.customer_id} and re-send the consent email?"
                 if self.resend else f"Push customer {self.plan.customer_id}?")
        with Vertical(id="confirm", classes="dialog"):
            yield Label(Content(title), classes="dialog-title")
            with VerticalScroll(id="confirm-body"):
                yield Static(summary(self.plan, resend=self.resend), id="confirm-summary")
            with Horizontal(classes="buttons"):
                yield Button(
                    "Push with consent changes" if self.risky else "Push",
                    variant="error" if self.risky else "primary",
                    id="do-push",
                )
                yield Button("Cancel", id="cancel-push")
        yield Footer()  # the dialog's own keys, not the screen's beneath

    def on_mount(self) -> None:
        self.query_one("#cancel-push" if self.risky else "#do-push", Button).focus()


    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "do-push")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
