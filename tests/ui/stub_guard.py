"""The stub engine with the issue-14 push API (confirm kinds, re-send) and guarded plans."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.model import ConsentChange, Plan
from tests.ui.stub_engine import Result, StubEngine


@dataclass(frozen=True)
class Reason:
    kind: str
    text: str


@dataclass(frozen=True)
class Verdict:
    """Duck-typed as core.model's Guard: reasons, and the kinds the policy holds."""

    reasons: tuple[Reason, ...] = ()
    held: frozenset[str] = frozenset()


@dataclass(frozen=True)
class GuardedPlan(Plan):
    guard: Verdict = field(default_factory=Verdict)
    unknown: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pending(ConsentChange):
    pending_since: str | None = None


@dataclass(frozen=True)
class PartialResult(Result):
    partial: tuple[str, ...] = ()


def guarded(plan: Plan, verdict: Verdict, unknown: tuple[str, ...] = ()) -> GuardedPlan:
    values = {name: getattr(plan, name) for name in Plan.__dataclass_fields__}
    return GuardedPlan(**values, guard=verdict, unknown=unknown)


class GuardEngine(StubEngine):
    """Pushes take `confirm` and `resend_consent_email`, as Engine.push does after issue 14."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.verdicts: dict[str, Verdict] = {}
        self.unknown: dict[str, tuple[str, ...]] = {}
        self.partial_ids: set[str] = set()
        self.calls: list[dict[str, Any]] = []

    def plan(self, cid: str) -> Plan:
        plan = super().plan(cid)
        if cid in self.verdicts or cid in self.unknown:
            return guarded(plan, self.verdicts.get(cid, Verdict()), self.unknown.get(cid, ()))
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
