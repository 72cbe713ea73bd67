"""Undo of several pushes: one confirmation listing what each undo does, then its outcome."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Footer, Label, Static

from console.keymap import binding
from console.screens.dialog import SCROLL_BINDINGS, ScrollingDialog
from console.screens.recent import DIALOG_CSS
from console.widgets.words import cell, short_time
from core.model import ListAction

if TYPE_CHECKING:
    from core.engine.undo import UndoResult
    from core.model import HistoryEntry
    from core.plan.undo import UndoPlan

# What the operator chose: undo fields and lists only, also reverse consent, or nothing.
Choice = Literal["fields", "consent"] | None
Parts = list[str | tuple[str, str]]


DIALOG_STYLES = DIALOG_CSS + """
    UndoConfirmScreen, UndoOutcomeScreen { align: center middle; }
    .undo-dialog { width: 90%; max-width: 120; padding: 0 1; max-height: 100%; }
    .undo-body { height: auto; }
    .undo-text { height: auto; }
    .buttons { height: auto; margin-top: 1; align-horizontal: right; }
    .buttons Button { margin-left: 2; }
"""


def field_work(undo: UndoPlan) -> bool:
    """Whether undoing restores a field or takes the profile off a list (consent aside)."""
    return bool(undo.attributes or undo.unset_properties or undo.plan.lists)


def heading(undo: UndoPlan, entry: HistoryEntry | None) -> Parts:
    """The push being undone: its id, customer, profile, time and trigger."""
    plan = undo.plan
    parts: Parts = [(undo.history_id, "bold"), f"  customer {plan.customer_id}"]
    if plan.profile_id:
        parts.append(f" · profile {plan.profile_id}")
    if entry is not None:
        parts.append((f"\n  pushed {short_time(entry.at)} ({entry.trigger}, "
                      f"{entry.route.value})", "$text-muted"))
    parts.append("\n")
    return parts


def changes(undo: UndoPlan) -> Parts:
    """Fields put back or cleared, properties removed, lists left."""
    parts: Parts = []
    for diff in undo.plan.diff:
        if diff.field.startswith("properties.") and diff.mapped is None:
            parts.append(f"  property {diff.field.partition('.')[2]}: removed\n")
        elif diff.mapped is None:
            parts.append(f"  {diff.field}: {cell(diff.current)} → cleared\n")
        else:
            parts.append(f"  {diff.field}: {cell(diff.current)} → {cell(diff.mapped)} "
                         "(restored)\n")
    for item in undo.plan.lists:
        if item.action is ListAction.REMOVE:
            parts.append(f"  list '{item.list_name}': profile removed\n")
    return parts


def conflicts(undo: UndoPlan) -> Parts:
    return [(f"  ⚠ conflict: {c.field} is {cell(c.live, 'empty')!r} in Klaviyo now, the push "
             f"left {cell(c.pushed, 'empty')!r}: left alone (before the push: "
             f"{cell(c.before, 'empty')!r})\n", "$warning") for c in undo.conflicts]


def consent(undo: UndoPlan) -> Parts:
    """The consent operations the push made, NOT reversed, and the guard on reversing them."""
    parts: Parts = []
    for done in undo.consent_done:
        where = f" via list '{done.list_name}'" if done.list_name else ""
        parts.append(("  consent: ", "bold"))
        parts.append(f"the push did {done.action} {done.channel}{where}: ")
        parts.append(("NOT reversed by Undo", "bold $warning"))
        parts.append("\n")
    for reason in undo.plan.guard.reasons:
        parts.append((f"  ⚠ only with 'Undo and reverse consent', held until confirmed: "
                      f"{reason.text}\n", "bold $error"))
    return parts


def entry_text(result: UndoResult, entry: HistoryEntry | None) -> Parts:
    """One push in the confirmation: what its undo does, or why it cannot be undone."""
    undo = result.undo
    parts = heading(undo, entry)
    if entry is not None and entry.trigger == "undo":
        parts.append(("  this push was itself an undo: undoing it puts back what that undo "
                      "reverted\n", "$text-muted"))
    if undo.plan.blocked:
        why = "; ".join(undo.plan.errors) or undo.plan.reason
        return [*parts, (f"  ✖ cannot be undone: {why}\n", "bold $error")]
    parts += changes(undo)
    if not field_work(undo):
        parts.append(("  fields and lists: nothing to undo (already as before the push, or "
                      "changed in Klaviyo since)\n", "$text-muted"))
    parts += conflicts(undo)
    parts += consent(undo)
    parts += [(f"  · {note}\n", "$text-muted") for note in undo.notes]
    return parts


def confirm_text(results: Sequence[UndoResult],
                 entries: Mapping[str, HistoryEntry]) -> Content:
    """Every chosen push, newest first, with what its undo does."""
    parts: Parts = []
    for result in results:
        parts += entry_text(result, entries.get(result.undo.history_id))
        parts.append("\n")
    parts.append(("Undo re-reads each profile first and reverts only what is still as the "
                  "push left it; each undo is recorded in the history (trigger undo), a "
                  "failed one in the error log.", "$text-muted"))
    return Content.assemble(*parts)


class UndoConfirmScreen(ScrollingDialog[Choice]):
    """Asks once before undoing several pushes; Cancel does nothing."""

    SCOPED_CSS = False
    DEFAULT_CSS = DIALOG_STYLES
    BINDINGS = [binding("undo-confirm", "undo_fields"), binding("cancel", "cancel"),
                *SCROLL_BINDINGS]

    def __init__(self, results: Sequence[UndoResult],
                 entries: Mapping[str, HistoryEntry]) -> None:
        super().__init__()
        self.results = list(results)
        self.entries = entries
        self.undoable = sum(1 for r in self.results if field_work(r.undo))
        self.reversible = sum(1 for r in self.results if r.undo.plan.consent)

    def compose(self) -> ComposeResult:
        count = len(self.results)
        if self.undoable or self.reversible:
            title = f"Undo {count} push{'es' if count != 1 else ''}?"
        else:
            title = f"Nothing to undo in the {count} chosen push{'es' if count != 1 else ''}"
        with Vertical(id="undo-confirm", classes="dialog undo-dialog"):
            yield Label(Content(title), classes="dialog-title")
            with VerticalScroll(classes="undo-body"):
                yield Static(confirm_text(self.results, self.entries), classes="undo-text",
                             id="undo-summary")
            with Horizontal(classes="buttons"):
                if self.undoable:
                    yield Button(f"Undo {self.undoable}", variant="primary", id="do-undo")
                if self.reversible:
                    yield Button("Undo and reverse consent", variant="error",
                                 id="do-undo-consent")
                yield Button("Cancel" if self.undoable or self.reversible else "Close",
                             id="cancel-undo")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#do-undo" if self.undoable else "#cancel-undo", Button).focus()


    def on_button_pressed(self, event: Button.Pressed) -> None:
        choices: dict[str | None, Choice] = {"do-undo": "fields", "do-undo-consent": "consent"}
        self.dismiss(choices.get(event.button.id))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.undoable > 0 if action == "undo_fields" else True

    def action_undo_fields(self) -> None:
        self.dismiss("fields")

    def action_cancel(self) -> None:
        self.dismiss(None)


def outcome_counts(results: Sequence[UndoResult]) -> Counter[str]:
    """How many undos came to done, failed, held and nothing."""
    return Counter(r.outcome for r in results)


def outcome_text(results: Sequence[UndoResult]) -> Content:
    """Per push: done, failed (with its error record), held, or nothing to undo, and why."""
    counts = outcome_counts(results)
    left_alone = sum(len(r.undo.conflicts) for r in results)
    parts: Parts = [(f"{counts['done']} done, {counts['failed']} failed, {counts['held']} held, "
                     f"{counts['nothing']} with nothing to undo; {left_alone} conflict(s) left "
                     "alone.\n\n", "bold")]
    for result in results:
        undo = result.undo
        outcome = result.outcome
        style = {"done": "bold $success", "failed": "bold $error",
                 "held": "bold $warning"}.get(outcome, "bold")
        label = outcome.upper()
        if outcome == "nothing":
            label = "NOT UNDONE" if undo.plan.blocked else "NOTHING TO UNDO"
        parts += [(label, style), f"  {undo.history_id} customer {undo.plan.customer_id}"]
        restored = len(undo.plan.diff)
        if outcome == "done":
            parts.append(f": {restored} field(s) put back, {len(undo.plan.lists)} list "
                         f"removal(s), {len(undo.plan.consent)} consent reversal(s)\n")
        elif outcome == "nothing":
            why = "; ".join(undo.plan.errors) if undo.plan.blocked else (
                "already as before the push")
            parts.append(f": {why}\n")
        else:
            parts.append("\n")
        error = result.result.error if result.result is not None else None
        if error is not None:
            parts.append((f"  {error.headline()} (error record {error.id}: F6, retry "
                          "undoes it again)\n", "$error"))
        elif outcome == "held":
            parts.append(("  held by the consent guard: nothing was written\n", "$warning"))
        parts += conflicts(undo)
    return Content.assemble(*parts).rstrip()


class UndoOutcomeScreen(ScrollingDialog[None]):
    """What the undo run did, per push."""

    SCOPED_CSS = False
    DEFAULT_CSS = DIALOG_STYLES
    # Nothing is left to cancel once the undo ran: the key closes the outcome.
    BINDINGS = [binding("cancel", "close", label="Close"), *SCROLL_BINDINGS]

    def __init__(self, results: Sequence[UndoResult]) -> None:
        super().__init__()
        self.results = list(results)

    def compose(self) -> ComposeResult:
        with Vertical(id="undo-outcome", classes="dialog undo-dialog"):
            yield Label(Content(f"Undo finished: {len(self.results)} push(es)"),
                        classes="dialog-title")
            with VerticalScroll(classes="undo-body"):
                yield Static(outcome_text(self.results), classes="undo-text",
                             id="undo-outcome-text")
            with Horizontal(classes="buttons"):
                yield Button("Close", variant="primary", id="close-outcome")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#close-outcome", Button).focus()


    def on_button_pressed(self, _event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
