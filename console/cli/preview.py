"""`klaviyo-console preview ID`: what a push would do; writes nothing."""

from __future__ import annotations

import argparse

from console import render
from console.cli.base import FAILED, OK, PROG
from console.cli.common import out, print_json, say
from core.engine import CustomerNotFound, Engine, StageFailure
from core.model import CustomerDataError


async def run(ns: argparse.Namespace, engine: Engine) -> int:
    """Print the plan with its guard verdict; exit 1 when it cannot be made."""
    try:
        plan = await engine.preview(ns.customer_id)
    except CustomerNotFound as exc:
        say(f"{PROG}: {exc}")
        return FAILED
    except StageFailure as exc:
        say(f"{PROG}: preview failed at {exc.stage.value}: {exc.error}")
        return FAILED
    except CustomerDataError as exc:
        say(f"{PROG}: {exc}")
        return FAILED
    if ns.json:
        print_json(plan.to_json())
    else:
        out().print(render.plan_view(plan))
    return OK
