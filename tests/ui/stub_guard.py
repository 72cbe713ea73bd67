"""The stub engine with the issue-14 push API (confirm kinds, re-send) and guarded plans."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from core.clients.http import RetryNotice
from core.model import Guard, GuardKind, GuardReason, Plan
from tests.ui.stub_engine import Result, StubEngine


@dataclass(frozen=True)
class PartialResult(Result):
    partial: tuple[str, ...] = ()


def reason(kind: str, text: str) -> GuardReason:
    return GuardReason(GuardKind(kind), text)


def verdict(reasons: tuple[GuardReason, ...] = (),
            held: frozenset[str] = frozenset()) -> Guard:
    return Guard(reasons, frozenset(GuardKind(kind) for kind in held))


class GuardEngine(StubEngine):
    """Pushes take `confirm` and `resend_consent_email`, as Engine.push does after issue 14."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.verdicts: dict[str, Guard] = {}
        self.unknown: dict[str, tuple[str, ...]] = {}
        self.partial_ids: set[str] = set()
        self.calls: list[dict[str, Any]] = []
        self.retry_listeners: list[Callable[[RetryNotice], None]] = []
        self.slow_ids: set[str] = set()

    def on_retry(self, listener: Callable[[RetryNotice], None]) -> Callable[[], None]:
        self.retry_listeners.append(listener)
        return lambda: self.retry_listeners.remove(listener)

    async def preview(self, customer_id: str) -> Plan:
        if customer_id in self.slow_ids:  # Klaviyo did not answer once: the engine waits
            notice = RetryNotice("Klaviyo", "https://a.klaviyo.com", 2, 5, 4.0, "not answering")
            for listener in self.retry_listeners:
                listener(notice)
            await asyncio.sleep(0.2)
        return await super().preview(customer_id)

    def plan(self, cid: str) -> Plan:
        plan = super().plan(cid)
        if cid in self.verdicts or cid in self.unknown:
            return replace(plan, guard=self.verdicts.get(cid, Guard()),
                           unknown=self.unknown.get(cid, ()))
        return plan

    async def push(self, customer_id: str, *, confirm: frozenset[Any] | bool = False,
                   resend_consent_email: bool = False, trigger: str = "manual") -> Result:
        self.calls.append({"id": customer_id, "confirm": confirm,
                           "resend": resend_consent_email})
        result = await super().push(customer_id, confirm=confirm, trigger=trigger)
        if customer_id in self.partial_ids:
            return PartialResult(result.plan, True, result.profile_id, None, False,
                                 partial=("phone_number",))
        return result
