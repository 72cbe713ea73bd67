"""The requests a batch shares across its customers: coalesced reads, consent jobs, list calls
and store writes, and (with --bulk) profile writes as import jobs.

A subscribe job takes 1000 profiles, an unsubscribe job 100, a list call 1000, a profile read
with an any() filter 100: each customer submits its share and awaits its own outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from dataclasses import replace
from typing import Any, cast

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
    KlaviyoClient,
)
from core.clients.klaviyo_endpoints import LIST_MEMBER_IDS
from core.engine.coalescer import LINGER, Coalescer
from core.engine.import_jobs import IMPORT_IDLE, IMPORT_LINGER, ImportJobs, Write, WriteOutcome
from core.model import Channel, ConsentAction, ErrorStatus, ListAction, Profile
from core.store import ConsentEmails
from core.store.consent_emails import PendingKey

log = logging.getLogger("core.engine")

# Store writes of a batch go to disk in groups: one worker-thread call (and, with add_many,
# one fsync per segment) for up to this many entries.
STORE_GROUP = 512
CUSTOMER_CALLS = 8
STORE_LINGER = 0.02
# A filled read waits at most this long for its 100th identifier, and goes out sooner once no
# identifier joined for FILL_IDLE seconds.
FILL_LINGER = 2.0
FILL_IDLE = 0.2


ConsentKey = tuple[ConsentAction, str | None, frozenset[Channel]]
ListKey = tuple[ListAction, str]


class BatchCalls:
    """The coalesced Klaviyo calls one batch shares across its customers."""

    def __init__(self, klaviyo: KlaviyoClient, *, linger: float = LINGER,
                 bulk: bool = False, fill: bool = False) -> None:
        self._klaviyo = klaviyo
        self.bulk = bulk
        # With `fill` (nothing waits on a write: a bulk sync, a report, a survey), a read goes
        # out with 100 identifiers, or once the source stops giving more (see Coalescer idle).
        read_linger, read_idle = (FILL_LINGER, FILL_IDLE) if fill and linger else (linger, None)
        self._import_jobs = ImportJobs(klaviyo, self.profile)
        self.imports: Coalescer[Write, WriteOutcome] = Coalescer(
            self._import_jobs.run, size=IMPORT_BATCH, linger=IMPORT_LINGER if linger else 0.0,
            idle=IMPORT_IDLE if linger else None)
        self._records: dict[str, list[asyncio.Future[None]]] = {}
        # Each shared call waits for room in its bucket before it is sealed (see Coalescer).
        self.reads: Coalescer[str, Profile | None] = Coalescer(
            self._read, size=PAGE_MAX, linger=read_linger, idle=read_idle,
            ready=self._room(lambda _: GET_PROFILES))
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
        # Which profiles holding many customers' identifiers a list has: 100 of each a
        # request, L tier.
        self.list_reads: Coalescer[tuple[str | None, str | None], frozenset[str]] = Coalescer(
            self._list_member_ids, size=PAGE_MAX, linger=read_linger, idle=read_idle,
            ready=self._room(lambda _: LIST_MEMBER_IDS))
        # Pending consent emails of many customers' profiles: one store query a group.
        self.consent_reads: Coalescer[tuple[Any, tuple[str, ...]], Mapping[PendingKey, str]] = (
            Coalescer(self._pending, size=STORE_GROUP, linger=STORE_LINGER if linger else 0.0))
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

    # ---- what the flow calls -----------------------------------------------------------

    async def profile(self, field_name: str, value: str) -> Profile | None:
        """The profile whose id, email or phone_number is this value, with consent."""
        return await self.reads.submit(field_name, value)

    async def pending(self, store: ConsentEmails,
                      profile_ids: tuple[str, ...]) -> dict[PendingKey, str]:
        """Pending consent emails of these profiles, read with other customers' in one query."""
        if not profile_ids:
            return {}
        return dict(await self.consent_reads.submit("pending", (store, profile_ids)))

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
        future = self.stores.enqueue(write, item)
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

    async def settle(self, customer_ids: Iterable[str]) -> None:
        """Wait for these customers' store writes; the first failure is raised."""
        futures = [f for customer_id in customer_ids
                   for f in self._records.pop(customer_id, ())]
        if futures:
            await asyncio.gather(*futures)

    async def drain(self) -> None:
        await asyncio.gather(self.imports.drain(), self.reads.drain(), self.list_reads.drain(),
                             self.consent_reads.drain(), self.subscribes.drain(),
                             self.unsubscribes.drain(), self.lists.drain())
        await self.stores.drain()
        await asyncio.gather(*(f for fs in self._records.values() for f in fs))
        self._records.clear()

    @property
    def jobs(self) -> int:
        """Import jobs submitted so far (refused submits included)."""
        return self._import_jobs.jobs

    @property
    def requests(self) -> int:
        return sum(c.requests for c in (self.reads, self.list_reads, self.subscribes,
                                        self.unsubscribes, self.lists))

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

    async def _list_member_ids(self, key: Hashable, asked: list[tuple[str | None, str | None]]
                               ) -> list[frozenset[str]]:
        found = await self._klaviyo.list_member_ids(
            str(key), emails=[e for e, _ in asked if e], phone_numbers=[p for _, p in asked if p])
        # Each customer gets the call's whole answer and keeps the ids of its own matches.
        return [found] * len(asked)

    async def _pending(self, key: Hashable, asked: list[tuple[Any, tuple[str, ...]]]
                       ) -> list[Mapping[PendingKey, str]]:
        store = cast(ConsentEmails, asked[0][0])
        ids = [pid for _, group in asked for pid in group]
        found = await asyncio.get_running_loop().run_in_executor(None, store.pending, ids)
        return [{k: v for k, v in found.items() if k[0] in group} for _, group in asked]

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


def _normal(field_name: str, value: str) -> str:
    # Klaviyo matches emails without regard to case; ids and E.164 numbers are exact.
    return value.casefold() if field_name == "email" else value


def _identity(profile: Profile, field_name: str) -> str | None:
    if field_name == "id":
        return profile.id
    if field_name == "email":
        return profile.email.casefold() if profile.email else None
    return profile.phone_number
