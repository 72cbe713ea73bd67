"""`klaviyo-console retry [ERROR_ID ... | --all]`: re-plan and push failed customers."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from console import render
from console.cli.base import FAILED, OK, PROG, UsageError
from console.cli.common import out, print_json, sandbox_banner
from console.cli.progress import ctrl_c, on_progress, progress_bar
from core.engine import Engine, PushResult, UnknownErrorId


async def run(ns: argparse.Namespace, engine: Engine) -> int:
    """Retry and print each record's outcome; exit 1 when any still fails or is held."""
    sandbox_banner(engine, ns.json)
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
            "attempts": len(record.attempts) if record else None,
            "profile_id": result.profile_id,
            "message": result.error.message if result.error else None,
        })
    if ns.json:
        print_json({**progress.to_json(), "results": rows})
    else:
        if not rows:
            out().print("nothing to retry: no open error records")
        for row in rows:
            if row["ok"]:
                out().print(f"[green]resolved[/] {row['error_id']} (customer "
                            f"{row['customer_id']}, attempt {row['attempts']})")
            else:
                out().print(f"[red]still failing[/] {row['error_id']} (customer "
                            f"{row['customer_id']}): {row['message']}")
        out().print(render.batch_summary(progress, "resolved"))
    return OK if progress.ok else FAILED
