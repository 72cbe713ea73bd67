"""`klaviyo-console history [ID] [--limit N]`: pushes, newest first."""

from __future__ import annotations

import argparse

from console import render
from console.cli.base import OK
from console.cli.common import out, print_json
from core.engine import Engine


async def run(ns: argparse.Namespace, engine: Engine) -> int:
    """Print one customer's pushes, or everyone's."""
    if ns.customer_id:
        entries = engine.history.for_customer(ns.customer_id.strip(), limit=ns.limit)
    else:
        entries = engine.history.recent(ns.limit)
    if ns.json:
        print_json([e.to_json() for e in entries])
    else:
        out().print(render.history_view(entries))
    return OK
