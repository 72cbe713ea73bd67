"""Rich renderings of plans, push results, error records and history for the command line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from console.widgets.words import cell
from core.model import Change, ErrorRecord, ErrorStatus, HistoryEntry, Plan, Route

if TYPE_CHECKING:
    from core.engine import BatchProgress, PushResult

CHANGE_STYLE = {
    Change.ADDED: "green",
    Change.CHANGED: "yellow",
    Change.UNCHANGED: "",
    Change.KEPT: "dim",
}
ROUTE_STYLE = {
    Route.CREATE: "bold green",
    Route.UPDATE: "bold cyan",
    Route.LINK: "bold blue",
    Route.BLOCKED: "bold red",
}


def plan_view(plan: Plan) -> RenderableType:
    """Route banner with its reason, the field diff, consent and list changes, warnings, errors."""
    parts: list[RenderableType] = []
    banner = Text()
    banner.append(f"{plan.route.value.upper()}", style=ROUTE_STYLE[plan.route])
    banner.append(f"  customer {plan.customer_id}")
    if plan.profile_id:
        banner.append(f" → profile {plan.profile_id}")
    if plan.matched_by:
        banner.append(f" (matched by {plan.matched_by.value})", style="dim")
    banner.append("\n")
    banner.append(plan.reason, style="italic")
    parts.append(Panel(banner, title="route", title_align="left", expand=True))

    if plan.diff:
        table = Table(title="fields", title_justify="left", expand=True)
        table.add_column("field")
        table.add_column("Klaviyo now")
        table.add_column("will send")
        table.add_column("change")
        for item in plan.diff:
            style = CHANGE_STYLE[item.change]
            table.add_row(item.field, cell(item.current, "—"), cell(item.mapped, "—"),
                          item.change.value, style=style or None)
        parts.append(table)

    if plan.consent:
        table = Table(title="consent", title_justify="left", expand=True)
        table.add_column("channel")
        table.add_column("action")
        table.add_column("list")
        table.add_column("note")
        for change in plan.consent:
            style = "bold red" if change.risky else None
            note = change.note
            if change.double_opt_in and "consent email" not in note:
                note = (note + "; " if note else "") + "sends a double opt-in consent email"
            table.add_row(change.channel.value, change.action.value, change.list_name or "—",
                          note, style=style)
        parts.append(table)

    if plan.lists:
        table = Table(title="lists", title_justify="left", expand=True)
        table.add_column("list")
        table.add_column("action")
        for item in plan.lists:
            table.add_row(item.list_name, item.action.value)
        parts.append(table)

    for warning in plan.warnings:
        parts.append(Text(f"warning: {warning}", style="yellow"))
    for error in plan.errors:
        parts.append(Text(f"error: {error}", style="bold red"))
    if plan.guarded_consent:
        parts.append(Text(
            "consent guard: pushing this plan needs confirmation (--yes)", style="bold red"))
    return Group(*parts)


def push_view(result: PushResult) -> RenderableType:
    """The plan that was pushed and one line saying how it ended."""
    if result.ok:
        line = Text(f"pushed: profile {result.profile_id}", style="bold green")
    elif result.held and result.error is None:
        line = Text("held by the consent guard: rerun with --yes to confirm", style="bold red")
    elif result.held:
        line = Text(f"held by the consent guard, logged as {result.error.id}" if result.error
                    else "held by the consent guard", style="bold red")
    else:
        error = result.error
        line = Text(f"failed: {error.message}" if error else "failed", style="bold red")
        if error:
            line.append(f"\nlogged as {error.id} ({error.kind.value}, at {error.stage.value}); "
                        f"{error.retry_action}", style="red")
    return Group(plan_view(result.plan), line)


def errors_view(records: Sequence[ErrorRecord]) -> RenderableType:
    """The error log as a table, one failure per line (`errors --json` has every field)."""
    if not records:
        return Text("no error records", style="dim")
    table = Table(expand=True)
    table.add_column("id", no_wrap=True)
    table.add_column("customer", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("at", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("tries", no_wrap=True, justify="right")
    table.add_column("message", no_wrap=True, overflow="ellipsis", ratio=1, min_width=20)
    for record in records:
        style = "dim" if record.status is ErrorStatus.RESOLVED else None
        table.add_row(record.id, record.customer_id, record.kind.value, record.stage.value,
                      record.status.value, str(record.attempts), record.message, style=style)
    return table


def error_detail(record: ErrorRecord) -> RenderableType:
    """One error record in full: message, service code and detail, and what a retry does."""
    text = Text()
    text.append(f"{record.id}  customer {record.customer_id}  ", style="bold")
    text.append(f"{record.kind.value} at {record.stage.value}, {record.status.value}, "
                f"{record.attempts} attempt(s)\n")
    text.append(record.message + "\n")
    if record.code or record.http_status:
        text.append(f"service said: {record.http_status or ''} {record.code or ''} "
                    f"{record.detail or ''}".strip() + "\n", style="dim")
    text.append(f"retry: {record.retry_action}", style="italic")
    return text


def history_view(entries: Sequence[HistoryEntry]) -> RenderableType:
    """Pushes newest first: when, who, route, outcome, and the consent and list operations."""
    if not entries:
        return Text("no pushes recorded", style="dim")
    table = Table(expand=True)
    for column in ("at", "customer", "route", "outcome", "profile", "trigger"):
        table.add_column(column, no_wrap=True)
    table.add_column("consent / lists", no_wrap=True, overflow="ellipsis", ratio=1,
                     min_width=12)
    for entry in entries:
        outcome = Text("ok", style="green") if entry.ok else Text(
            f"failed {entry.error_id or ''}".strip(), style="red")
        consent = [
            f"{c.get('action')} {c.get('channel')}"
            + (f" ({c.get('list')})" if c.get("list") else "")
            for c in entry.consent
        ]
        lists = [f"{item.get('action')} {item.get('list')}" for item in entry.lists]
        table.add_row(entry.at[:16].replace("T", " "), entry.customer_id, entry.route.value,
                      outcome, entry.profile_id or "—", entry.trigger,
                      ", ".join(consent + lists) or "—")
    return table


def batch_summary(progress: BatchProgress, verb: str = "synced") -> Text:
    """One line: how many were done, failed and held, how fast, and whether it was stopped."""
    text = Text()
    text.append(f"{verb} {progress.done}", style="green")
    text.append(f", failed {progress.failed}", style="red" if progress.failed else "")
    text.append(f", held {progress.held}", style="red" if progress.held else "")
    if progress.total is not None:
        text.append(f" of {progress.total}")
    text.append(f" in {progress.elapsed:.1f}s ({progress.rate:.1f}/s)", style="dim")
    if progress.cancelled:
        text.append("; stopped early: customers not started were left for the next run",
                    style="yellow")
    if progress.failed or progress.held:
        text.append("\nsee `klaviyo-console errors`", style="dim")
    return text


def make_console(*, stderr: bool = False) -> Console:
    """A console that honours NO_COLOR and writes plain text when not on a terminal."""
    # Messages on stderr stay one line each, whatever the terminal width, for scripts to grep.
    return Console(stderr=stderr, highlight=False, soft_wrap=stderr)
