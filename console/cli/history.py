"""`klaviyo-console history [ID] [--limit N] [--prune --older-than DAYS]`: pushes, newest first."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from console import render
from console.cli.base import FAILED, OK, PROG, UsageError
from console.cli.common import out, print_json, say
from core.engine import Engine
from core.model import HistoryEntry


async def run(ns: argparse.Namespace, engine: Engine) -> int:
    """List one customer's pushes in full (before, sent, after), or everyone's as a table."""
    if ns.prune:
        return prune(ns, engine)
    total: int
    entries: list[HistoryEntry]
    if ns.customer_id:
        every = engine.history.for_customer(ns.customer_id.strip())
        entries, total = every[:ns.limit], len(every)
    else:
        entries, total = engine.history.recent(ns.limit), engine.history.count()
    if ns.json:
        print_json([e.to_json() for e in entries])
    elif ns.customer_id and entries:
        console = out()
        for index, entry in enumerate(entries):
            if index:
                console.print()
            console.print(render.history_detail(entry))
    else:
        out().print(render.history_view(entries))
    if total > len(entries):
        say(f"showing {len(entries)} of {total} (use --limit N for more)", style="dim")
    return OK


def prune(ns: argparse.Namespace, engine: Engine) -> int:
    """Delete history entries, and resolved error records, older than --older-than days
    through the stores; open error records always stay."""
    days = ns.older_than or engine.config.history_retention_days
    if days is None:
        raise UsageError("--prune needs --older-than DAYS, or [history] retention_days in the "
                         "config file")
    cutoff = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    prune_history = getattr(engine.history, "prune", None)
    if prune_history is None:
        say(f"{PROG}: this build's history store cannot prune yet; nothing was deleted")
        return FAILED
    removed = int(prune_history(cutoff))
    # The error log's own prune keeps every open record, whatever its age.
    prune_errors = getattr(engine.errors, "prune", None)
    resolved = int(prune_errors(cutoff)) if prune_errors is not None else 0
    if ns.json:
        print_json({"pruned": removed, "pruned_resolved_errors": resolved,
                    "older_than_days": days, "before": cutoff})
    else:
        out().print(f"pruned {removed} history entries and {resolved} resolved error records "
                    f"older than {days} days (before {cutoff[:19].replace('T', ' ')} "
                    "UTC); open error records stay")
    return OK
