"""The stub engine with the issue-14 push API (confirm kinds, re-send) and guarded plans."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

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
        result = await super().push(customer_id, confirmed=bool(confirm) or True,
                                    trigger=trigger)
        if customer_id in self.partial_ids:
            return PartialResult(result.plan, True, result.profile_id, None, False,
                                 partial=("phone_number",))
        return result
