"""The preview of one plan: routing banner, payload beside profile, diff, consent, notes."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import DataTable, Static

from core.model import FieldDiff, Plan, Route

from .words import (
    RICH_CHANGE_STYLE,
    cell,
    consent_is_risky,
    consent_words,
    list_words,
    pretty_json,
    route_title,
)


class RouteBanner(Static):
    """CREATE / UPDATE / LINK / BLOCKED with the reason, coloured by route."""

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
        risky = [c for c in plan.consent if consent_is_risky(c)]
        if risky:
            noun = "change needs" if len(risky) == 1 else "changes need"
            parts.append((f"\n⚠ {len(risky)} consent {noun} confirmation (see below)",
                          "bold $error"))
        if plan.errors:
            parts.append((f"\n✖ {plan.errors[0]}", "bold $error"))
        self.update(Content.assemble(*parts))


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


class DiffTable(DataTable[Text]):
    """Field | current | mapped | change, one row per mapped field."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for label in COLUMNS:
            self.add_column(label, key=label)

    def show(self, plan: Plan) -> None:
        rows = [diff_row(diff) for diff in plan.diff]
        if [key.value for key in self.rows] == [diff.field for diff in plan.diff]:
            # Same fields as shown: change only the cells that differ, since clearing and
            # refilling the table re-measures every row (a switch between customers).
            for diff, row in zip(plan.diff, rows, strict=True):
                for label, value in zip(COLUMNS, row, strict=True):
                    if self.get_cell(diff.field, label) != value:
                        self.update_cell(diff.field, label, value, update_width=True)
            return
        self.clear()
        for diff, row in zip(plan.diff, rows, strict=True):
            self.add_row(*row, key=diff.field)


COLUMNS = ("field", "current", "mapped", "change")


def diff_row(diff: FieldDiff) -> tuple[Text, Text, Text, Text]:
    """One diff table row: field, current, mapped and the kind of change."""
    style = RICH_CHANGE_STYLE[diff.change]
    return (Text(diff.field, style="bold"), Text(cell(diff.current)),
            Text(cell(diff.mapped), style=style), Text(diff.change.value, style=style))


class ConsentPanel(Static):
    """Consent and list changes set apart; risky ones in red."""

    def show(self, plan: Plan) -> None:
        parts: list[str | tuple[str, str]] = []
        if not plan.consent and not plan.lists:
            parts.append(("No consent or list changes.", "$text-muted"))
        for change in plan.consent:
            if consent_is_risky(change):
                parts.append((f"⚠ {consent_words(change)}\n", "bold $error"))
            else:
                parts.append((f"• {consent_words(change)}\n", "$success"))
        for item in plan.lists:
            parts.append(f"• {list_words(item)}\n")
        self.update(Content.assemble(*parts).rstrip())


class NotesPanel(Static):
    """Warnings in yellow, blocking errors in red."""

    def show(self, plan: Plan) -> None:
        parts: list[tuple[str, str]] = []
        parts += [(f"✖ {error}\n", "bold $error") for error in plan.errors]
        parts += [(f"! {warning}\n", "$warning") for warning in plan.warnings]
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
        margin-bottom: 1;
        border-left: outer $primary;
        background: $primary 10%;
    }
    RouteBanner.-create { border-left: outer $success; background: $success 12%; }
    RouteBanner.-update { border-left: outer $primary; background: $primary 12%; }
    RouteBanner.-link { border-left: outer $accent; background: $accent 12%; }
    RouteBanner.-blocked { border-left: outer $error; background: $error 15%; }

    #diff {
        height: auto;
        max-height: 24;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
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
        yield RouteBanner(id="route")
        with Horizontal(id="sides"):
            yield JsonView(id="payload", classes="side")
            yield JsonView(id="current", classes="side")
        yield DiffTable(id="diff")
        yield ConsentPanel(id="consent")
        yield NotesPanel(id="notes")

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
        self.query_one("#payload", JsonView).show(plan.payload)
        self.query_one("#current", JsonView).show(plan.current)
        table = self.query_one(DiffTable)
        table.show(plan)
        table.display = bool(plan.diff)
        self.query_one(ConsentPanel).show(plan)
        self.query_one(NotesPanel).show(plan)
