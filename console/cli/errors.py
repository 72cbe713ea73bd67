"""`klaviyo-console errors [--status S] [--kind K] [--limit N]`: the error log."""

from __future__ import annotations

import argparse
from dataclasses import replace

from console import render
from console.cli.base import OK
from console.cli.common import out, print_json, say
from core.engine import Engine
from core.model import ErrorKind, ErrorStatus


async def run(ns: argparse.Namespace, engine: Engine) -> int:
    """Print the matching records, newest first, saying "showing N of M" when cut short."""
    status = None if ns.status == "all" else ErrorStatus(ns.status)
    kind = ErrorKind(ns.kind) if ns.kind else None
    limit = ns.limit if ns.limit is not None else (None if ns.json else 200)
    records = engine.errors.query(status=status, kind=kind, limit=limit)
    if ns.json:
        print_json([r.to_json() for r in records])
        return OK
    # The message column names the push a failed undo was reversing ("undo of push H: ...").
    out().print(render.errors_view([replace(r, message=r.headline()) for r in records]))
    total = engine.errors.count(status=status, kind=kind)
    if total > len(records):
        say(f"showing {len(records)} of {total} (use --limit N for more)", style="dim")
    return OK
