"""The CLI's seam with the issue-14 engine (contract §3), in one place.

Until ENGINE's branch lands, the engine takes `confirmed` / `allow_unsubscribe`; these helpers
call whichever the engine offers, so the commands are written once against the contract's
names. Once it has landed, each helper collapses to its first branch.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from core.model import GuardKind

if TYPE_CHECKING:
    from core.engine import BatchProgress, Engine, PushResult

# What `sync --confirm` accepts, in design §9's words; "all" stands for every one.
GUARD_KINDS: tuple[str, ...] = tuple(kind.value for kind in GuardKind)


def _takes(method: Any, name: str) -> bool:
    return name in inspect.signature(method).parameters


def _guard_kinds(kinds: Iterable[str]) -> frozenset[GuardKind]:
    return frozenset(GuardKind(kind) for kind in kinds)


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
    """The batch's brake verdict (contract §3 BrakeVerdict) when it tripped, else None."""
    brake = getattr(result, "brake", None)
    return brake if brake is not None and getattr(brake, "tripped", True) else None
