"""An in-memory engine with the console's port, kept only for Pilot tests the sandbox cannot stage.

Snapshots and the flow tests in test_sandbox.py run the real engine on the sandbox. This stub
serves the widget-level tests in test_lookup_push.py and test_errors_batch.py that need states
the real engine reaches only slowly or not at all: a push that stays in flight (second push
refused), an engine that fails to open, error records of every kind and status on demand
(filters, paging), a retry that succeeds, and search results with several matches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.engine.customer_index import CustomerHit, CustomerSearch, IndexStatus
from core.mapping import NO_IDENTIFIER
from core.model import (
    Attempt,
    Change,
    Channel,
    ConsentAction,
    ConsentChange,
    Customer,
    ErrorKind,
    ErrorRecord,
    ErrorStatus,
    FieldDiff,
    HistoryEntry,
    ListAction,
    ListChange,
    MatchedBy,
    Plan,
    Route,
    Stage,
)

STAMP = "2026-07-01T09:30:00+00:00"


def _hit(customer: Customer, matched_on: tuple[str, ...]) -> CustomerHit:
    return CustomerHit(customer.id, customer.display_name, customer.email_address,
                       customer.company, matched_on, exact=False)


@dataclass(frozen=True)
class StubConfig:
    state_dir: Path
    sandbox: bool = True
    template_path: Path | None = None

    def redacted(self) -> dict[str, Any]:
        return {"state_dir": str(self.state_dir), "klaviyo_api_key": "pk_…(masked)",
                "klaviyo_base_url": "http://sandbox.invalid", "sandbox": self.sandbox,
                "default_region": "US", "sms_consent": False}


@dataclass
class Progress:
    total: int | None
    done: int = 0
    failed: int = 0
    held: int = 0
    cancelled: bool = False


@dataclass(frozen=True)
class Result:
    plan: Plan
    ok: bool
    profile_id: str | None
    error: ErrorRecord | None
    held: bool


@dataclass(frozen=True)
class Limit:
    limit: int
    remaining: int


CUSTOMERS = {
    "55260": Customer(id="55260", first_name="Ann", last_name="Example",
                      email_address="ann@example.com"),
    "1001": Customer(id="1001", first_name="Ben", last_name="New",
                     email_address="ben@example.com"),
    "1002": Customer(id="1002", first_name="Cara", last_name="Match",
                     email_address="cara@example.com"),
    "1003": Customer(id="1003", first_name="Dev", last_name="Phone"),
    "1004": Customer(id="1004", first_name="Eve", last_name="Nobody"),
    "1005": Customer(id="1005", first_name="Fay", last_name="Leaving",
                     email_address="fay@example.com"),
}


def _payload(cid: str, attrs: dict[str, Any], profile_id: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "profile", "attributes": attrs}
    if profile_id:
        data["id"] = profile_id
    return {"data": data}


class MemoryErrors:
    def __init__(self) -> None:
        self.records: dict[str, ErrorRecord] = {}

    def add(self, record: ErrorRecord) -> None:
        self.records[record.id] = record

    def get(self, error_id: str) -> ErrorRecord | None:
        return self.records.get(error_id)

    def _match(self, status: ErrorStatus | None, kind: ErrorKind | None) -> list[ErrorRecord]:
        rows = [r for r in self.records.values()
                if (status is None or r.status is status) and (kind is None or r.kind is kind)]
        return sorted(rows, key=lambda r: r.id, reverse=True)

    def query(self, *, status: ErrorStatus | None = None, kind: ErrorKind | None = None,
              customer_id: str | None = None, offset: int = 0,
              limit: int | None = None) -> list[ErrorRecord]:
        rows = self._match(status, kind)
        end = None if limit is None else offset + limit
        return rows[offset:end]

    def count(self, *, status: ErrorStatus | None = None, kind: ErrorKind | None = None) -> int:
        return len(self._match(status, kind))


class MemoryHistory:
    def __init__(self) -> None:
        self.entries: list[HistoryEntry] = []

    def add(self, entry: HistoryEntry) -> None:
        self.entries.insert(0, entry)

    def for_customer(self, customer_id: str, limit: int | None = None) -> list[HistoryEntry]:
        return [e for e in self.entries if e.customer_id == customer_id][:limit]

    def recent(self, limit: int = 50) -> list[HistoryEntry]:
        return self.entries[:limit]


class StubEngine:
    """Plans for every route, pushes that change later plans, errors, history and batches."""

    def __init__(self, config: StubConfig) -> None:
        self.config = config
        self.sandbox = None
        self.errors = MemoryErrors()
        self.history = MemoryHistory()
        self.linked: dict[str, str] = {"55260": "01JPROFILEANN00000000000000", "1005":
                                       "01JPROFILEFAY00000000000000"}
        self.fail_ids: set[str] = set()
        self.hold_after: int | None = None
        self.pushes: list[tuple[str, bool]] = []
        self._ids = 0
        self.closed = False

    async def close(self) -> None:
        self.closed = True

    def rate_limits(self) -> dict[str, Limit]:
        return {"profiles": Limit(limit=75, remaining=60), "lists": Limit(limit=10, remaining=7)}

    def _next(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}{self._ids:04d}"

    async def search_customers(self, query: str) -> CustomerSearch:
        text = query.strip().casefold()
        if text.isdigit():
            found = [CUSTOMERS[text]] if text in CUSTOMERS else []
            return CustomerSearch(text, [_hit(c, ("id",)) for c in found])
        hits = [_hit(c, ("email",) if text in (c.email_address or "").casefold() else ("name",))
                for c in CUSTOMERS.values()
                if text in (c.email_address or "").casefold()
                or text in c.display_name.casefold()]
        return CustomerSearch(text, hits, index=await self.customer_index())

    async def customer_index(self) -> IndexStatus:
        return IndexStatus(len(CUSTOMERS), STAMP)

    async def refresh_customer_index(self, *, on_progress: Callable[[int], None] | None = None,
                                     if_older: bool = False) -> IndexStatus | None:
        return None if if_older else await self.customer_index()

    async def preview(self, customer_id: str) -> Plan:
        await asyncio.sleep(0)
        if customer_id not in CUSTOMERS:
            raise LookupError(f"customer {customer_id} does not exist in iPaaS.com")
        return self.plan(customer_id)

    def plan(self, cid: str) -> Plan:
        customer = CUSTOMERS[cid]
        attrs: dict[str, Any] = {"email": customer.email_address, "first_name":
                                 customer.first_name, "last_name": customer.last_name,
                                 "external_id": cid}
        attrs = {k: v for k, v in attrs.items() if v}
        if cid in self.linked:
            profile = self.linked[cid]
            current = {"email": customer.email_address, "first_name": "Anne" if cid == "55260"
                       else customer.first_name, "last_name": customer.last_name,
                       "organization": "Example Ltd", "properties": {"$source": "API"}}
            current = {k: v for k, v in current.items() if v}
            diff = (
                *(FieldDiff(k, current.get(k), v,
                            Change.UNCHANGED if current.get(k) == v else
                            (Change.ADDED if k not in current else Change.CHANGED))
                  for k, v in attrs.items()),
                FieldDiff("organization", "Example Ltd", None, Change.KEPT),
            )
            consent: tuple[ConsentChange, ...] = (
                ConsentChange(Channel.EMAIL, ConsentAction.SUBSCRIBE),)
            if cid == "1005":
                consent = (ConsentChange(Channel.EMAIL, ConsentAction.UNSUBSCRIBE, risky=True,
                                         note="the profile is SUBSCRIBED today"),
                           ConsentChange(Channel.EMAIL, ConsentAction.SUBSCRIBE,
                                         list_name="Sms Subscribers", double_opt_in=True,
                                         risky=True))
            return Plan(cid, Route.UPDATE, f"linked via external id {profile}",
                        MatchedBy.EXTERNAL_ID, profile, _payload(cid, attrs, profile), current,
                        diff, consent,
                        (ListChange("Preview List", "LST1", ListAction.ADD),))
        diff = tuple(FieldDiff(k, None, v, Change.ADDED) for k, v in attrs.items())
        if cid == "1001":
            return Plan(cid, Route.CREATE, "no profile has this email or phone", None, None,
                        _payload(cid, attrs, None), None, diff,
                        (ConsentChange(Channel.EMAIL, ConsentAction.SUBSCRIBE),))
        if cid == "1002":
            pid = "01JPROFILECARA0000000000000"
            return Plan(cid, Route.LINK, f"email cara@example.com matched profile {pid}",
                        MatchedBy.EMAIL, pid, _payload(cid, attrs, pid),
                        {"email": "cara@example.com"}, diff)
        if cid == "1003":
            pid = "01JPROFILEDEV00000000000000"
            return Plan(cid, Route.LINK, f"phone +14155550123 matched profile {pid}",
                        MatchedBy.PHONE, pid, _payload(cid, attrs, pid),
                        {"phone_number": "+14155550123"}, diff,
                        warnings=("phone +14155550123 and email matched different profiles",))
        return Plan(cid, Route.BLOCKED, "the customer has no email and no usable phone",
                    errors=(NO_IDENTIFIER,),
                    error_kind=ErrorKind.NO_IDENTIFIER)

    def add_error(self, cid: str, kind: ErrorKind, message: str,
                  status: ErrorStatus = ErrorStatus.OPEN) -> ErrorRecord:
        record = ErrorRecord(id=self._next("E"), customer_id=cid, kind=kind, stage=Stage.WRITE,
                             message=message, retry_action="push the customer again",
                             created_at=STAMP, updated_at=STAMP, status=status)
        self.errors.add(record)
        return record

    async def push(self, customer_id: str, *, confirm: frozenset[Any] | bool = False,
                   resend_consent_email: bool = False, trigger: str = "manual",
                   confirmed: bool | None = None) -> Result:
        await asyncio.sleep(0)
        # Engine.push's confirm: the console passes the kinds its dialog showed (maybe none).
        confirmed = (confirm is not False) if confirmed is None else confirmed
        plan = self.plan(customer_id)
        self.pushes.append((customer_id, confirmed))
        if plan.blocked or customer_id in self.fail_ids:
            error = self.add_error(customer_id, plan.error_kind or ErrorKind.API_UNAVAILABLE,
                                   plan.errors[0] if plan.errors else "Klaviyo answered 503")
            return Result(plan, False, None, error, False)
        if plan.guarded_consent and not confirmed:
            error = self.add_error(customer_id, ErrorKind.CONSENT_GUARD,
                                   "held: the push would unsubscribe a subscribed profile")
            return Result(plan, False, None, error, True)
        profile = plan.profile_id or f"01JPROFILENEW{customer_id:0>14}"
        self.linked[customer_id] = profile
        self.history.add(HistoryEntry(
            id=self._next("H"), customer_id=customer_id, at=STAMP, route=plan.route, ok=True,
            profile_id=profile, before=plan.current, sent=plan.payload,
            after={**(plan.current or {}), **(plan.payload or {})["data"]["attributes"]},
            consent=tuple(c.to_json() for c in plan.consent),
            lists=tuple(item.to_json() for item in plan.lists), trigger=trigger))
        return Result(plan, True, profile, None, False)

    async def sync(self, ids: Iterable[str] | None, *, allow_unsubscribe: bool = False,
                   bulk: bool = False, on_progress: Callable[[Any], None] | None = None,
                   cancel: asyncio.Event | None = None) -> Progress:
        chosen = list(ids) if ids is not None else list(CUSTOMERS)
        progress = Progress(total=len(chosen))
        for index, cid in enumerate(chosen):
            if cancel is not None and self.hold_after is not None and index >= self.hold_after:
                await cancel.wait()
            if cancel is not None and cancel.is_set():
                progress.cancelled = True
                break
            result = await self.push(cid, confirmed=allow_unsubscribe, trigger="batch")
            if result.ok:
                progress.done += 1
            elif result.held:
                progress.held += 1
            else:
                progress.failed += 1
            if on_progress:
                on_progress(progress)
        return progress

    async def retry(self, error_ids: Sequence[str] | None, *,
                    on_progress: Callable[[Any], None] | None = None) -> Progress:
        records = ([self.errors.records[i] for i in error_ids] if error_ids is not None else
                   self.errors.query(status=ErrorStatus.OPEN))
        progress = Progress(total=len(records))
        for record in records:
            result = await self.push(record.customer_id, trigger="retry")
            if result.ok:
                done = Attempt(record.updated_at, "done", "pushed")
                self.errors.add(replace(record, status=ErrorStatus.RESOLVED,
                                        attempts=(*record.attempts, done)))
                progress.done += 1
            else:
                progress.failed += 1
            if on_progress:
                on_progress(progress)
        return progress


def stub_factory(engine: StubEngine) -> Callable[[Any], Any]:
    async def open_stub(config: Any) -> StubEngine:
        return engine

    return open_stub
