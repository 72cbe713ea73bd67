"""What every step of one customer's flow shares: the context, its result and its failures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from core.clients.http import ApiError
from core.clients.ipaas import IpaasClient
from core.clients.klaviyo import KlaviyoClient
from core.engine import records
from core.engine.list_cache import ListCache
from core.engine.shared import BatchCalls
from core.mapping import Template
from core.model import JSON, ErrorRecord, Outcome, Plan, Stage
from core.plan import PlanSettings
from core.store import ConsentEmails, ErrorLog, History

T = TypeVar("T")


class CustomerNotFound(LookupError):
    """The iPaaS.com Customer id does not exist."""

    def __init__(self, customer_id: str) -> None:
        super().__init__(f"customer {customer_id} not found in iPaaS.com")
        self.customer_id = customer_id


class StageFailure(Exception):
    """An API failure tagged with the stage of design §3 it happened at."""

    def __init__(self, stage: Stage, error: ApiError) -> None:
        super().__init__(str(error))
        self.stage = stage
        self.error = error


@dataclass(frozen=True)
class PushResult:
    """What one push did: its plan, success, the profile written and the error record if any."""

    plan: Plan
    ok: bool
    profile_id: str | None = None
    error: ErrorRecord | None = None
    held: bool = False
    # Fields Klaviyo dropped from a profile it saved (a rejected phone): done, but partly.
    partial: tuple[str, ...] = ()

    @property
    def outcome(self) -> str:
        """done, failed or held (design §9)."""
        if self.held:
            return Outcome.HELD.value
        return Outcome.DONE.value if self.ok or self.partial else Outcome.FAILED.value

    def to_json(self) -> JSON:
        body = self.plan.to_json()
        body["ok"] = self.ok
        body["outcome"] = self.outcome
        body["partial"] = list(self.partial)
        body["profile_id"] = self.profile_id if self.profile_id else body["profile_id"]
        body["held"] = self.held
        body["error"] = self.error.to_json() if self.error else None
        return body


@dataclass
class Context:
    """The parts one push needs: clients, mapping, stores and the settings the plan reads."""

    klaviyo: KlaviyoClient
    ipaas: IpaasClient
    template: Template
    settings: PlanSettings
    errors: ErrorLog
    history: History
    lists: ListCache
    consent_emails: ConsentEmails
    secrets: tuple[str, ...] = ()
    # When records are stamped: the wall clock, or a fixed one for repeatable runs.
    now: Callable[[], str] = records.now_iso
    # Set for a batch: reads, consent jobs and list calls are shared across its customers.
    calls: BatchCalls | None = None


async def staged(stage: Stage, call: Awaitable[T]) -> T:
    """The call's result; an API failure is raised as a StageFailure of this stage."""
    try:
        return await call
    except ApiError as exc:
        raise StageFailure(stage, exc) from exc
