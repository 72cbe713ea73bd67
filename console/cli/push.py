"""`klaviyo-console push ID [--yes]`: push one customer (Manual Sync)."""

from __future__ import annotations

import argparse

from console import render
from console.cli.base import FAILED, OK
from console.cli.common import out, print_json, sandbox_banner, say
from core.engine import CustomerNotFound, Engine

HELD_LINE = "held by the consent guard: rerun with --yes to confirm"


async def run(ns: argparse.Namespace, engine: Engine) -> int:
    """Push and print the result; exit 1 when it failed or the consent guard held it."""
    sandbox_banner(engine, ns.json)
    try:
        result = await engine.push(ns.customer_id, confirmed=ns.yes)
    except CustomerNotFound as exc:
        say(str(exc))
        return FAILED
    if ns.json:
        print_json(result.to_json())
    else:
        out().print(render.push_view(result))
    if result.ok:
        return OK
    if result.held:
        if ns.json:
            say(HELD_LINE)
        return FAILED
    return FAILED
