"""Rich renderings of plans, push results, error records and history for the command line.

Every value that comes from a customer, a profile, a template or a store is handed to Rich as a
`Text`, never as a string Rich would parse: data is never markup (issue 17 item 3).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from console.widgets.words import cell, short_time
from core.model import (
    Change,
    ConsentChange,
    ErrorRecord,
    ErrorStatus,
    FieldDiff,
    HistoryEntry,
    Plan,
    Route,
)

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
# A free-text column (a message, a value) is given at least this many cells before a table
# gives way to one block per record.
WRAP_MIN = 16
# A single word longer than this (a JSON blob, a very long address) may fold in a table;
# ids and most emails are shorter.
WORD_MAX = 24


def plain(value: object, style: str = "") -> Text:
    """A value shown literally, whatever brackets, colons or backslashes it holds."""
    return Text(value if isinstance(value, str) else str(value), style=style)


# ---- listings: a table when it fits, one block per record when it does not ---------------------


@dataclass(frozen=True, slots=True)
class Column:
    """A listing column; `wrap` marks free text that may wrap (the rest is shown whole).

    A wrapping column with `whole_words` is kept wide enough for its longest word (up to
    WORD_MAX), so the emails and ids inside it never break across lines.
    """

    header: str
    wrap: bool = False
    justify: str = "left"
    whole_words: bool = True


def _longest_line(text: Text) -> int:
    return max((cell_len(line) for line in text.plain.split("\n")), default=0)


def _longest_word(text: Text) -> int:
    return min(WORD_MAX, max((cell_len(word) for word in text.plain.split()), default=0))


class Listing:
    """Records as a table with every header and every acted-on value whole, at any width.

    Columns that are not `wrap` never wrap or shorten; free-text columns wrap at spaces. When the
    width cannot hold that, the `narrow` listing (fewer columns) is tried, and failing that each
    record becomes a block of `header  value` lines.
    """

    def __init__(self, columns: Sequence[Column], rows: Iterable[Sequence[Text]],
                 *, title: str | None = None, narrow: Listing | None = None) -> None:
        self.columns = list(columns)
        self.rows = [list(row) for row in rows]
        self.title = title
        self.narrow = narrow

    def _widths(self, width: int) -> list[int] | None:
        """Content widths that fit `width`, or None when the table cannot fit."""
        natural = [max([cell_len(c.header)] + [_longest_line(row[i]) for row in self.rows])
                   for i, c in enumerate(self.columns)]
        minimum = [
            max(cell_len(c.header), min(WRAP_MIN, natural[i]),
                *(_longest_word(row[i]) for row in self.rows if c.whole_words))
            if c.wrap else natural[i]
            for i, c in enumerate(self.columns)
        ]
        # Two spaces between cells (padding and a blank rule), none at the edges.
        chrome = 2 * (len(self.columns) - 1)
        spare = width - chrome - sum(minimum)
        if spare < 0:
            return None
        widths = list(minimum)
        growing = [i for i, c in enumerate(self.columns) if c.wrap]
        while spare > 0 and growing:
            # One cell at a time to each free-text column still short of its natural width.
            growing = [i for i in growing if widths[i] < natural[i]]
            for i in growing[:spare]:
                widths[i] += 1
                spare -= 1
        return widths

    def fits(self, width: int) -> bool:
        """Whether the table form fits this width."""
        return self._widths(width) is not None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.title:
            yield Text(self.title, style="bold")
        widths = self._widths(options.max_width)
        if widths is None and self.narrow is not None and self.narrow.fits(options.max_width):
            yield from self.narrow.__rich_console__(console, options)
            return
        if widths is None:
            yield from self._blocks()
            return
        table = Table(expand=False, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                      collapse_padding=True)
        for column, width in zip(self.columns, widths, strict=True):
            table.add_column(column.header, width=width, no_wrap=not column.wrap,
                             overflow="fold", justify=column.justify)  # type: ignore[arg-type]
        for row in self.rows:
            table.add_row(*row)
        yield table

    def _blocks(self) -> RenderResult:
        for index, row in enumerate(self.rows):
            block = Table.grid(padding=(0, 1))
            block.add_column(style="dim", no_wrap=True)
            block.add_column(overflow="fold")
            for column, value in zip(self.columns, row, strict=True):
                block.add_row(column.header, value)
            if index:
                yield Text("")
            yield block


# ---- one plan ------------------------------------------------------------------------------


def plan_view(plan: Plan, *, confirmed: bool = False) -> RenderableType:
    """Route banner with its reason, the guard verdict, the field diff, consent and list
    changes, facts not known, warnings and errors."""
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
    parts.append(guard_view(plan, confirmed=confirmed))

    if plan.diff:
        parts.append(diff_view(plan))

    if plan.consent:
        rows = []
        for change in plan.consent:
            style = "bold red" if change.risky else ""
            rows.append([plain(change.channel.value, style), plain(change.action.value, style),
                         plain(change.list_name or "—", style),
                         plain(consent_note(change), style)])
        parts.append(Listing([Column("channel"), Column("action"), Column("list"),
                              Column("note", wrap=True)], rows, title="consent"))

    if plan.lists:
        parts.append(Listing([Column("list"), Column("action")],
                             ([plain(item.list_name), plain(item.action.value)]
                              for item in plan.lists), title="lists"))

    if plan.unknown:
        parts.append(plain("not known in this mode (treated as the preview would): "
                           + ", ".join(plan.unknown), "yellow"))
    for warning in plan.warnings:
        parts.append(plain(f"warning: {warning}", "yellow"))
    for error in plan.errors:
        parts.append(plain(f"error: {error}", "bold red"))
    return Group(*parts)


def diff_view(plan: Plan) -> Listing:
    """The field diff: now and sent side by side, or `now → sent` in one column when narrow."""
    wide = ([plain(item.field), plain(cell(item.current, "—")), plain(cell(item.mapped, "—")),
             plain(item.change.value, CHANGE_STYLE[item.change])] for item in plan.diff)
    narrow = ([plain(item.field), plain(item.change.value, CHANGE_STYLE[item.change]),
               plain(_now_to_sent(item))] for item in plan.diff)
    return Listing(
        [Column("field"), Column("Klaviyo now", wrap=True), Column("will send", wrap=True),
         Column("change")], wide, title="fields",
        narrow=Listing([Column("field"), Column("change"),
                        Column("Klaviyo now → will send", wrap=True)], narrow))


def _now_to_sent(item: FieldDiff) -> str:
    if item.change in (Change.UNCHANGED, Change.KEPT):
        return cell(item.current, "—")
    return f"{cell(item.current, '—')} → {cell(item.mapped, '—')}"


def consent_note(change: ConsentChange) -> str:
    """What one consent change does, in words, pending consent emails included."""
    note = change.note
    if change.pending_since:
        return (f"consent email sent {short_time(change.pending_since)}, awaiting "
                "confirmation; sends nothing")
    if change.double_opt_in and "consent email" not in note and "double opt-in" not in note:
        note = (note + "; " if note else "") + "sends a double opt-in consent email"
    return note


def guard_view(plan: Plan, *, confirmed: bool = False) -> RenderableType:
    """The consent guard's verdict on the plan and every guarded change with its kind."""
    guard = plan.guard
    if not guard.reasons:
        return plain("consent guard: nothing to confirm", "dim")
    if guard.confirm_needed and confirmed:
        verdict = plain("consent guard: confirmed (--yes)", "bold yellow")
    elif guard.confirm_needed:
        verdict = plain("consent guard: pushing this plan needs confirmation (--yes)", "bold red")
    else:
        verdict = plain("consent guard: nothing held; these are sent without asking", "yellow")
    # A grid, so a long reason wraps under its own text rather than under its kind.
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for reason in guard.reasons:
        held = reason.kind in guard.held
        kind = plain(f"  {reason.kind.value}:", "bold red" if held else "yellow")
        text = plain(reason.text)
        if not held:
            text.append(" (not held)", style="dim")
        table.add_row(kind, text)
    return Group(verdict, table)


def held_reasons(plan: Plan) -> list[str]:
    """One line per change the guard holds: `kind: words`."""
    return [f"{r.kind.value}: {r.text}" for r in plan.guard.reasons if r.kind in plan.guard.held]


def push_view(result: PushResult, *, confirmed: bool = False) -> RenderableType:
    """The plan that was pushed and how it ended."""
    outcome = getattr(result, "outcome", None)
    partial = tuple(getattr(result, "partial", ()) or ())
    if result.ok or outcome == "done":
        line = plain(f"pushed: profile {result.profile_id}", "bold green")
        if partial:
            line.append(f"\nsaved without {', '.join(partial)}", style="yellow")
            if result.error is not None:
                line.append(f" (logged as {result.error.id}: {result.error.message})",
                            style="yellow")
    elif result.held:
        line = plain("held by the consent guard: rerun with --yes to confirm", "bold red")
        guard = result.plan.guard
        kinds = list(dict.fromkeys(r.kind.value for r in guard.reasons if r.kind in guard.held))
        if kinds:
            line.append(f"\nheld: {', '.join(kinds)} (the reasons are listed above)", style="red")
        if result.error is not None:
            line.append(f"\nlogged as {result.error.id}", style="red")
    else:
        error = result.error
        line = plain(f"failed: {error.message}" if error else "failed", "bold red")
        if error:
            line.append(f"\nlogged as {error.id} ({error.kind.value}, at {error.stage.value}); "
                        f"{error.retry_action}", style="red")
    return Group(plan_view(result.plan, confirmed=confirmed), line)


# ---- the error log and the history -----------------------------------------------------------


def errors_view(records: Sequence[ErrorRecord]) -> RenderableType:
    """The error log, one record per row or block (`errors --json` has every field)."""
    if not records:
        return plain("no error records", "dim")
    columns = [Column("id"), Column("customer"), Column("kind"), Column("stage"),
               Column("time"), Column("status"), Column("tries", justify="right"),
               Column("message", wrap=True)]
    rows = []
    for record in records:
        style = "dim" if record.status is ErrorStatus.RESOLVED else ""
        tries = record.attempts if isinstance(record.attempts, int) else len(record.attempts)
        rows.append([plain(record.id, style), plain(record.customer_id, style),
                     plain(record.kind.value, style), plain(record.stage.value, style),
                     plain(short_time(record.updated_at), style),
                     plain(record.status.value, style), plain(tries, style),
                     plain(record.message, style)])
    return Listing(columns, rows)


def history_outcome(entry: HistoryEntry) -> Text:
    """done, held or failed, told apart, with the error record's id when there is one."""
    outcome = getattr(entry, "outcome", None) or ("done" if entry.ok else "failed")
    style = {"done": "green", "held": "yellow"}.get(outcome, "red")
    # A done push may still carry an error record: saved without its phone (a partial).
    label = f"{outcome}\n{entry.error_id}" if entry.error_id else outcome
    return plain(label, style)


def history_operations(entry: HistoryEntry) -> str:
    """The consent and list operations of one entry, one per line."""
    consent = [
        f"{c.get('action')} {c.get('channel')}"
        + (f" ({c.get('list')})" if c.get("list") else "")
        for c in entry.consent
    ]
    lists = [f"{item.get('action')} {item.get('list')}" for item in entry.lists]
    return "\n".join(consent + lists) or "—"


def history_view(entries: Sequence[HistoryEntry]) -> RenderableType:
    """Pushes newest first: when, who, route, outcome, and the consent and list operations."""
    if not entries:
        return plain("no pushes recorded", "dim")
    columns = [Column("time"), Column("id"), Column("customer"), Column("route"),
               Column("outcome"), Column("profile"), Column("trigger"),
               Column("consent / lists", wrap=True)]
    rows = [[plain(short_time(entry.at)[:16]), plain(entry.id), plain(entry.customer_id),
             plain(entry.route.value), history_outcome(entry), plain(entry.profile_id or "—"),
             plain(entry.trigger), plain(history_operations(entry))] for entry in entries]
    return Listing(columns, rows)


def history_detail(entry: HistoryEntry) -> RenderableType:
    """One push in full: its header, then the profile before, what was sent and after."""
    head = Text()
    head.append(f"{short_time(entry.at)}  {entry.id}  customer {entry.customer_id}  ",
                style="bold")
    head.append(f"{entry.route.value}  ")
    head.append_text(history_outcome(entry).split("\n")[0])
    if entry.error_id:
        head.append(f" ({entry.error_id})")
    head.append(f"  {entry.trigger}  profile {entry.profile_id or '—'}")
    parts: list[RenderableType] = [head]
    operations = history_operations(entry)
    if operations != "—":
        parts.append(plain("consent / lists: " + operations.replace("\n", ", ")))
    fields = sorted(set(_attributes(entry.before)) | set(_attributes(entry.sent))
                    | set(_attributes(entry.after)))
    if not fields:
        parts.append(plain("before, sent and after: nothing recorded", "dim"))
        return Group(*parts)
    before, sent, after = (_attributes(entry.before), _attributes(entry.sent),
                           _attributes(entry.after))
    nothing_sent = "nothing sent" if entry.sent is None else "—"
    parts.append(Listing(
        [Column("field"), Column("before", wrap=True), Column("sent", wrap=True),
         Column("after", wrap=True)],
        ([plain(name), plain(cell(before.get(name), "—")),
          plain(cell(sent.get(name), nothing_sent)), plain(cell(after.get(name), "—"))]
         for name in fields)))
    return Group(*parts)


def _attributes(document: Any) -> dict[str, Any]:
    """The attributes of a profile document or JSON:API body, or of a plain attribute map."""
    if not isinstance(document, dict):
        return {}
    data = document.get("data", document)
    if isinstance(data, dict) and isinstance(data.get("attributes"), dict):
        data = data["attributes"]
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if k not in ("id", "type", "relationships")}


# ---- batches -------------------------------------------------------------------------------


def batch_summary(progress: BatchProgress, verb: str = "synced") -> Text:
    """How many were done, failed and held, how fast, and whether it was stopped."""
    text = Text()
    text.append(f"{verb} {progress.done}", style="green")
    text.append(f", failed {progress.failed}", style="red" if progress.failed else "")
    text.append(f", held {progress.held}", style="yellow" if progress.held else "")
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
    """A console that honours NO_COLOR, writes plain text when not on a terminal, and never
    reads a string it prints as markup or emoji codes."""
    # Messages on stderr stay one line each, whatever the terminal width, for scripts to grep.
    return Console(stderr=stderr, highlight=False, soft_wrap=stderr, markup=False, emoji=False)
