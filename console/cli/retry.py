"""`klaviyo-console retry [ERROR_ID ... | --all]`: re-plan and push failed customers."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from rich.text import Text

from console import render
from console.cli.base import FAILED, OK, PROG, UsageError
from console.cli.common import out, print_json
from console.cli.progress import ctrl_c, on_progress, progress_bar
from core.engine import Engine, PushResult, UnknownErrorId


async def run(ns: argparse.Namespace, engine: Engine) -> int:
    """Retry and print each record's outcome; exit 1 when any still fails or is held."""
    results: list[PushResult] = []
    ids = None if ns.all else list(ns.error_ids)
    if ids is not None:
        for error_id in ids:
            record = engine.errors.get(error_id)
            if record is None:
                raise UsageError(f"no error record {error_id} (see `{PROG} errors`)")
    cancel = asyncio.Event()
    bar = progress_bar(not ns.json and ns.all and sys.stderr.isatty(), "retry", None)
    with ctrl_c(cancel), bar or contextlib.nullcontext():
        try:
            progress = await engine.retry(ids, on_progress=on_progress(bar), cancel=cancel,
                                          on_result=results.append)
        except UnknownErrorId as exc:
            raise UsageError(str(exc)) from None
    rows = []
    for result in results:
        latest = engine.errors.query(customer_id=result.plan.customer_id, limit=1)
        record = result.error or (latest[0] if latest else None)
        rows.append({
            "error_id": record.id if record else None,
            "customer_id": result.plan.customer_id,
            "ok": result.ok,
            "held": result.held,
            "status": record.status.value if record else None,
            "attempts": tries(record.attempts) if record else None,
            "profile_id": result.profile_id,
            "message": result.error.message if result.error else None,
        })
    if ns.json:
        print_json({**progress.to_json(), "results": rows})
    else:
        if not rows:
            out().print("nothing to retry: no open error records")
        for row in rows:
            line = Text()
            if row["ok"]:
                line.append("resolved", style="green")
                line.append(f" {row['error_id']} (customer {row['customer_id']}, attempt "
                            f"{row['attempts']})")
            elif row["held"]:
                line.append("held", style="yellow")
                line.append(f" {row['error_id']} (customer {row['customer_id']}): "
                            f"{row['message']}")
            else:
                line.append("still failing", style="red")
                line.append(f" {row['error_id']} (customer {row['customer_id']}): "
                            f"{row['message']}")
            out().print(line)
        out().print(render.batch_summary(progress, "resolved"))
    return OK if progress.ok else FAILED


def tries(attempts: object) -> int | None:
    """How many attempts a record counts, whether it keeps a number or the attempts themselves."""
    if attempts is None or isinstance(attempts, int):
        return attempts
    return len(attempts) if isinstance(attempts, (list, tuple)) else None
