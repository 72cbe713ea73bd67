"""`klaviyo-console sync [ID ... | --all] [--bulk] [--confirm KINDS]`: push many customers."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import Any

from console import render
from console.cli.base import FAILED, OK, PROG
from console.cli.common import out, print_json, say
from console.cli.contract import GUARD_KINDS, brake_of, bulk_supported, sync
from console.cli.progress import ctrl_c, on_progress, progress_bar
from core.clients.http import ApiError
from core.engine import Engine, StageFailure

DEPRECATED = ("warning: --allow-unsubscribe is deprecated and confirms every kind; "
              "use --confirm unsubscribe (or resubscribe, consent-email, all)")


async def run(ns: argparse.Namespace, engine: Engine) -> int:
    """Sync with a progress bar on a terminal; exit 1 when any customer failed or was held."""
    confirm: frozenset[str] = ns.confirm
    if ns.allow_unsubscribe:
        say(DEPRECATED, style="yellow")
        confirm = frozenset(GUARD_KINDS)
    if ns.bulk and not bulk_supported(engine):
        # Goes with console/cli/contract.py once the engine takes `confirm`.
        say("note: this build runs --bulk customer by customer (same plans, same guard)",
            style="yellow")
    ids = None if ns.all else list(ns.ids)
    cancel = asyncio.Event()
    bar = progress_bar(not ns.json and sys.stderr.isatty(), "sync",
                       None if ids is None else len(ids))
    with ctrl_c(cancel), bar or contextlib.nullcontext():
        try:
            progress = await sync(engine, ids, bulk=ns.bulk, confirm=confirm,
                                  on_progress=on_progress(bar), cancel=cancel)
        except StageFailure as exc:
            say(f"{PROG}: could not list customers: {exc.error}")
            return FAILED
        except ApiError as exc:
            # Reading the customer pages failed; pushes already taken finished and were logged.
            say(f"{PROG}: could not list customers: {exc}")
            return FAILED
    brake = brake_of(progress)
    if ns.json:
        print_json(progress.to_json())
    else:
        out().print(render.batch_summary(progress))
    if brake is not None:
        say(brake_line(brake), style="bold red")
        return FAILED
    return OK if progress.ok else FAILED


def brake_line(brake: Any) -> str:
    """What the tripped brake held, in counts, and the flag that lets the run go on."""
    customers = max(1, int(brake.customers))
    return (f"{PROG}: brake: this run would unsubscribe {brake.unsubscribes} of "
            f"{brake.customers} customers ({brake.unsubscribes / customers:.0%}; the brake "
            f"stops a run above {float(brake.share):.0%} and at least {brake.limit}); those "
            "customers were held and nothing was unsubscribed. Check the source data, then "
            "run again with --confirm unsubscribe")
