"""Many customers' Klaviyo calls in few requests: coalesced reads, consent jobs and list calls.

A batch pays Klaviyo per request, not per profile, for everything but the profile write itself:
a subscribe job takes 1000 profiles, an unsubscribe job 100, a list call 1000, a profile read
with an any() filter 100. Each customer still awaits its own outcome; when a combined request
fails, its customers are retried one by one so every failure lands on the customer it belongs to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar, cast

from core.clients.http import ApiError
from core.clients.klaviyo import (
    ADD_MEMBERS,
    GET_PROFILES,
    IMPORT_BATCH,
    LIST_BATCH,
    PAGE_MAX,
    REMOVE_MEMBERS,
    SUBSCRIBE,
    SUBSCRIBE_BATCH,
    UNSUBSCRIBE,
    UNSUBSCRIBE_BATCH,
    ConsentSubject,
    ImportJob,
    KlaviyoClient,
    import_jobs,
)
from core.model import (
    JSON,
    Channel,
    ConsentAction,
    ConsentState,
    ErrorStatus,
    KlaviyoList,
    ListAction,
    MappedProfile,
    Plan,
    Profile,
    Route,
    Subscriptions,
)
from core.plan import PlanSettings
from core.plan.consent import operations

log = logging.getLogger("core.engine")

T = TypeVar("T")
R = TypeVar("R")

# How long a partly filled request waits for more customers before it goes out anyway. At
# 50 ms a batch of ~20 customers/s sent most shared calls with one customer each: every
# request costs the engine ~3 ms of CPU in httpx, and 200 ms cut a customer's CPU by 28%.
LINGER = 0.2
# An import job is worth waiting for: its endpoint allows only 150 requests a minute (polls
# included), so a job goes out full, or once no row joined for IMPORT_IDLE seconds (the
# source ran dry or every customer in flight is waiting on it), or after IMPORT_LINGER.
IMPORT_LINGER = 60.0
IMPORT_IDLE = 0.5
# Job polling, in Klaviyo seconds (multiplied by the client's rate scale in the sandbox).
POLL_FIRST, POLL_MAX = 0.5, 10.0
# Customers in flight in a bulk sync: two import jobs' worth, one planning while one runs.
BULK_WORKERS = 2 * IMPORT_BATCH
_ROW = re.compile(r"^/data/attributes/profiles/data/(\d+)")
# Suppressions a subscribe lifts: subscribing such a profile overrides an opt-out.
OPT_OUT_REASONS = ("UNSUBSCRIBE", "SPAM_REPORT", "USER_SUPPRESSED")
# Store writes of a batch go to disk in groups: one worker-thread call (and, with add_many,
# one fsync per segment) for up to this many entries.
STORE_GROUP = 512
CUSTOMER_CALLS = 8
STORE_LINGER = 0.02


@dataclass(frozen=True)
class OptedOut:
    """Profiles whose email marketing is opted out, read as a set before a bulk sync: the only
    consent state the guard needs when every other target is treated as unknown."""

    ids: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()

    @classmethod
    def of(cls, profiles: list[Profile]) -> OptedOut:
        return cls(ids=frozenset(p.id for p in profiles),
                   emails=frozenset(p.email.casefold() for p in profiles if p.email))

    def consent(self, profile_id: str | None, email: object) -> Subscriptions | None:
        """UNSUBSCRIBED when the target or its email is in the set; else unknown (None)."""
        if (profile_id and profile_id in self.ids) or (
                isinstance(email, str) and email.casefold() in self.emails):
            return Subscriptions(email=ConsentState.UNSUBSCRIBED)
        return None


@dataclass
class _Pending(Generic[T, R]):
    items: list[T] = field(default_factory=list)
    waiters: list[asyncio.Future[R]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None
    started: float = 0.0
    waiting: bool = False  # due, but waiting for its bucket to have room


class Coalescer(Generic[T, R]):
    """Gathers items per key into one call of at most `size` items, sent when full or after
    `linger` seconds; `run(key, items)` answers one result per item, in order.

    With `ready`, a due call first waits for `ready(key)` (its rate-limit bucket has room),
    and items keep joining it meanwhile: at a busy bucket calls grow instead of queueing up
    small, which would spend a slow bucket's budget on a few customers a request."""

    def __init__(self, run: Callable[[Hashable, list[T]], Awaitable[list[R]]], *,
                 size: int, linger: float = LINGER, idle: float | None = None,
                 ready: Callable[[Hashable], Awaitable[None]] | None = None) -> None:
        if size < 1:
            raise ValueError("a coalesced call needs room for at least one item")
        self._run = run
        self._size = size
        self._linger = linger
        # With `idle`, a partly filled call goes out once no item joined for `idle` seconds
        # (the source ran dry), and `linger` caps how long its first item waits.
        self._idle = idle
        self._ready = ready
        self._pending: dict[Hashable, _Pending[T, R]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.requests = 0

    async def submit(self, key: Hashable, item: T) -> R:
        """This item's result once its combined call has run; its own failure is raised."""
        loop = asyncio.get_running_loop()
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending(started=loop.time())
            pending.timer = loop.call_later(self._wait(pending, loop.time()), self._flush, key)
        elif self._idle is not None and pending.timer is not None and not pending.waiting:
            pending.timer.cancel()
            pending.timer = loop.call_later(self._wait(pending, loop.time()), self._flush, key)
        future: asyncio.Future[R] = loop.create_future()
        pending.items.append(item)
        pending.waiters.append(future)
        if len(pending.items) >= self._size:
            self._seal(key)
        return await future

    def _wait(self, pending: _Pending[T, R], now: float) -> float:
        left = max(0.0, pending.started + self._linger - now)
        return left if self._idle is None else min(self._idle, left)

    def _flush(self, key: Hashable) -> None:
        """The call is due: send it once its bucket has room (at once without `ready`)."""
        pending = self._pending.get(key)
        if pending is None or pending.waiting:
            return
        if self._ready is None:
            self._seal(key)
            return
        pending.waiting = True
        if pending.timer is not None:
            pending.timer.cancel()
        self._spawn(self._when_ready(key, pending))

    async def _when_ready(self, key: Hashable, pending: _Pending[T, R]) -> None:
        assert self._ready is not None
        with contextlib.suppress(Exception):  # a failed wait still sends: the call reports
            await self._ready(key)
        if self._pending.get(key) is pending:  # not already sealed full
            self._seal(key)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _seal(self, key: Hashable) -> None:
        pending = self._pending.pop(key, None)
        if pending is None:
            return
        if pending.timer is not None:
            pending.timer.cancel()
        self._spawn(self._send(key, pending))

    async def _send(self, key: Hashable, pending: _Pending[T, R]) -> None:
        try:
            self.requests += 1
            results = await self._run(key, pending.items)
        except ApiError as exc:
            if len(pending.items) == 1:
                if not pending.waiters[0].done():
                    pending.waiters[0].set_exception(exc)
                return
            # Which customer broke the combined call is unknown: ask for each on its own.
            await asyncio.gather(*(
                self._alone(key, item, waiter)
                for item, waiter in zip(pending.items, pending.waiters, strict=True)))
            return
        except BaseException as exc:
            for waiter in pending.waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for waiter, result in zip(pending.waiters, results, strict=True):
            if not waiter.done():
                waiter.set_result(result)

    async def _alone(self, key: Hashable, item: T, waiter: asyncio.Future[R]) -> None:
        try:
            self.requests += 1
            result = (await self._run(key, [item]))[0]
        except Exception as exc:
            if not waiter.done():
                waiter.set_exception(exc)
            return
        if not waiter.done():
            waiter.set_result(result)

    async def drain(self) -> None:
        """Send whatever is pending now and wait for every call in flight."""
        for key in list(self._pending):
            self._seal(key)
        while self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.gather(*list(self._tasks), return_exceptions=True)


ConsentKey = tuple[ConsentAction, str | None, frozenset[Channel]]
ListKey = tuple[ListAction, str]


@dataclass(frozen=True)
class Write:
    """One customer's profile write as an import row: the route, the target id and attributes."""

    route: Route
    profile_id: str | None
    attributes: JSON
    # Lists every imported profile of the job joins (the job's relationships.lists).
    lists: frozenset[str] = frozenset()

    def row(self) -> JSON:
        item: JSON = {"type": "profile", "attributes": dict(self.attributes)}
        if self.route is not Route.CREATE and self.profile_id:
            item["id"] = self.profile_id
        return item


WriteOutcome = Profile | ApiError


class BatchCalls:
    """The coalesced Klaviyo calls one batch shares across its customers."""

    def __init__(self, klaviyo: KlaviyoClient, *, linger: float = LINGER,
                 bulk: bool = False) -> None:
        self._klaviyo = klaviyo
        self.bulk = bulk
        self.imports: Coalescer[Write, WriteOutcome] = Coalescer(
            self._import, size=IMPORT_BATCH, linger=IMPORT_LINGER if linger else 0.0,
            idle=IMPORT_IDLE if linger else None)
        self.jobs = 0
        self._records: dict[str, list[asyncio.Future[None]]] = {}
        # Each shared call waits for room in its bucket before it is sealed (see Coalescer).
        self.reads: Coalescer[str, Profile | None] = Coalescer(
            self._read, size=PAGE_MAX, linger=linger, ready=self._room(lambda _: GET_PROFILES))
        self.subscribes: Coalescer[ConsentSubject, None] = Coalescer(
            self._consent, size=SUBSCRIBE_BATCH, linger=linger,
            ready=self._room(lambda _: SUBSCRIBE))
        self.unsubscribes: Coalescer[ConsentSubject, None] = Coalescer(
            self._consent, size=UNSUBSCRIBE_BATCH, linger=linger,
            ready=self._room(lambda _: UNSUBSCRIBE))
        self.lists: Coalescer[str, None] = Coalescer(
            self._members, size=LIST_BATCH, linger=linger,
            ready=self._room(lambda key: ADD_MEMBERS if cast(ListKey, key)[0] is ListAction.ADD
                             else REMOVE_MEMBERS))
        self.stores: Coalescer[Any, None] = Coalescer(self._store, size=STORE_GROUP,
                                                      linger=STORE_LINGER if linger else 0.0)
        # Set by prepare() for a bulk sync: targets are not read, only this set is.
        self.opted_out: OptedOut | None = None
        self._prepared: asyncio.Future[None] | None = None
        self._once: dict[str, asyncio.Future[Any]] = {}
        # Per-customer requests (link stores, fallbacks) wait here rather than in the HTTP
        # connection pool, whose queue costs time in proportion to its length on every request.
        self.slots = asyncio.Semaphore(CUSTOMER_CALLS)
        # Customers with an open error record when the batch began (None: not read yet).
        self._open: frozenset[str] | None = None

    def _room(self, bucket: Callable[[Hashable], str]
              ) -> Callable[[Hashable], Awaitable[None]] | None:
        room = getattr(self._klaviyo, "room", None)  # a stand-in client may have no limiter
        if not callable(room):
            return None
        return lambda key: cast(Awaitable[None], room(bucket(key)))

    async def once(self, key: str, factory: Callable[[], Awaitable[Any]]) -> Any:
        """factory() run once per batch however many customers ask at the same time."""
        task = self._once.get(key)
        if task is None:
            task = self._once[key] = asyncio.ensure_future(factory())
        try:
            return await asyncio.shield(task)
        except Exception:
            if self._once.get(key) is task:
                del self._once[key]  # a failure is not kept: the next customer asks again
            raise

    def may_have_open(self, customer_id: str, errors: Any) -> bool:
        """Whether the customer might have an open error record to resolve: read once per
        batch (the count, and the open customers only when there are any)."""
        if self._open is None:
            if errors.count(status=ErrorStatus.OPEN) == 0:
                self._open = frozenset()
            else:
                ids: set[str] = set()
                offset = 0
                while True:
                    page = errors.query(status=ErrorStatus.OPEN, offset=offset, limit=500)
                    ids.update(r.customer_id for r in page)
                    if len(page) < 500:
                        break
                    offset += 500
                self._open = frozenset(ids)
        return customer_id in self._open

    @property
    def upsert(self) -> bool:
        """True when profile writes are import upserts planned without reading each target."""
        return self.bulk and self.opted_out is not None

    async def ready(self, *, sms_consent: bool) -> None:
        """prepare() once per batch; every customer waits for it before planning."""
        if self._prepared is None:
            self._prepared = asyncio.ensure_future(self.prepare(sms_consent=sms_consent))
        await asyncio.shield(self._prepared)

    async def prepare(self, *, sms_consent: bool) -> None:
        """For a bulk sync, read the opted-out set; on any failure every target is read."""
        if not self.bulk or sms_consent:
            return  # SMS opt-outs cannot be read as a set: each target is read instead
        try:
            found = await asyncio.gather(*(self._klaviyo.suppressed_profiles(reason)
                                           for reason in OPT_OUT_REASONS))
        except ApiError as exc:
            log.warning("opted-out profiles could not be read as a set (%s); the bulk sync "
                        "reads each target instead", exc)
            return
        self.opted_out = OptedOut.of([p for group in found for p in group])

    def upsert_plan(self, plan: Plan, mapped: MappedProfile,
                    lists: Mapping[str, KlaviyoList | None], settings: PlanSettings) -> Plan:
        """A bulk plan without a read target: the import upserts by id or identifiers, consent
        is unknown except for the opted-out set, so unsubscribes and double opt-in list
        subscribes are guarded and a re-subscribe of an opted-out email is caught."""
        if self.opted_out is None or plan.blocked:
            return plan
        if plan.route is Route.UPDATE:
            return replace(plan, current=None, reason=plan.reason + "; bulk import: the "
                           "current profile was not read (consent known only for opt-outs)")
        if plan.route is not Route.CREATE:
            return plan
        attributes = (plan.payload or {}).get("data", {}).get("attributes", {})
        email = attributes.get("email")
        consent, list_changes, warnings = operations(
            mapped, lists, email, attributes.get("phone_number"),
            self.opted_out.consent(None, email), None, False, mapped.phone_valid is not False,
            settings.sms_consent)
        return replace(
            plan, consent=consent, lists=list_changes,
            warnings=tuple(dict.fromkeys([*plan.warnings, *warnings])),
            reason=("bulk import upserts by email, phone or external id: creates the profile "
                    "or updates the one that has them (current profile not read)"))

    # ---- what the flow calls -----------------------------------------------------------

    async def profile(self, field_name: str, value: str) -> Profile | None:
        """The profile whose id, email or phone_number is this value, with consent."""
        return await self.reads.submit(field_name, value)

    async def consent(self, action: ConsentAction, subject: ConsentSubject, *,
                      channels: frozenset[Channel], list_id: str | None) -> None:
        """This subject's share of a subscribe or unsubscribe job."""
        key: ConsentKey = (action, list_id, channels)
        chosen = self.subscribes if action is ConsentAction.SUBSCRIBE else self.unsubscribes
        await chosen.submit(key, subject)

    async def membership(self, action: ListAction, list_id: str, profile_id: str) -> None:
        """This profile's share of an add-to-list or remove-from-list call."""
        key: ListKey = (action, list_id)
        await self.lists.submit(key, profile_id)

    async def write(self, write: Write) -> Profile:
        """This customer's row of a profile-bulk-import job, once the job is complete; the
        row's own import error is raised."""
        outcome = await self.imports.submit(write.lists, write)
        if isinstance(outcome, ApiError):
            raise outcome
        return outcome

    def record(self, customer_id: str, write: Callable[[Any], None], item: Any) -> None:
        """Queue a store write for the next group (run in a worker thread);
        settle(customer_id) waits until it is written."""
        future = asyncio.ensure_future(self.stores.submit(write, item))
        self._records.setdefault(customer_id, []).append(future)

    async def _store(self, key: Hashable, items: list[Any]) -> list[None]:
        write = cast(Callable[[Any], None], key)
        owner = getattr(write, "__self__", None)
        new_id = getattr(owner, "new_id", None)
        if callable(new_id) and any(getattr(i, "id", None) == "" for i in items):
            # Ids are reserved here, off the event loop: each costs the store a locked write.
            items = await asyncio.get_running_loop().run_in_executor(
                None, _with_ids, new_id, items)
        many = getattr(owner, f"{getattr(write, '__name__', '')}_many", None)
        if callable(many):
            await asyncio.get_running_loop().run_in_executor(None, many, items)
        else:
            await asyncio.get_running_loop().run_in_executor(None, _each, write, items)
        return [None] * len(items)

    async def settle(self, customer_id: str) -> None:
        """Wait for this customer's store writes; the first failure is raised."""
        futures = self._records.pop(customer_id, [])
        if futures:
            await asyncio.gather(*futures)

    async def drain(self) -> None:
        await asyncio.gather(self.imports.drain(), self.reads.drain(), self.subscribes.drain(),
                             self.unsubscribes.drain(), self.lists.drain())
        await self.stores.drain()
        await asyncio.gather(*(f for fs in self._records.values() for f in fs))
        self._records.clear()

    @property
    def requests(self) -> int:
        return sum(c.requests for c in (self.reads, self.subscribes, self.unsubscribes,
                                        self.lists))

    # ---- bulk import -------------------------------------------------------------------

    async def _import(self, key: Hashable, writes: list[Write]) -> list[WriteOutcome]:
        list_ids = sorted(cast(frozenset[str], key))
        outcomes: list[WriteOutcome | None] = [None] * len(writes)
        start = 0
        jobs = []
        for job in import_jobs([w.row() for w in writes], list_ids):
            jobs.append(self._job(list(range(start, start + len(job.profiles))), job, outcomes))
            start += len(job.profiles)
        await asyncio.gather(*jobs)
        await self._find_created(writes, outcomes)
        return [o if o is not None else _local("the import job did not report this profile")
                for o in outcomes]

    async def _job(self, indexes: list[int], job: ImportJob,
                   outcomes: list[WriteOutcome | None]) -> None:
        """Submit one job (rows the API refuses by pointer are failed and the rest resent),
        wait for it, and fail each row named by its import errors."""
        pending = list(indexes)
        job_id: str | None = None
        for _ in range(3):
            try:
                self.jobs += 1
                job_id = await self._klaviyo.submit_import(job)
                break
            except ApiError as exc:
                bad = _row_of(exc.pointer)
                if bad is None or bad >= len(pending):
                    for i in pending:
                        outcomes[i] = exc
                    return
                outcomes[pending.pop(bad)] = exc
                job = job.without(bad)
                if not pending:
                    return
        if job_id is None:
            for i in pending:
                outcomes[i] = outcomes[i] or _local("the import job was refused three times")
            return
        try:
            status, failed = await self._poll(job_id)
            # A job that counts no failure has no import-errors to read (M tier, 150/min).
            errors = await self._klaviyo.import_errors(job_id) if failed != 0 else []
        except ApiError as exc:
            for i in pending:
                outcomes[i] = exc
            return
        for error in errors:
            attributes = error.get("attributes") or {}
            source = attributes.get("source") or {}
            at = _row_of(source.get("pointer") if isinstance(source, dict) else None)
            if at is not None and at < len(pending):
                outcomes[pending[at]] = ApiError(
                    "klaviyo", status=400, code=str(attributes.get("code") or "invalid"),
                    title=attributes.get("title"), detail=attributes.get("detail"),
                    pointer=source.get("pointer"), method="POST",
                    path="/api/profile-bulk-import-jobs")
        if status != "complete":
            for i in pending:
                outcomes[i] = outcomes[i] or _local(f"the import job ended {status}")

    async def _poll(self, job_id: str) -> tuple[str, int | None]:
        """The job's final status and failed count (None when unreadable: errors are read)."""
        scale = self._klaviyo.rate_scale
        delay = POLL_FIRST * scale
        while True:
            job = await self._klaviyo.get_import_job(job_id)
            attributes = job.get("attributes") or {}
            status = str(attributes.get("status") or "queued")
            if status in ("complete", "cancelled"):
                failed = attributes.get("failed_count")
                return status, failed if type(failed) is int else None
            await asyncio.sleep(delay)
            delay = min(delay * 2, POLL_MAX * scale)

    async def _find_created(self, writes: list[Write],
                            outcomes: list[WriteOutcome | None]) -> None:
        """Profile ids for imported rows: given for updates, found by email or phone for
        creates (the job's profiles come back unordered, so identifiers tie them back)."""
        lookups = []
        for i, write in enumerate(writes):
            if outcomes[i] is not None:
                continue
            if write.route is not Route.CREATE and write.profile_id:
                outcomes[i] = Profile(id=write.profile_id, attributes=dict(write.attributes))
                continue
            email = write.attributes.get("email")
            phone = write.attributes.get("phone_number")
            if email:
                lookups.append((i, self.profile("email", str(email))))
            elif phone:
                lookups.append((i, self.profile("phone_number", str(phone))))
            else:
                outcomes[i] = _local("imported without an email or phone to find it by")
        found = await asyncio.gather(*(call for _, call in lookups), return_exceptions=True)
        for (i, _), profile in zip(lookups, found, strict=True):
            if isinstance(profile, ApiError):
                outcomes[i] = profile
            elif isinstance(profile, Profile):
                outcomes[i] = replace(profile, attributes={**profile.attributes,
                                                           **writes[i].attributes})
            elif isinstance(profile, BaseException):
                raise profile
            else:
                outcomes[i] = _local("imported, but Klaviyo has no profile with its email "
                                     "or phone afterwards")

    # ---- the combined requests ---------------------------------------------------------

    async def _read(self, key: Hashable, values: list[str]) -> list[Profile | None]:
        field_name = str(key)
        found = await self._klaviyo.find_profiles(field_name, values)
        index: dict[str, Profile] = {}
        for profile in found:
            own = _identity(profile, field_name)
            if own is not None:
                index.setdefault(own, profile)
        return [index.get(_normal(field_name, value)) for value in values]

    async def _consent(self, key: Hashable, subjects: list[ConsentSubject]) -> list[None]:
        action, list_id, channels = cast(ConsentKey, key)
        run = (self._klaviyo.subscribe if action is ConsentAction.SUBSCRIBE
               else self._klaviyo.unsubscribe)
        await run(subjects, channels=channels, list_id=list_id)
        return [None] * len(subjects)

    async def _members(self, key: Hashable, profile_ids: list[str]) -> list[None]:
        action, list_id = cast(ListKey, key)
        run = (self._klaviyo.add_to_list if action is ListAction.ADD
               else self._klaviyo.remove_from_list)
        await run(list_id, profile_ids)
        return [None] * len(profile_ids)


def _with_ids(new_id: Callable[[], str], items: list[Any]) -> list[Any]:
    return [replace(i, id=new_id()) if getattr(i, "id", None) == "" else i for i in items]


def _each(write: Callable[[Any], None], items: list[Any]) -> None:
    for item in items:
        write(item)


def _row_of(pointer: object) -> int | None:
    match = _ROW.match(pointer) if isinstance(pointer, str) else None
    return int(match.group(1)) if match else None


def _local(detail: str) -> ApiError:
    return ApiError("klaviyo", code="import_incomplete", detail=detail, local=True)


def _normal(field_name: str, value: str) -> str:
    # Klaviyo matches emails without regard to case; ids and E.164 numbers are exact.
    return value.casefold() if field_name == "email" else value


def _identity(profile: Profile, field_name: str) -> str | None:
    if field_name == "id":
        return profile.id
    if field_name == "email":
        return profile.email.casefold() if profile.email else None
    return profile.phone_number
