"""`klaviyo-console sync [ID ... | --all] [--bulk]`: push many customers."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from console import render
from console.cli.base import FAILED, OK, PROG
from console.cli.common import out, print_json, sandbox_banner, say
from console.cli.progress import ctrl_c, on_progress, progress_bar
from core.clients.http import ApiError
from core.engine import Engine, StageFailure


async def run(ns: argparse.Namespace, engine: Engine) -> int:
    """Sync with a progress bar on a terminal; exit 1 when any customer failed or was held."""
    sandbox_banner(engine, ns.json)
    if ns.bulk:
        say("note: --bulk runs customer by customer in this version (same guards, same "
            "records)", style="yellow")
    ids = None if ns.all else list(ns.ids)
    cancel = asyncio.Event()
    bar = progress_bar(not ns.json and sys.stderr.isatty(), "sync",
                       None if ids is None else len(ids))
    with ctrl_c(cancel), bar or contextlib.nullcontext():
        try:
            progress = await engine.sync(ids, allow_unsubscribe=ns.allow_unsubscribe,
                                         on_progress=on_progress(bar), cancel=cancel)
        except StageFailure as exc:
            say(f"{PROG}: could not list customers: {exc.error}")
            return FAILED
        except ApiError as exc:
            # Reading the customer pages failed; pushes already taken finished and were logged.
            say(f"{PROG}: could not list customers: {exc}")
            return FAILED
    if ns.json:
        print_json(progress.to_json())
    else:
        out().print(render.batch_summary(progress))
    return OK if progress.ok else FAILED
