"""The preview of one plan: routing banner, payload beside profile, diff, consent, notes."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import DataTable, Static

from core.model import Plan, Route

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
        self.text = pretty_json(value)
        if value is None:
            self.update(Content.styled(pretty_json(value), "italic $text-muted"))
            return
        from rich.syntax import Syntax  # pygments loads on the first preview, not at start-up

        self.update(Syntax(pretty_json(value), "json", theme="ansi_dark",
                           background_color="default", word_wrap=True))


class DiffTable(DataTable[Text]):
    """Field | current | mapped | change, one row per mapped field."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for label in ("field", "current", "mapped", "change"):
            self.add_column(label, key=label)

    def show(self, plan: Plan) -> None:
        self.clear()
        for diff in plan.diff:
            style = RICH_CHANGE_STYLE[diff.change]
            self.add_row(
                Text(diff.field, style="bold"),
                Text(cell(diff.current)),
                Text(cell(diff.mapped), style=style),
                Text(diff.change.value, style=style),
                key=diff.field,
            )


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


class PreviewPane(VerticalScroll):
    """Everything a push would do, laid out as design §10 describes."""

    plan: Plan | None = None

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
        self.display = False

    def show(self, plan: Plan) -> None:
        self.plan = plan
        self.display = True
        self.query_one(RouteBanner).show(plan)
        self.query_one("#payload", JsonView).show(plan.payload)
        self.query_one("#current", JsonView).show(plan.current)
        table = self.query_one(DiffTable)
        table.show(plan)
        table.display = bool(plan.diff)
        self.query_one(ConsentPanel).show(plan)
        self.query_one(NotesPanel).show(plan)
