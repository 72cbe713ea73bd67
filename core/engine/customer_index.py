"""Finding customers by part of an email or name: the local index, how it is fed, and search.

iPaaS.com matches whole values only. Every Customer the engine reads anyway (lookups, batch and
report pages) is written to the index in the background, and a refresh pages through them all;
a search asks iPaaS.com for exact matches and the index for partial ones. An index hit is only a
suggestion: opening it fetches the customer fresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.clients.http import ApiError
from core.clients.ipaas import IpaasClient
from core.model import Customer
from core.store.customers import COUNT_MAX, CustomerIndex, IndexedCustomer, IndexMatches
from core.store.database import StoreError

log = logging.getLogger("core.engine")

# Hits a search shows; the rest is a count.
SEARCH_CAP = 50
# Customers a refresh reads ahead of the index's writes.
BACKLOG = 2000
# Customers written in one transaction, and how long a smaller group waits for more.
GROUP = 500
LINGER = 0.2


@dataclass(frozen=True)
class CustomerHit:
    """One customer a search found, and on what."""

    id: str
    display_name: str
    email_address: str | None
    company: str | None
    matched_on: tuple[str, ...]  # "id", "email", "name", "company"
    exact: bool  # iPaaS.com matched the whole value just now; else the index's suggestion

    @property
    def why(self) -> str:
        """What matched, in the operator's words ("exact email", "name, email")."""
        what = ", ".join(self.matched_on) or "index"
        return f"exact {what}" if self.exact else what


@dataclass(frozen=True)
class IndexStatus:
    """How much the index holds and how fresh it is."""

    customers: int
    refreshed_at: str | None  # the last complete refresh (ISO 8601 UTC)
    building: bool = False  # a refresh is under way
    read: int = 0  # customers the running refresh has read so far


@dataclass(frozen=True)
class CustomerSearch:
    """A search's hits, exact ones first, and how many more there were."""

    query: str
    hits: list[CustomerHit]
    more: int = 0
    more_is_lower_bound: bool = False  # more than `more`: the index stopped counting
    index: IndexStatus | None = None  # None for an id lookup, which never reads the index
    live_error: str | None = None  # iPaaS.com's exact search failed; hits are the index's

    @property
    def total(self) -> int:
        return len(self.hits) + self.more

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "customers": [{"id": h.id, "name": h.display_name, "email": h.email_address,
                           "company": h.company, "matched_on": list(h.matched_on),
                           "exact": h.exact} for h in self.hits],
            "more": self.more, "more_is_lower_bound": self.more_is_lower_bound,
            "index": None if self.index is None else {
                "customers": self.index.customers, "refreshed_at": self.index.refreshed_at,
                "building": self.index.building},
            "live_error": self.live_error,
        }


class IndexFeed:
    """Customers the engine read, written to the index a group at a time off the event loop."""

    def __init__(self, index: CustomerIndex, now: Callable[[], str]) -> None:
        self.index = index
        self._now = now
        self._pending: dict[str, Customer] = {}
        self._writing: asyncio.Task[None] | None = None
        self._noted = 0  # customers noted so far; the first `_written` of them are stored
        self._written = 0
        self._wrote = asyncio.Condition()
        self._hurry = asyncio.Event()  # someone waits: write without lingering

    def note(self, customers: Iterable[Customer]) -> None:
        """Queue customers for the index; never waits and never fails the caller."""
        for customer in customers:
            self._pending[customer.id] = customer
            self._noted += 1
        if self._pending and (self._writing is None or self._writing.done()):
            self._writing = asyncio.get_running_loop().create_task(self._write())

    async def passing(self, customers: AsyncIterator[Customer]) -> AsyncIterator[Customer]:
        """The customers as they come, each noted on its way past."""
        async for customer in customers:
            self.note((customer,))
            if len(self._pending) >= BACKLOG:
                await self.flush()  # a fast listing waits for the disk, holding few in memory
            yield customer

    async def _write(self) -> None:
        # A group waits a moment for company: one transaction of hundreds costs little more
        # than one of a few, and a batch reads customers a page at a time.
        try:
            while self._pending:
                if len(self._pending) < GROUP and not self._hurry.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._hurry.wait(), LINGER)
                noted = self._noted
                group, self._pending = list(self._pending.values()), {}
                try:
                    await asyncio.to_thread(self.index.remember, group, self._now())
                except StoreError as exc:  # the index is a cache: a lost group costs suggestions
                    log.warning("customer index not updated: %s", exc)
                async with self._wrote:
                    self._written = noted
                    self._wrote.notify_all()
        finally:
            self._hurry.clear()
            self._writing = None  # also ends the flushes an error left waiting
            async with self._wrote:
                self._wrote.notify_all()

    async def flush(self) -> None:
        """Wait until the customers noted before this call are written."""
        if self._writing is None:
            return
        target = self._noted
        self._hurry.set()
        async with self._wrote:
            await self._wrote.wait_for(lambda: self._written >= target or self._writing is None
                                       or self._writing.done())


class IndexingIpaas(IpaasClient):
    """The iPaaS.com client, handing every Customer it reads to the customer index."""

    def __init__(self, token: str, system_id: str, *, feed: IndexFeed, **options: Any) -> None:
        super().__init__(token, system_id, **options)
        self.feed = feed

    async def get_customer(self, customer_id: str) -> Customer | None:
        found = await super().get_customer(customer_id)
        if found is not None:
            self.feed.note((found,))
        return found

    async def search_customers(self, *, email: str | None = None,
                               name: str | None = None) -> list[Customer]:
        found = await super().search_customers(email=email, name=name)
        self.feed.note(found)
        return found

    def iter_customers(self) -> AsyncIterator[Customer]:
        return self.feed.passing(super().iter_customers())


@dataclass
class _Refresh:
    read: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    error: BaseException | None = None


class CustomerIndexer:
    """The index, its feed and its refresh, as the engine uses them."""

    def __init__(self, ipaas: IndexingIpaas, now: Callable[[], str]) -> None:
        self.ipaas = ipaas
        self.index = ipaas.feed.index
        self._now = now
        self._refresh: _Refresh | None = None

    async def status(self, *, settle: bool = False) -> IndexStatus:
        """The index's size and age; `settle` first waits for the customers already read."""
        if settle:
            await self.ipaas.feed.flush()
        count, refreshed = await asyncio.to_thread(
            lambda: (self.index.count(), self.index.refreshed_at()))
        running = self._refresh
        return IndexStatus(count, refreshed, building=running is not None,
                           read=running.read if running is not None else 0)

    async def due(self, max_age_hours: float) -> bool:
        """True when no complete refresh is younger than `max_age_hours`."""
        refreshed = await asyncio.to_thread(self.index.refreshed_at)
        if refreshed is None:
            return True
        try:
            age = datetime.fromisoformat(self._now()) - datetime.fromisoformat(refreshed)
        except ValueError:
            return True
        return age >= timedelta(hours=max_age_hours)

    async def refresh(self, on_progress: Callable[[int], None] | None = None) -> IndexStatus:
        """Read every customer into the index and drop those iPaaS.com no longer lists.

        A second call while one runs waits for it instead of paging everything twice.
        """
        running = self._refresh
        if running is not None:
            await running.done.wait()
            if running.error is not None:
                raise running.error
            return await self.status()
        running = self._refresh = _Refresh()
        started = self._now()
        if on_progress is not None:
            on_progress(0)  # under way: a slow first page still shows the index is building
        try:
            async for _ in self.ipaas.iter_customers():
                running.read += 1
                if on_progress is not None:
                    on_progress(running.read)
            await self.ipaas.feed.flush()
            removed = await asyncio.to_thread(self.index.finish_refresh, started, self._now())
            log.info("customer index refreshed: %d read, %d no longer listed", running.read,
                     removed)
        except BaseException as exc:
            running.error = exc
            raise
        finally:
            self._refresh = None
            running.done.set()
        return await self.status()

    async def close(self) -> None:
        """Write what is still queued, then close the index's file."""
        await self.ipaas.feed.flush()
        self.index.close()

    async def search(self, query: str) -> CustomerSearch:
        """Exact matches from iPaaS.com, then the index's partial ones, SEARCH_CAP at most."""
        text = query.strip()
        if not text:
            return CustomerSearch(text, [])
        if text.isdigit():
            found = await self.ipaas.get_customer(text)
            hits = [] if found is None else [_hit(IndexedCustomer.of(found, ""), ("id",), True)]
            return CustomerSearch(text, hits)
        live = (self.ipaas.search_customers(email=text) if "@" in text
                else self.ipaas.search_customers(name=text))
        exact_or_error, partial_or_error = await asyncio.gather(
            live, asyncio.to_thread(self.index.find, text, SEARCH_CAP), return_exceptions=True)
        partial = IndexMatches([], 0)
        if isinstance(partial_or_error, StoreError):
            log.warning("customer index not searched: %s", partial_or_error)
        elif isinstance(partial_or_error, BaseException):
            raise partial_or_error
        else:
            partial = partial_or_error
        exact: list[Customer] = []
        live_error = None
        if isinstance(exact_or_error, ApiError) and partial.customers:
            live_error = str(exact_or_error)  # the index still answers while iPaaS.com is down
        elif isinstance(exact_or_error, BaseException):
            raise exact_or_error
        else:
            exact = exact_or_error
        on = ("email",) if "@" in text else ("name",)
        hits = [_hit(IndexedCustomer.of(c, ""), on, True) for c in exact]
        shown = {h.id for h in hits}
        hits += [_hit(c, None, False, text) for c in partial.customers if c.id not in shown]
        capped = hits[:SEARCH_CAP]
        # Exact matches are in the index too once read, so the larger count is the total.
        return CustomerSearch(text, capped, more=max(partial.total, len(hits)) - len(capped),
                              more_is_lower_bound=partial.total > COUNT_MAX,
                              index=await self.status(), live_error=live_error)


def _hit(customer: IndexedCustomer, matched: tuple[str, ...] | None, exact: bool,
         query: str = "") -> CustomerHit:
    on = matched if matched is not None else customer.matched_on(query)
    return CustomerHit(customer.id, customer.display_name, customer.email_address,
                       customer.company, on, exact)
