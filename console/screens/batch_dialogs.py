"""The batch's consent dialogs: which guarded kinds a run confirms, and the brake."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, Label, Static

from console.keymap import binding
from console.screens.recent import DIALOG_CSS
from console.widgets.outcomes import GUARD_KINDS
from console.widgets.tickbox import TickBox

BUTTONS_CSS = """
    #survey-body, #brake-body { height: auto; max-height: 45vh; }
    .dialog .buttons { height: auto; margin-top: 1; align-horizontal: right; }
    .dialog .buttons Button { margin-left: 2; }
    .dialog TickBox { border: none; padding: 0; height: auto; }
"""


class SurveyScreen(ModalScreen[frozenset[str] | None]):
    """Before a run: how many customers need each kind confirmed; ticked kinds are confirmed,
    the rest held. None when the operator cancels the run."""

    SCOPED_CSS = False
    DEFAULT_CSS = DIALOG_CSS + BUTTONS_CSS + "SurveyScreen { align: center middle; }"
    BINDINGS = [binding("cancel", "cancel")]

    def __init__(self, counts: dict[str, int], customers: int, unsubscribes: int = 0) -> None:
        super().__init__()
        self.counts = counts
        self.customers = customers
        self.unsubscribes = unsubscribes

    def compose(self) -> ComposeResult:
        with Vertical(id="survey", classes="dialog"):
            yield Label("Consent changes in this run", classes="dialog-title")
            with VerticalScroll(id="survey-body"):
                yield Static(self.intro(), id="survey-intro")
                for kind, (name, _meaning) in GUARD_KINDS.items():
                    if self.counts.get(kind):
                        yield TickBox(f"{name}: {self.counts[kind]} customer(s)",
                                      id=f"confirm-{kind}")
                yield Static(self.meanings(), id="survey-meanings")
            with Horizontal(classes="buttons"):
                yield Button("Run", variant="primary", id="survey-run")
                yield Button("Cancel", id="survey-cancel")
        yield Footer()  # the dialog's keys, not the batch screen's

    def intro(self) -> Content:
        return Content(f"{self.customers} customer(s) planned. Tick what this run may do; "
                       "customers needing anything unticked are held as errors (F6).\n")

    def meanings(self) -> Content:
        lines = [f"• {name}: {meaning}" for kind, (name, meaning) in GUARD_KINDS.items()
                 if self.counts.get(kind)]
        if self.unsubscribes:
            lines.append(f"{self.unsubscribes} customer(s) would be unsubscribed in all.")
        return Content("\n" + "\n".join(lines))

    def on_mount(self) -> None:
        self.query_one("#survey-run", Button).focus()

    def confirmed(self) -> frozenset[str]:
        return frozenset(box.id.removeprefix("confirm-") for box in self.query(Checkbox)
                         if box.value and box.id)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self.confirmed() if event.button.id == "survey-run" else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class BrakeScreen(ModalScreen[bool]):
    """A tripped brake: apply the held unsubscribes, or leave them held. Focus starts on No."""

    SCOPED_CSS = False
    DEFAULT_CSS = DIALOG_CSS + BUTTONS_CSS + "BrakeScreen { align: center middle; }"
    BINDINGS = [binding("cancel", "cancel")]

    def __init__(self, words: str) -> None:
        super().__init__()
        self.words = words

    def compose(self) -> ComposeResult:
        with Vertical(id="brake", classes="dialog"):
            yield Label("The unsubscribe brake stopped this run", classes="dialog-title")
            with VerticalScroll(id="brake-body"):
                yield Static(Content(self.words), id="brake-words")
            with Horizontal(classes="buttons"):
                yield Button("Apply the unsubscribes", variant="error", id="brake-apply")
                yield Button("Keep them held", id="brake-keep")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#brake-keep", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "brake-apply")

    def action_cancel(self) -> None:
        self.dismiss(False)
