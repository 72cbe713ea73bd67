"""Steps 2 and 4 of design §3: the facts a plan needs, through one interface with two ways of
reading them. DirectLookups asks for one customer; SharedLookups joins a batch's reads, 100
identifiers a request. Both read the same facts: the Customer and its link, the linked profile
with consent, the email and phone matches, membership of every list the mapping names, and
pending consent emails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from core.clients.http import ApiError
from core.clients.ipaas import StoredLink, read_link
from core.engine.context import Context, CustomerNotFound, StageFailure, staged
from core.engine.planning import Mapped, map_customer
from core.engine.shared import BatchCalls
from core.mapping import Template
from core.model import Collection, Customer, KlaviyoList, Plan, Profile, Stage
from core.plan import Facts, PlanSettings, plan_mapped

T = TypeVar("T")

# A callback told the design §3 stage the lookups reached, so a failure is logged at it.
StageNote = Callable[[Stage], None]


def _no_note(stage: Stage) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Gathered:
    """One customer's facts, with the mapping the reads needed (the planner reuses it)."""

    facts: Facts
    mapped: Mapped

    def plan(self, template: Template, settings: PlanSettings) -> Plan:
        """plan_customer over these facts, without mapping the customer a second time."""
        if self.facts.linked:
            return plan_mapped(self.facts, None, self.mapped.update, settings)
        return plan_mapped(self.facts, self.mapped.add, None, settings,
                           template.on_match(Collection.ADD))


class Lookups(Protocol):
    """Gathers one customer's facts."""

    async def gather(self, customer_id: str, customer: Customer | None = None, *,
                     resend_consent_email: bool = False,
                     note: StageNote = _no_note) -> Gathered: ...


async def _nothing() -> Profile | None:
    return None


class DirectLookups:
    """One customer's own requests: preview, push, retry and listen."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def gather(self, customer_id: str, customer: Customer | None = None, *,
                     resend_consent_email: bool = False,
                     note: StageNote = _no_note) -> Gathered:
        ctx = self._ctx
        found, stored = await fetch(ctx, customer_id, customer)
        link = stored.profile_id
        note(Stage.MAP)
        mapped = map_customer(ctx, found, link)
        email, phone = mapped.identifiers
        note(Stage.RESOLVE)
        lists = known_lists(ctx)
        named = [klist for klist in lists.values() if klist is not None]
        profiles = asyncio.gather(
            staged(Stage.RESOLVE, ctx.klaviyo.get_profile(link, include_lists=False)
                   if link else _nothing()),
            staged(Stage.RESOLVE, ctx.klaviyo.find_profile_by_email(email)
                   if email else _nothing()),
            staged(Stage.RESOLVE, ctx.klaviyo.find_profile_by_phone(phone)
                   if phone else _nothing()))
        members = asyncio.gather(*(
            _members_of(ctx, klist, self._members(klist.id, email, phone)) for klist in named))
        (linked, by_email, by_phone), found_members = await asyncio.gather(profiles, members)
        facts = Facts(
            customer=found, link=link, linked_profile=linked, email_match=by_email,
            phone_match=by_phone, lists=lists,
            memberships=dict(zip((k.id for k in named), found_members, strict=True)),
            consent_emails=None, now=ctx.now(), resend_consent_email=resend_consent_email,
            deleted_link=stored.deleted)
        pending = ctx.consent_emails.pending(candidates(facts)) if candidates(facts) else {}
        return Gathered(replace(facts, consent_emails=pending), mapped)

    async def _members(self, list_id: str, email: str | None,
                       phone: str | None) -> frozenset[str]:
        if not email and not phone:
            return frozenset()
        return await self._ctx.klaviyo.list_member_ids(
            list_id, emails=[email] if email else [], phone_numbers=[phone] if phone else [])


class SharedLookups:
    """A batch's reads joined across its customers (sync, bulk, report, survey): the same facts.

    A page of customers is gathered as one unit: every read of the page is queued on the
    batch's shared requests at once and their futures awaited in turn, with no task per
    customer or per read.
    """

    def __init__(self, ctx: Context, calls: BatchCalls) -> None:
        self._ctx = ctx
        self._calls = calls

    async def gather(self, customer_id: str, customer: Customer | None = None, *,
                     resend_consent_email: bool = False,
                     note: StageNote = _no_note) -> Gathered:
        [outcome] = await self.gather_page([(customer_id, customer)],
                                           resend_consent_email=resend_consent_email)
        if isinstance(outcome, Unread):
            note(outcome.stage)
            raise outcome.error
        return outcome

    async def gather_page(self, page: Sequence[tuple[str, Customer | None]], *,
                          resend_consent_email: bool = False) -> list[Gathered | Unread]:
        """Each customer's facts, or why they could not be gathered, in page order.

        The reads go in three rounds, each asking only what the earlier ones left open: the
        linked profiles; the email and phone matches (a linked profile with the customer's
        email or phone is that match: Klaviyo holds each on one profile at most); and list
        membership through the identifiers that matched a profile (the phone only when it
        matched another profile than the email). The facts are the preview's; the requests
        are fewer.
        """
        ctx, calls = self._ctx, self._calls
        try:
            # A batch looks its lists up once, not once per page that starts meanwhile.
            await calls.once("lists", lambda: ensure_lists(ctx, ctx.template.list_names()))
        except Exception as exc:
            return [_unread(exc, Stage.RESOLVE)] * len(page)
        outcomes: list[Gathered | Unread | None] = []
        lists = known_lists(ctx)
        named = [klist for klist in lists.values() if klist is not None]
        reads, list_reads = calls.reads, calls.list_reads
        readings: list[_Reading] = []
        for got in await self._fetch(page):
            outcomes.append(got if isinstance(got, Unread) else None)
            if isinstance(got, Unread):
                continue
            try:
                reading = _Reading(len(outcomes) - 1, got[0], got[1],
                                   map_customer(ctx, got[0], got[1].profile_id))
            except Exception as exc:
                outcomes[-1] = Unread(Stage.MAP, exc)
                continue
            if reading.link:
                reading.asked = [reads.enqueue("id", reading.link)]
            readings.append(reading)
        for reading in await _answered(ctx, readings, outcomes):
            reading.linked = reading.answers[0] if reading.link else None
            reading.asked = [
                reads.enqueue(name, value) if value and not _holds(reading.linked, name, value)
                else None for name, value in (("email", reading.email),
                                              ("phone_number", reading.phone))]
        for reading in await _answered(ctx, readings, outcomes):
            by_email, by_phone = reading.answers
            reading.by_email = by_email or _held(reading.linked, "email", reading.email)
            reading.by_phone = by_phone or _held(reading.linked, "phone_number", reading.phone)
            asked = (reading.email if reading.by_email else None,
                     reading.phone if reading.by_phone and (
                         reading.by_email is None or reading.by_phone.id != reading.by_email.id)
                     else None)
            reading.asked = [list_reads.enqueue(klist.id, asked) if any(asked) else None
                             for klist in named]
        read = await _answered(ctx, readings, outcomes, named)
        try:
            pending = await calls.pending(ctx.consent_emails, tuple(
                pid for reading in read for pid in _candidates(
                    reading.linked, reading.by_email, reading.by_phone)))
        except Exception as exc:
            for reading in read:
                outcomes[reading.index] = Unread(Stage.RESOLVE, exc)
            return [outcome for outcome in outcomes if outcome is not None]
        now = ctx.now()
        for reading in read:
            # A membership read answers for the whole call: this customer's members are its
            # matches among them.
            matches = {p.id for p in (reading.by_email, reading.by_phone) if p is not None}
            outcomes[reading.index] = Gathered(Facts(
                customer=reading.customer, link=reading.link, linked_profile=reading.linked,
                email_match=reading.by_email, phone_match=reading.by_phone, lists=lists,
                memberships={klist.id: ids & matches if ids else frozenset()
                             for klist, ids in zip(named, reading.answers, strict=True)},
                consent_emails=pending, now=now, resend_consent_email=resend_consent_email,
                deleted_link=reading.deleted), reading.mapped)
        return [outcome for outcome in outcomes if outcome is not None]

    async def _fetch(self, page: Sequence[tuple[str, Customer | None]]
                     ) -> list[tuple[Customer, StoredLink] | Unread]:
        """Each customer with its link, or why it could not be fetched."""
        ctx = self._ctx
        if self._calls.bulk and all(customer is not None for _, customer in page):
            # A customer from a page carries its external ids: the same link as LookupExternal
            # answers, without a request per customer (which bulk's CPU budget cannot afford).
            return [(customer, page_link(ctx, customer)) for _, customer in page
                    if customer is not None]
        got = await asyncio.gather(*(fetch(ctx, customer_id, customer)
                                     for customer_id, customer in page),
                                   return_exceptions=True)
        return [_fetched(item) for item in got]


@dataclass(frozen=True, slots=True)
class Unread:
    """Why a customer's facts could not be gathered, and the design §3 stage it failed at."""

    stage: Stage
    error: Exception


class _Reading:
    """One customer of a page while its reads are answered, round by round."""

    __slots__ = ("answers", "asked", "by_email", "by_phone", "customer", "deleted", "email",
                 "index", "link", "linked", "mapped", "phone")

    def __init__(self, index: int, customer: Customer, stored: StoredLink,
                 mapped: Mapped) -> None:
        self.index = index
        self.customer = customer
        self.link = stored.profile_id
        self.deleted = stored.deleted
        self.mapped = mapped
        self.email, self.phone = mapped.identifiers
        self.asked: list[asyncio.Future[Any] | None] = []
        self.answers: list[Any] = []
        self.linked: Profile | None = None
        self.by_email: Profile | None = None
        self.by_phone: Profile | None = None


async def _answered(ctx: Context, readings: list[_Reading],
                    outcomes: list[Gathered | Unread | None],
                    named: Sequence[KlaviyoList] = ()) -> list[_Reading]:
    """The readings whose asked reads all answered (in `answers`); the others are failed at the
    resolve stage, dropped from `readings` and set in `outcomes`. `named`: the lists the
    reads asked about, in order (membership reads), else profile reads."""
    kept = []
    for reading in readings:
        try:
            reading.answers = [await _read(ctx, named[i] if named else None, future)
                               for i, future in enumerate(reading.asked)]
        except Exception as exc:
            for future in reading.asked:
                if future is not None:
                    future.add_done_callback(_retrieved)  # one failure is reported, not all
            outcomes[reading.index] = Unread(Stage.RESOLVE, exc)
            continue
        kept.append(reading)
    readings[:] = kept
    return kept


def _holds(profile: Profile | None, field_name: str, value: str) -> bool:
    """Whether this profile has this email (any case) or phone number."""
    if profile is None:
        return False
    own = profile.email if field_name == "email" else profile.phone_number
    if own is None:
        return False
    return own.casefold() == value.casefold() if field_name == "email" else own == value


def _held(profile: Profile | None, field_name: str, value: str | None) -> Profile | None:
    return profile if value and _holds(profile, field_name, value) else None


def _unread(error: Exception, stage: Stage) -> Unread:
    return Unread(error.stage if isinstance(error, StageFailure) else stage, error)


def _fetched(item: tuple[Customer, StoredLink] | BaseException
             ) -> tuple[Customer, StoredLink] | Unread:
    if isinstance(item, Exception):
        return _unread(item, Stage.FETCH)
    if isinstance(item, BaseException):
        raise item
    return item


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


async def _read(ctx: Context, klist: KlaviyoList | None,
                future: asyncio.Future[T] | None) -> T | None:
    """A queued shared read's answer; a failure is raised at the resolve stage (a list that is
    gone from Klaviyo is dropped from the caches first)."""
    if future is None:
        return None
    try:
        return await future
    except ApiError as exc:
        if klist is not None and exc.status == 404:
            forget_list(ctx, klist.name)
        raise StageFailure(Stage.RESOLVE, exc) from exc


async def fetch(ctx: Context, customer_id: str, customer: Customer | None = None
                ) -> tuple[Customer, StoredLink]:
    """Round trip 1: the Customer, its stored link and the template's uncached lists, together."""
    names = ctx.template.list_names()
    if customer is not None:
        given = await asyncio.gather(
            staged(Stage.FETCH, ctx.ipaas.lookup_stored_link(customer_id)),
            ensure_lists(ctx, names), return_exceptions=True)
        _raise_first(given)
        return customer, _as_link(given[0])
    got = await asyncio.gather(
        staged(Stage.FETCH, ctx.ipaas.get_customer(customer_id)),
        staged(Stage.FETCH, ctx.ipaas.lookup_stored_link(customer_id)),
        ensure_lists(ctx, names), return_exceptions=True)
    _raise_first(got)
    found = got[0]
    if found is None:
        raise CustomerNotFound(customer_id)
    if not isinstance(found, Customer):
        raise TypeError(f"iPaaS.com client returned {type(found).__name__} for a customer")
    return found, _as_link(got[1])


def known_lists(ctx: Context) -> dict[str, KlaviyoList | None]:
    """Every list the template names (both collections), as the cache knows it."""
    return {name: ctx.lists.get(name) for name in dict.fromkeys(ctx.template.list_names())}


def candidates(facts: Facts) -> tuple[str, ...]:
    """Ids of the profiles the customer may land on, linked first, without repeats."""
    return _candidates(facts.linked_profile, facts.email_match, facts.phone_match)


def _candidates(*found: Profile | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p.id for p in found if p is not None))


def page_link(ctx: Context, customer: Customer) -> StoredLink:
    """The link a Customer read from iPaaS.com carries among its external ids."""
    system = ctx.ipaas.system_id
    for item in customer.external_ids:
        if str(item.system_id) == system:
            return read_link(item.external_id)
    return StoredLink()


def _raise_first(outcomes: Sequence[object]) -> None:
    """Raise the first failure in call order (the customer's before the lists')."""
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


def _as_link(value: object) -> StoredLink:
    return value if isinstance(value, StoredLink) else StoredLink()


async def ensure_lists(ctx: Context, names: Iterable[str]) -> None:
    """Look up, together, every named list not in the cache; lists not in Klaviyo stay uncached."""
    wanted = [name for name in dict.fromkeys(names) if ctx.lists.get(name) is None]
    if not wanted:
        return
    found = await asyncio.gather(
        *(staged(Stage.RESOLVE, ctx.klaviyo.find_list_by_name(name)) for name in wanted))
    for item in found:
        if item is not None:
            ctx.lists.put(item)


def forget_list(ctx: Context, name: str) -> None:
    """Drop a list whose cached id went stale from both caches, so the next plan looks it up."""
    ctx.lists.forget(name)
    ctx.klaviyo.forget_list(name)


async def _members_of(ctx: Context, klist: KlaviyoList,
                      read: Awaitable[frozenset[str]]) -> frozenset[str]:
    """Ids of the list's members among the customer's identifiers (L tier, any() filter)."""
    try:
        return await read
    except ApiError as exc:
        if exc.status == 404:
            forget_list(ctx, klist.name)
        raise StageFailure(Stage.RESOLVE, exc) from exc
