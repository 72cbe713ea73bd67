"""`klaviyo-console undo [HISTORY_ID ... | --since TIME [--trigger T]] [--yes] [--json]`:
preview the reverse of pushes, and with --yes run it."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from console.cli.base import FAILED, OK, UsageError

if TYPE_CHECKING:
    from rich.console import RenderableType

    from core.engine import Engine
    from core.engine.undo import UndoResult

TRIGGERS = ("manual", "batch", "bulk", "retry", "listen", "undo")


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """The `undo` subcommand's arguments."""
    p = sub.add_parser("undo", parents=[common],
                       help="reverse pushes' field changes (previewed unless --yes)")
    p.add_argument("history_ids", nargs="*", metavar="HISTORY_ID")
    p.add_argument("--since", type=_iso_time, metavar="TIME",
                   help="every push at or after TIME (ISO 8601, e.g. 2026-12-06T22:00)")
    p.add_argument("--trigger", choices=TRIGGERS, help="with --since: only pushes of this trigger")
    p.add_argument("--yes", action="store_true", help="run the undo (without it: preview only)")
    p.add_argument("--reverse-consent", action="store_true",
                   help="also reverse the pushes' consent operations, under the consent guard")
    p.add_argument("--json", action="store_true")


def _iso_time(text: str) -> str:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 time, got {text!r}") from None
    # History stamps are UTC ISO text, so the bound is too: then text order is time order.
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat(timespec="seconds")


def check_args(ns: argparse.Namespace) -> None:
    """Ids or --since, not both; --trigger only with --since."""
    if ns.history_ids and ns.since:
        raise UsageError("give history ids or --since, not both")
    if not ns.history_ids and not ns.since:
        raise UsageError("give history ids or --since TIME")
    if ns.trigger and not ns.since:
        raise UsageError("--trigger goes with --since")


async def run(ns: argparse.Namespace, engine: Engine) -> int:
    """Preview (or with --yes run) the undo; exit 1 when one failed or the guard held it."""
    from console.cli.common import out, print_json, say
    from core.engine.undo import UnknownHistoryId

    check_args(ns)
    try:
        results = await engine.undo(ns.history_ids, since=ns.since, trigger=ns.trigger,
                                    apply=ns.yes, confirmed=ns.yes,
                                    reverse_consent=ns.reverse_consent)
    except UnknownHistoryId as exc:
        say(str(exc))
        return FAILED
    if ns.json:
        print_json({"applied": ns.yes, "undos": [r.to_json() for r in results]})
    else:
        out().print(undo_view(results, applied=ns.yes))
    if not results:
        say("no pushes to undo")
    return FAILED if any(_bad(r) for r in results) else OK


def _bad(result: UndoResult) -> bool:
    return result.outcome in ("failed", "held")


def undo_view(results: Sequence[UndoResult], *, applied: bool) -> RenderableType:
    """Each undo: the push it reverses, the fields it puts back, conflicts, lists, consent."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[RenderableType] = []
    for result in results:
        undo = result.undo
        plan = undo.plan
        style = {"done": "green", "failed": "red", "held": "yellow"}.get(result.outcome, "")
        parts.append(Text.assemble(
            (f"{undo.history_id}", "bold"), f"  customer {plan.customer_id}  profile "
            f"{plan.profile_id or '—'}  ", (result.outcome, style)))
        parts.append(Text(plan.reason, style="dim"))
        if plan.diff or undo.unset_properties:
            table = Table(expand=False, box=None, padding=(0, 2, 0, 0))
            for column in ("field", "now", "puts back"):
                table.add_column(column)
            for item in plan.diff:
                back = "(cleared)" if item.mapped is None else repr(item.mapped)
                if item.field.startswith("properties.") and item.mapped is None:
                    back = "(property removed)"
                table.add_row(item.field, repr(item.current), back)
            parts.append(table)
        for change in plan.lists:
            parts.append(Text(f"remove from list {change.list_name}"))
        for consent in plan.consent:
            parts.append(Text(f"guarded: {consent.note}", style="yellow"))
        for conflict in undo.conflicts:
            parts.append(Text(f"conflict: {conflict.text()}", style="yellow"))
        for done in undo.consent_done:
            where = f" on list {done.list_name}" if done.list_name else ""
            parts.append(Text(f"the push did {done.action} {done.channel}{where}; to reverse: "
                              f"{done.reverse}", style="dim"))
        for text in (*undo.notes, *plan.errors):
            parts.append(Text(text, style="dim"))
        if result.result is not None and result.result.error is not None:
            error = result.result.error
            parts.append(Text(f"failed ({error.id}): {error.message}", style="red"))
        parts.append(Text(""))
    if results and not applied:
        parts.append(Text("preview only: nothing was written; rerun with --yes to undo",
                          style="bold"))
    return Group(*parts)
