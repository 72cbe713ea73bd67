"""`klaviyo-console push ID [--yes] [--resend-consent-email]`: push one customer (Manual Sync)."""

from __future__ import annotations

import argparse
import logging

from console import render
from console.cli.base import FAILED, OK, PROG, UsageError
from console.cli.common import out, print_json, say
from console.cli.contract import push, supports_resend
from core.engine import CustomerNotFound, Engine, PushResult

HELD_LINE = "held by the consent guard: rerun with --yes to confirm"

log = logging.getLogger("console.cli")


async def run(ns: argparse.Namespace, engine: Engine) -> int:
    """Push and print the result; exit 1 when it failed or the consent guard held it."""
    if ns.resend_consent_email and not supports_resend(engine):
        raise UsageError("--resend-consent-email needs an engine that remembers consent emails")
    try:
        result = await push(engine, ns.customer_id, confirm=ns.yes,
                            resend_consent_email=ns.resend_consent_email)
    except CustomerNotFound as exc:
        say(f"{PROG}: {exc}; nothing was pushed or recorded")
        return FAILED
    # The exit code is the push's; nothing printed below may turn a done push into a failure.
    code = OK if result.ok or getattr(result, "outcome", None) == "done" else FAILED
    try:
        show(ns, result)
    except Exception:
        log.exception("could not print the result of pushing customer %s", ns.customer_id)
        say(_summary(result))
    return code


def show(ns: argparse.Namespace, result: PushResult) -> None:
    """The result on stdout; a held push also names its reasons on stderr under --json."""
    if ns.json:
        print_json(result.to_json())
        if result.held:
            say(HELD_LINE)
            for reason in render.held_reasons(result.plan):
                say(f"  {reason}")
    else:
        out().print(render.push_view(result, confirmed=ns.yes))


def _summary(result: PushResult) -> str:
    """The plainest one-line account of a push, for when the full rendering failed."""
    if result.ok:
        return f"pushed: profile {result.profile_id} (details in the log file)"
    if result.held:
        return HELD_LINE
    return f"failed: {result.error.message}" if result.error else "failed"
