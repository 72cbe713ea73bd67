"""The CLI's seam with the issue-14 engine and plan (contract §1, §3), in one place.

Until the planner's and the engine's branches land, the plan has no `guard` and the engine takes
`confirmed` / `allow_unsubscribe`; these helpers call whichever the engine offers, so the
commands are written once against the contract's names. Once both have landed, each helper
collapses to its first branch.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.config import CONSENT_HOLD_KINDS

if TYPE_CHECKING:
    from core.engine import BatchProgress, Engine, PushResult
    from core.model import Plan

# What `sync --confirm` accepts, in design §9's words; "all" stands for every one.
GUARD_KINDS: tuple[str, ...] = CONSENT_HOLD_KINDS


@dataclass(frozen=True, slots=True)
class Reason:
    """One guarded consent change: its kind, the plain words, and whether the policy holds it."""

    kind: str
    text: str
    held: bool


def _takes(method: Any, name: str) -> bool:
    return name in inspect.signature(method).parameters


def _guard_kinds(kinds: Iterable[str]) -> frozenset[Any]:
    guard_kind = getattr(importlib.import_module("core.model"), "GuardKind", None)
    if guard_kind is None:
        return frozenset(kinds)
    return frozenset(guard_kind(kind) for kind in kinds)


def guard_reasons(plan: Plan) -> list[Reason]:
    """Every guarded change of the plan, held or not (contract §1 Guard.reasons)."""
    guard = getattr(plan, "guard", None)
    if guard is not None:
        held = {str(kind) for kind in guard.held}
        return [Reason(str(r.kind), r.text, str(r.kind) in held) for r in guard.reasons]
    reasons = []
    for change in plan.guarded_consent:
        if change.action.value == "unsubscribe":
            kind = "unsubscribe"
        elif change.double_opt_in:
            kind = "consent-email"
        else:
            kind = "resubscribe"
        where = f" (list {change.list_name})" if change.list_name else ""
        text = f"{change.action.value} {change.channel.value}{where}"
        if change.note:
            text += f": {change.note}"
        reasons.append(Reason(kind, text, True))
    return reasons


def confirm_needed(plan: Plan) -> bool:
    """Whether pushing the plan needs a confirmation."""
    guard = getattr(plan, "guard", None)
    if guard is not None:
        return bool(guard.confirm_needed)
    return bool(plan.guarded_consent)


def unknown_facts(plan: Plan) -> tuple[str, ...]:
    """Facts the mode could not read, in words (contract §1 Plan.unknown)."""
    return tuple(getattr(plan, "unknown", ()))


def pending_since(change: object) -> str | None:
    """When a consent email for this change was sent and still awaits confirmation, if so."""
    value = getattr(change, "pending_since", None)
    return str(value) if value else None


def plan_json(plan: Plan) -> dict[str, Any]:
    """`preview --json`: the plan's own document, with `guard` and `unknown` always present."""
    doc: dict[str, Any] = dict(plan.to_json())
    if "guard" not in doc:
        doc["guard"] = {
            "confirm_needed": confirm_needed(plan),
            "reasons": [{"kind": r.kind, "text": r.text, "held": r.held}
                        for r in guard_reasons(plan)],
        }
    doc.setdefault("unknown", list(unknown_facts(plan)))
    return doc


def push_json(result: PushResult) -> dict[str, Any]:
    """`push --json`: the push result's document with the plan's `guard` and `unknown`."""
    doc: dict[str, Any] = dict(result.to_json())
    for key, value in plan_json(result.plan).items():
        doc.setdefault(key, value)
    return doc


async def push(engine: Engine, customer_id: str, *, confirm: bool,
               resend_consent_email: bool) -> PushResult:
    """Engine.push with the contract's keywords, on whichever engine this build has."""
    if _takes(engine.push, "confirm"):
        call: Any = engine.push
        result: PushResult = await call(customer_id, confirm=confirm,
                                        resend_consent_email=resend_consent_email)
        return result
    return await engine.push(customer_id, confirmed=confirm)


def supports_resend(engine: Engine) -> bool:
    """Whether this engine can be asked to re-send a pending consent email."""
    return _takes(engine.push, "resend_consent_email")


def bulk_supported(engine: Engine) -> bool:
    """Whether this engine's bulk path plans from the same facts as the preview (issue 14)."""
    return _takes(engine.sync, "confirm")


async def sync(engine: Engine, ids: list[str] | None, *, bulk: bool, confirm: frozenset[str],
               **options: Any) -> BatchProgress:
    """Engine.sync with `confirm` as guard kinds (an older engine only knows all or none)."""
    call: Any = engine.sync
    result: BatchProgress
    if bulk_supported(engine):
        result = await call(ids, bulk=bulk, confirm=_guard_kinds(confirm), **options)
    else:
        # The engine from before issue 14 reads bulk customers' profiles without their
        # subscriptions and would hold every consent change the preview shows as plain, so it
        # keeps the per-customer path it always ran.
        result = await call(ids, allow_unsubscribe=bool(confirm), **options)
    return result


def brake_of(result: object) -> Any | None:
    """The batch's tripped brake (contract §3 BrakeVerdict), if any."""
    return getattr(result, "brake", None)
