"""The preview of one plan: routing banner, payload beside profile, diff, consent, notes."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from core.model import Change, FieldDiff, Plan, Route

from .words import (
    RICH_CHANGE_STYLE,
    cell,
    consent_words,
    email_problem,
    guard_lines,
    has_guard,
    list_words,
    pending_since,
    plan_email,
    pretty_json,
    route_title,
    stale_link_notes,
    unknown_facts,
)


class RouteBanner(Static):
    """Route and reason, what changes, and the consent verdict: the first screen's lines."""

    def show(self, plan: Plan) -> None:
        for route in Route:
            self.set_class(plan.route is route, f"-{route.value}")
        parts: list[str | tuple[str, str]] = [
            (f" {route_title(plan)} ", "bold reverse"),
            f"  customer {plan.customer_id}",
        ]
        if plan.profile_id:
            parts.append(f" → profile {plan.profile_id}")
        parts.append(f"\n{plan.reason}")
        for note in stale_link_notes(plan):
            parts.append((f"\n⚠ {note}", "bold $warning"))
        if plan.blocked:
            parts += [(f"\n✖ {error}", "bold $error") for error in plan.errors
                      if error not in plan.reason]
            parts.append(("\nNothing can be sent until this is fixed in iPaaS.com.",
                          "bold $error"))
            self.update(Content.assemble(*parts))
            return
        problem = email_problem(plan_email(plan))
        if problem:
            parts.append((f"\n✖ {problem}", "bold $error"))
        parts.append(f"\n{change_summary(plan)}")
        parts.append(verdict(plan))
        unknown = unknown_facts(plan)
        if unknown:
            parts.append((f"\n? Not known to this preview: {', '.join(unknown)}", "$warning"))
        self.update(Content.assemble(*parts))


def change_summary(plan: Plan) -> str:
    """Counts of field, list and consent changes, on one line."""
    counts = Counter(d.change for d in plan.diff)
    text = (f"Fields: {counts[Change.CHANGED]} changed, {counts[Change.ADDED]} added, "
            f"{counts[Change.UNCHANGED]} unchanged")
    if counts[Change.KEPT]:
        text += f", {counts[Change.KEPT]} kept"
    text += f" · lists: {len(plan.lists)} · consent: {len(plan.consent)}"
    return text


def verdict(plan: Plan) -> tuple[str, str]:
    """The guard's verdict: what needs confirmation, in red, or that nothing does."""
    held = [line for line in guard_lines(plan) if line.held]
    if not held:
        return ("\n✓ No consent change needs confirmation.", "$success")
    noun = "change needs" if len(held) == 1 else "changes need"
    kinds = ", ".join(dict.fromkeys(line.kind for line in held)) if has_guard(plan) else ""
    return (f"\n⚠ {len(held)} consent {noun} confirmation{f' ({kinds})' if kinds else ''}: "
            "see Consent below", "bold $error")


class JsonView(Static):
    """A JSON document, syntax coloured; `text` keeps the plain JSON shown."""

    text = ""

    def show(self, value: object) -> None:
        text = pretty_json(value)
        if text == self.text and self.text:
            return  # same document: keep the laid-out, already-coloured content
        self.text = text
        if value is None:
            self.update(Content.styled(text, "italic $text-muted"))
            return
        self.update(coloured_json(text))


# Colouring a document is the dearest part of drawing a preview; switching between customers
# shows the same few documents again, so each is coloured once.
@lru_cache(maxsize=64)
def coloured_json(text: str) -> Content:
    """JSON text syntax coloured as Content, which Textual wraps and measures cheaply."""
    from rich.syntax import Syntax  # pygments loads on the first preview, not at start-up

    syntax = Syntax(text, "json", theme="ansi_dark", background_color="default")
    highlighted = syntax.highlight(text)
    highlighted.rstrip()
    return Content.from_rich_text(highlighted)


class DiffTable(Static):
    """Field | change | current | mapped, one row per mapped field; long values wrap."""

    table: Table | None = None

    def show(self, plan: Plan) -> None:
        table = Table(expand=True, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        width = max((len(d.field) for d in plan.diff), default=5)
        table.add_column("field", width=min(width, 24), style="bold", overflow="fold")
        table.add_column("change", width=9, no_wrap=True)
        table.add_column("Klaviyo now", ratio=1, overflow="fold")
        table.add_column("will send", ratio=1, overflow="fold")
        # What changes first: at 80x24 the first screen shows it, unchanged rows below.
        for diff in sorted(plan.diff, key=lambda d: CHANGE_ORDER[d.change]):
            table.add_row(*diff_row(diff))
        self.table = table
        self.update(table)


COLUMNS = ("field", "change", "current", "mapped")
CHANGE_ORDER = {Change.CHANGED: 0, Change.ADDED: 1, Change.KEPT: 2, Change.UNCHANGED: 3}


def diff_row(diff: FieldDiff) -> tuple[Text, Text, Text, Text]:
    """One diff table row: field, the kind of change, current and mapped."""
    style = RICH_CHANGE_STYLE[diff.change]
    return (Text(diff.field), Text(diff.change.value, style=style), Text(cell(diff.current)),
            Text(cell(diff.mapped), style=style))


class ConsentPanel(Static):
    """The guard verdict, then the consent and list operations; held ones in red."""

    def show(self, plan: Plan) -> None:
        parts: list[str | tuple[str, str]] = []
        lines = guard_lines(plan)
        held = [line for line in lines if line.held]
        if held:
            parts.append(("Needs your confirmation before a push (the push dialog asks):\n",
                          "bold $error"))
            parts += [(f"⚠ {line.text}\n", "bold $error") for line in held]
        for line in lines:
            if not line.held:
                parts.append((f"✓ {line.text} (applied without asking)\n", "$success"))
        # Without a Guard on the plan its held lines are the risky changes themselves.
        shown = plan.consent if has_guard(plan) else [c for c in plan.consent if not c.risky]
        if shown or plan.lists:
            parts.append(("Operations:\n", "bold") if lines else "")
        for change in shown:
            style = "$error" if change.risky else ("$text-muted" if pending_since(change)
                                                   else "")
            parts.append((f"• {consent_words(change)}\n", style))
        for item in plan.lists:
            parts.append(f"• {list_words(item)}\n")
        if not parts:
            parts.append(("No consent or list changes.", "$text-muted"))
        self.update(Content.assemble(*parts).rstrip())


class NotesPanel(Static):
    """Warnings in yellow and blocking errors in red, each said once on screen."""

    def show(self, plan: Plan) -> None:
        shown = {*stale_link_notes(plan), plan.reason}
        parts: list[tuple[str, str]] = []
        parts += [(f"✖ {error}\n", "bold $error") for error in plan.errors
                  if not plan.blocked and error not in plan.reason]
        parts += [(f"! {warning}\n", "$warning") for warning in plan.warnings
                  if warning not in shown]
        self.display = bool(parts)
        self.update(Content.assemble(*parts).rstrip())


# Two documents side by side (the preview and the history screen); stacked on narrow screens.
SIDES_CSS = """
    #sides, .sides { height: auto; }
    .side {
        width: 1fr;
        height: auto;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        padding: 0 1;
    }
    Screen.-narrow #sides, Screen.-narrow .sides { layout: vertical; }
    Screen.-narrow .side { width: 100%; }
"""


class PreviewPane(VerticalScroll):
    """Everything a push would do, laid out as design §10 describes."""

    # Parsed when the pane mounts after the first frame, not at start-up with console.tcss;
    # unscoped so the rules read exactly as they did there.
    SCOPED_CSS = False
    DEFAULT_CSS = SIDES_CSS + """
    PreviewPane { padding: 0 1; width: 100%; }  /* not 1fr: the field's margin would narrow it */

    RouteBanner {
        padding: 0 1;
        border-left: outer $primary;
        background: $primary 10%;
    }
    RouteBanner.-create { border-left: outer $success; background: $success 12%; }
    RouteBanner.-update { border-left: outer $primary; background: $primary 12%; }
    RouteBanner.-link { border-left: outer $accent; background: $accent 12%; }
    RouteBanner.-blocked { border-left: outer $error; background: $error 15%; }

    #diff {
        height: auto;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        padding: 0 1;
    }
    #consent, #notes {
        height: auto;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        padding: 0 1;
    }
    #notes { border: round $warning 60%; }
    """

    plan: Plan | None = None

    def __init__(self, plan: Plan | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.first_plan = plan  # shown once the pane's widgets are mounted
        self.drawn = False

    def compose(self) -> ComposeResult:
        # The order an operator reads in: route and verdict, what changes, consent, notes;
        # the full documents last, so at 80x24 the first screen holds the decision.
        yield RouteBanner(id="route")
        yield DiffTable(id="diff")
        yield ConsentPanel(id="consent")
        yield NotesPanel(id="notes")
        with Horizontal(id="sides"):
            yield JsonView(id="payload", classes="side")
            yield JsonView(id="current", classes="side")

    def on_mount(self) -> None:
        self.query_one("#payload").border_title = "Mapped payload (will be sent)"
        self.query_one("#current").border_title = "Current Klaviyo profile"
        self.query_one("#diff").border_title = "Field diff"
        self.query_one("#consent").border_title = "Consent and lists"
        self.query_one("#notes").border_title = "Warnings and errors"
        self.drawn = True
        if self.first_plan is not None:
            self.show(self.first_plan)

    def show(self, plan: Plan) -> None:
        """Draw the plan (whether the pane is displayed is the screen's call)."""
        self.plan = plan
        if not self.drawn:  # its widgets are not mounted yet: on_mount draws it
            self.first_plan = plan
            return
        self.query_one(RouteBanner).show(plan)
        notes = self.query_one(NotesPanel)
        notes.show(plan)
        # A blocked plan sends nothing: no payload, diff or consent to show beside its reason.
        for part in ("#sides", "#diff", "#consent"):
            self.query_one(part).display = not plan.blocked
        if plan.blocked:
            return
        self.query_one("#payload", JsonView).show(plan.payload)
        self.query_one("#current", JsonView).show(plan.current)
        table = self.query_one(DiffTable)
        table.show(plan)
        table.display = bool(plan.diff)
        self.query_one(ConsentPanel).show(plan)
