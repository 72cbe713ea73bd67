"""One customer through design §3: fetch, resolve, plan (preview); write, consent, lists, link."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from core.clients.http import ApiError
from core.clients.ipaas import IpaasClient, parse_link
from core.clients.klaviyo import ConsentSubject, KlaviyoClient
from core.engine import records
from core.engine.bulk import BatchCalls, Write
from core.mapping import Template, apply
from core.model import (
    JSON,
    Channel,
    Collection,
    ConsentAction,
    ConsentChange,
    Customer,
    CustomerDataError,
    ErrorKind,
    ErrorRecord,
    HistoryEntry,
    KlaviyoList,
    ListAction,
    MappedProfile,
    OptIn,
    Plan,
    Profile,
    Route,
    Stage,
)
from core.plan import PlanSettings, Resolution, plan_conflict, plan_from_mapped
from core.store import ErrorLog, History, KeyValue

log = logging.getLogger("core.engine")

T = TypeVar("T")

# A list's id and opt-in process change rarely; a cached name saves a round trip per preview.
LIST_CACHE_TTL = 15 * 60.0
TRIGGERS_THAT_LOG_HOLDS = frozenset({"batch", "listen", "retry", "sync"})


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

    def to_json(self) -> JSON:
        body = self.plan.to_json()
        body["ok"] = self.ok
        body["profile_id"] = self.profile_id if self.profile_id else body["profile_id"]
        body["held"] = self.held
        body["error"] = self.error.to_json() if self.error else None
        return body


class ListCache:
    """List names -> lists, kept in memory and in the state dir; misses are never cached."""

    def __init__(self, store: KeyValue | None, clock: Any = time.time) -> None:
        self._store = store
        self._clock = clock
        self._memory: dict[str, KlaviyoList] = {}
        self._loaded = False

    def get(self, name: str) -> KlaviyoList | None:
        self._load()
        return self._memory.get(name)

    def put(self, found: KlaviyoList) -> None:
        self._load()
        self._memory[found.name] = found
        self._save()

    def forget(self, name: str) -> None:
        self._load()
        if self._memory.pop(name, None) is not None:
            self._save()

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if self._store is None:
            return
        raw = self._store.get("lists", None)
        if not isinstance(raw, Mapping):
            return
        fresh_after = self._clock() - LIST_CACHE_TTL
        for name, item in raw.items():
            try:
                if float(item["at"]) >= fresh_after:
                    self._memory[str(name)] = KlaviyoList(
                        id=str(item["id"]), name=str(name), opt_in_process=OptIn(item["opt_in"])
                    )
            except (KeyError, TypeError, ValueError):
                continue

    def _save(self) -> None:
        if self._store is None:
            return
        stamp = self._clock()
        self._store.set(
            "lists",
            {
                name: {"id": item.id, "opt_in": item.opt_in_process.value, "at": stamp}
                for name, item in self._memory.items()
            },
        )


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
    secrets: tuple[str, ...] = ()
    # When records are stamped: the wall clock, or a fixed one for repeatable runs.
    now: Callable[[], str] = records.now_iso
    # Set for a batch: reads, consent jobs and list calls are shared across its customers.
    calls: BatchCalls | None = None


# ------------------------------------------------------------------------------------------
# Steps 1-5: preview
# ------------------------------------------------------------------------------------------


async def _staged(stage: Stage, call: Awaitable[T]) -> T:
    try:
        return await call
    except ApiError as exc:
        raise StageFailure(stage, exc) from exc


class Mapped:
    """A customer through the mapping: the collection its link selects (Update when linked, Add
    otherwise) is mapped at once, the other only when something asks for it (a stale link)."""

    __slots__ = ("_add", "_link", "_region", "_template", "_update", "customer")

    def __init__(self, customer: Customer, template: Template, region: str, link: str | None,
                 *, add: MappedProfile | None = None,
                 update: MappedProfile | None = None) -> None:
        self.customer = customer
        self._template = template
        self._region = region
        self._link = link
        self._add = add
        self._update = update

    @property
    def add(self) -> MappedProfile:
        """The Add collection's mapping (unlinked customers, and matching)."""
        if self._add is None:
            self._add = apply(self.customer, self._template, Collection.ADD, link=None,
                              default_region=self._region)
        return self._add

    @property
    def update(self) -> MappedProfile:
        """The Update collection's mapping (linked customers)."""
        if self._update is None:
            self._update = apply(self.customer, self._template, Collection.UPDATE,
                                 link=self._link, default_region=self._region)
        return self._update

    @property
    def needed(self) -> MappedProfile:
        """The mapping the link selects: Update when linked, Add otherwise."""
        return self.update if self._link else self.add

    def _identifiers_of(self, collection: Collection) -> tuple[str | None, str | None]:
        # Both collections give the same email and phone when the template maps them by the
        # same rows: the mapping already made answers, and the other is not built for it.
        mapped = self._add if collection is Collection.ADD else self._update
        if mapped is None and self._template.identifiers_agree:
            mapped = self._add or self._update
        if mapped is None:
            mapped = self.add if collection is Collection.ADD else self.update
        email = mapped.attributes.get("email")
        phone = mapped.attributes.get("phone_number")
        return (str(email) if email else None, str(phone) if phone else None)

    @property
    def identifiers(self) -> tuple[str | None, str | None]:
        """The email and E.164 phone an unlinked customer is matched by (the Add collection's)."""
        return self._identifiers_of(Collection.ADD)

    @property
    def list_names(self) -> list[str]:
        """Every list the needed collection names, in mapping order."""
        return list(dict.fromkeys(intent.list_name for intent in self.needed.list_intents))

    def probe(self) -> tuple[str | None, str | None]:
        """The email (else phone) a list-side membership check filters by."""
        first, second = ((Collection.UPDATE, Collection.ADD) if self._link
                         else (Collection.ADD, Collection.UPDATE))
        for channel in (0, 1):
            for collection in (first, second):
                value = self._identifiers_of(collection)[channel]
                if value:
                    return (value, None) if channel == 0 else (None, value)
        return None, None


def map_customer(ctx: Context, customer: Customer, link: str | None) -> Mapped:
    """Step 3 (pure) for the collection the link selects; the other is mapped on demand."""
    mapped = Mapped(customer, ctx.template, ctx.settings.default_region, link)
    mapped.needed  # noqa: B018 - the mapping is step 3: a bad Customer fails here, at Stage.MAP
    return mapped


def map_needed(ctx: Context, customer: Customer, link: str | None) -> Mapped:
    """Only the collection a bulk upsert uses (it reads no target, so the link decides):
    Update when linked, Add otherwise; both slots hold it."""
    collection = Collection.UPDATE if link else Collection.ADD
    one = apply(customer, ctx.template, collection, link=link,
                default_region=ctx.settings.default_region)
    return Mapped(customer, ctx.template, ctx.settings.default_region, link, add=one, update=one)


def plan_of(ctx: Context, mapped: Mapped, resolution: Resolution) -> Plan:
    """Step 5: the pure plan from the mapping and what the lookups found."""
    if resolution.linked:
        return plan_from_mapped(None, mapped.update, resolution, ctx.settings)
    return plan_from_mapped(mapped.add, None, resolution, ctx.settings,
                            on_match=ctx.template.on_match(Collection.ADD))


async def fetch(ctx: Context, customer_id: str, customer: Customer | None = None
                ) -> tuple[Customer, str | None]:
    """Round trip 1: the Customer, its stored link and the template's uncached lists, together."""
    names = ctx.template.list_names()
    if ctx.calls is not None:
        # A batch looks its lists up once, not once per customer that starts meanwhile.
        await ctx.calls.once("lists", lambda: ensure_lists(ctx, names))
        if ctx.calls.bulk:
            await ctx.calls.ready(sms_consent=ctx.settings.sms_consent)
    if customer is not None and ctx.calls is not None and ctx.calls.upsert:
        # A bulk upsert trusts the page's external ids: a link missed here only means the
        # import upserts by identifiers instead of by id, and the link is stored afterwards.
        return customer, _page_link(ctx, customer)
    if customer is not None:
        given = await asyncio.gather(
            _staged(Stage.FETCH, ctx.ipaas.lookup_link(customer_id)),
            ensure_lists(ctx, names), return_exceptions=True)
        _raise_first(given)
        return customer, _as_link(given[0])
    got = await asyncio.gather(
        _staged(Stage.FETCH, ctx.ipaas.get_customer(customer_id)),
        _staged(Stage.FETCH, ctx.ipaas.lookup_link(customer_id)),
        ensure_lists(ctx, names), return_exceptions=True)
    _raise_first(got)
    found = got[0]
    if found is None:
        raise CustomerNotFound(customer_id)
    if not isinstance(found, Customer):
        raise TypeError(f"iPaaS.com client returned {type(found).__name__} for a customer")
    return found, _as_link(got[1])


def _raise_first(outcomes: Sequence[object]) -> None:
    """Raise the first failure in call order (the customer's before the lists')."""
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


def _as_link(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _page_link(ctx: Context, customer: Customer) -> str | None:
    system = ctx.ipaas.system_id
    for item in customer.external_ids:
        if str(item.system_id) == system:
            return parse_link(item.external_id)
    return None


async def ensure_lists(ctx: Context, names: Iterable[str]) -> None:
    """Look up, together, every named list not in the cache; lists not in Klaviyo stay uncached."""
    wanted = [name for name in dict.fromkeys(names) if ctx.lists.get(name) is None]
    if not wanted:
        return
    found = await asyncio.gather(
        *(_staged(Stage.RESOLVE, ctx.klaviyo.find_list_by_name(name)) for name in wanted))
    for item in found:
        if item is not None:
            ctx.lists.put(item)


def _with_lists(profile: Profile | None, probe: tuple[str | None, str | None],
                members: Mapping[str, frozenset[str]]) -> Profile | None:
    """The profile with the named lists it belongs to, when the check was about this profile."""
    if profile is None or not members:
        return profile
    email, phone = probe
    if email is not None:
        same = profile.email is not None and profile.email.casefold() == email.casefold()
    else:
        same = phone is not None and profile.phone_number == phone
    if not same:
        return profile  # the check filtered by another identity: membership stays unknown
    return replace(profile, list_ids=frozenset(
        list_id for list_id, ids in members.items() if profile.id in ids))


async def resolve(ctx: Context, mapped: Mapped, link: str | None, *,
                  interactive: bool = True) -> Resolution:
    """Round trip 2: the linked profile, email and phone matches and list membership, together.

    Membership is checked list-side (GET /api/lists/{id}/relationships/profiles filtered by
    the customer's email or phone, L tier) rather than with include=lists on the profile read
    (1/s, 15/m). With `interactive` off (batches), a linked customer skips the matches and the
    membership checks to spare rate limit; a stale link then costs one more round trip.
    """
    names = mapped.list_names
    await ensure_lists(ctx, names)  # normally done in round 1: a no-op from the cache
    known = {name: ctx.lists.get(name) for name in names}
    calls = ctx.calls
    if not interactive and calls is not None and calls.opted_out is not None and calls.bulk:
        # Bulk upsert: no target is read; its consent is unknown unless it opted out.
        if link is None:
            return Resolution(link=None, lists=known)
        target = Profile(id=link, subscriptions=calls.opted_out.consent(
            link, mapped.update.attributes.get("email")))
        return Resolution(link=link, linked_profile=target, lists=known)
    probe = mapped.probe()

    async def nothing() -> Profile | None:
        return None

    do_match = interactive or link is None
    shared = ctx.calls if not interactive else None

    def by_email() -> Awaitable[Profile | None]:
        email = mapped.identifiers[0]
        if not email:
            return nothing()
        if shared is not None:
            return shared.profile("email", email)
        return ctx.klaviyo.find_profile_by_email(email)

    def by_phone() -> Awaitable[Profile | None]:
        phone = mapped.identifiers[1]
        if not phone:
            return nothing()
        if shared is not None:
            return shared.profile("phone_number", phone)
        return ctx.klaviyo.find_profile_by_phone(phone)

    if link:
        linked_call = (shared.profile("id", link) if shared is not None
                       else ctx.klaviyo.get_profile(link, include_lists=False))
    else:
        linked_call = nothing()
    email_call = by_email() if do_match else nothing()
    phone_call = by_phone() if do_match else nothing()
    checked = [klist for klist in known.values() if klist is not None]
    if not interactive or probe == (None, None):
        checked = []
    profiles = asyncio.gather(
        _staged(Stage.RESOLVE, linked_call),
        _staged(Stage.RESOLVE, email_call),
        _staged(Stage.RESOLVE, phone_call),
    )
    checks = asyncio.gather(*(
        _list_check(ctx, klist, probe) for klist in checked))
    (linked, email_match, phone_match), found = await asyncio.gather(profiles, checks)
    members = {klist.id: ids for klist, ids in zip(checked, found, strict=True)}
    if link and linked is None:
        # A stale link: the Add collection applies after all, so it is mapped only now. The
        # matches a batch skipped, and the membership of lists only the Add collection names,
        # are read together in one more round trip.
        extra = [name for name in dict.fromkeys(
            intent.list_name for intent in mapped.add.list_intents) if name not in known]
        await ensure_lists(ctx, extra)  # normally a no-op from the cache
        known.update({name: ctx.lists.get(name) for name in extra})
        more = [klist for name in extra if (klist := known[name]) is not None]
        if not interactive or probe == (None, None):
            more = []
        if not do_match or more:
            (email_again, phone_again), found_more = await asyncio.gather(
                asyncio.gather(
                    _staged(Stage.RESOLVE, nothing() if do_match else by_email()),
                    _staged(Stage.RESOLVE, nothing() if do_match else by_phone())),
                asyncio.gather(*(_list_check(ctx, klist, probe) for klist in more)))
            if not do_match:
                email_match, phone_match = email_again, phone_again
            members.update(zip((klist.id for klist in more), found_more, strict=True))
    return Resolution(
        link=link,
        linked_profile=_with_lists(linked, probe, members),
        email_match=_with_lists(email_match, probe, members),
        phone_match=_with_lists(phone_match, probe, members),
        lists=known,
    )


def forget_list(ctx: Context, name: str) -> None:
    """Drop a list whose cached id went stale from both caches, so the next plan looks it up."""
    ctx.lists.forget(name)
    ctx.klaviyo.forget_list(name)


async def _list_check(ctx: Context, klist: KlaviyoList,
                      probe: tuple[str | None, str | None]) -> frozenset[str]:
    try:
        return await ctx.klaviyo.list_member_ids(klist.id, email=probe[0],
                                                 phone_number=probe[1])
    except ApiError as exc:
        if exc.status == 404:
            forget_list(ctx, klist.name)
        raise StageFailure(Stage.RESOLVE, exc) from exc


async def preview(ctx: Context, customer_id: str, *, customer: Customer | None = None,
                  interactive: bool = True) -> Plan:
    """Design §3 steps 1-5: what a push would do, with nothing written anywhere."""
    return await _plan(ctx, customer_id, customer, interactive, _Progress(), may_upsert=False)


class _Progress:
    """The design §3 step a plan has reached, so a failure is recorded at its stage."""

    __slots__ = ("stage",)

    def __init__(self) -> None:
        self.stage = Stage.FETCH


async def _plan(ctx: Context, customer_id: str, customer: Customer | None, interactive: bool,
                progress: _Progress, *, may_upsert: bool) -> Plan:
    """Steps 1-5; for a bulk push (`may_upsert`) whose batch upserts, only the collection the
    link selects is mapped, since the import reads no target."""
    found, link = await fetch(ctx, customer_id, customer)
    progress.stage = Stage.MAP
    # Asked only now: whether the batch upserts is settled while fetch waits for it to be ready.
    upsert = ctx.calls if may_upsert and ctx.calls is not None and ctx.calls.upsert else None
    mapped = (map_needed if upsert is not None else map_customer)(ctx, found, link)
    progress.stage = Stage.RESOLVE
    resolution = await resolve(ctx, mapped, link, interactive=interactive)
    progress.stage = Stage.PLAN
    plan = plan_of(ctx, mapped, resolution)
    if upsert is not None:
        plan = upsert.upsert_plan(plan, mapped.add, resolution.lists, ctx.settings)
    return plan


# ------------------------------------------------------------------------------------------
# Steps 6-7: push
# ------------------------------------------------------------------------------------------


def blank_plan(customer_id: str, reason: str) -> Plan:
    """A stand-in plan for a push that failed before a plan existed."""
    return Plan(customer_id=customer_id, route=Route.BLOCKED, reason=reason)


async def push(ctx: Context, customer_id: str, *, confirmed: bool = False,
               trigger: str = "manual", customer: Customer | None = None,
               interactive: bool = True) -> PushResult:
    """Design §3 steps 1-7 on a fresh plan; every outcome is recorded, nothing is raised."""
    result = await _push(ctx, customer_id, confirmed=confirmed, trigger=trigger,
                         customer=customer, interactive=interactive)
    if ctx.calls is not None:
        await ctx.calls.settle(customer_id)  # its history entry is on disk when this returns
    return result


async def _push(ctx: Context, customer_id: str, *, confirmed: bool, trigger: str,
                customer: Customer | None, interactive: bool) -> PushResult:
    plan: Plan | None = None
    progress = _Progress()
    try:
        try:
            plan = await _plan(ctx, customer_id, customer, interactive, progress,
                               may_upsert=not interactive)
        except CustomerNotFound as exc:
            return _fail(ctx, blank_plan(customer_id, str(exc)), records.simple(
                ErrorKind.NOT_FOUND, Stage.FETCH, str(exc), record_id=ctx.errors.new_id(),
                customer_id=customer_id), trigger)
        except CustomerDataError as exc:
            return _fail(ctx, blank_plan(customer_id, str(exc)), records.simple(
                ErrorKind.VALIDATION, progress.stage, str(exc), record_id=ctx.errors.new_id(),
                customer_id=customer_id, secrets=ctx.secrets), trigger)
        if plan.blocked:
            return _fail(ctx, plan, records.from_plan(plan, record_id=ctx.errors.new_id(),
                                                       secrets=ctx.secrets), trigger)
        held = _hold(ctx, plan, confirmed, trigger)
        if held is not None:
            return held
        return await _execute(ctx, plan, confirmed=confirmed, trigger=trigger)
    except StageFailure as failure:
        current = plan or blank_plan(customer_id, str(failure.error))
        record = records.from_api_error(
            failure.error, record_id=ctx.errors.new_id(), customer_id=customer_id,
            stage=failure.stage, route=current.route if plan else None,
            profile_id=current.profile_id, secrets=ctx.secrets)
        return _fail(ctx, current, record, trigger)
    except asyncio.CancelledError:
        # A hard stop mid-push: log it so the customer is never silently half-done.
        current = plan or blank_plan(customer_id, "interrupted")
        _fail(ctx, current, records.simple(
            ErrorKind.INTERNAL, progress.stage,
            f"push interrupted during {progress.stage.value}",
            record_id=ctx.errors.new_id(), customer_id=customer_id, route=current.route,
            profile_id=current.profile_id), trigger)
        raise
    except Exception as exc:
        log.exception("push of customer %s failed unexpectedly", customer_id)
        current = plan or blank_plan(customer_id, "internal error")
        return _fail(ctx, current, records.simple(
            ErrorKind.INTERNAL, progress.stage, f"internal error: {type(exc).__name__}: {exc}",
            record_id=ctx.errors.new_id(), customer_id=customer_id, route=current.route,
            profile_id=current.profile_id, secrets=ctx.secrets), trigger)


def _hold(ctx: Context, plan: Plan, confirmed: bool, trigger: str) -> PushResult | None:
    guarded = plan.guarded_consent
    if not guarded or confirmed:
        return None
    if trigger not in TRIGGERS_THAT_LOG_HOLDS:
        # A manual push that is held asks the operator; nothing failed, nothing is logged.
        return PushResult(plan=plan, ok=False, profile_id=plan.profile_id, held=True)
    notes = "; ".join(c.note or _describe_consent(c) for c in guarded)
    record = records.simple(
        ErrorKind.CONSENT_GUARD, Stage.PLAN, f"held by the consent guard: {notes}",
        record_id=ctx.errors.new_id(), customer_id=plan.customer_id, route=plan.route,
        profile_id=plan.profile_id, secrets=ctx.secrets)
    result = _fail(ctx, plan, record, trigger)
    return PushResult(plan=plan, ok=False, profile_id=plan.profile_id, error=result.error,
                      held=True)


def _describe_consent(change: ConsentChange) -> str:
    where = f" on list {change.list_name}" if change.list_name else ""
    extra = " (sends a double opt-in consent email)" if change.double_opt_in else ""
    return f"{change.action.value} {change.channel.value}{where}{extra}"


async def _execute(ctx: Context, plan: Plan, *, confirmed: bool, trigger: str) -> PushResult:
    before = plan.current
    try:
        profile = await _write(ctx, plan)
    except StageFailure as failure:
        duplicate = failure.error.duplicate_profile_id
        if plan.route is not Route.CREATE or failure.error.status != 409 or not duplicate:
            raise
        # Someone created the profile between our match and our POST: link to it instead.
        existing = await _staged(Stage.WRITE, ctx.klaviyo.get_profile(duplicate))
        plan = plan_conflict(plan, existing or Profile(id=duplicate))
        before = plan.current
        held = _hold(ctx, plan, confirmed, trigger)
        if held is not None:
            return held
        profile = await _write(ctx, plan)
    profile_id = profile.id if profile is not None else plan.profile_id
    if profile_id is None:
        raise RuntimeError("the write returned no profile id")
    after = profile.attributes if profile is not None else before

    # Only the steps with work to do: each one gathered costs a task per customer.
    steps: list[Awaitable[None]] = []
    if plan.consent:
        steps.append(_consent_jobs(ctx, plan, profile_id))
    if plan.lists:
        steps.append(_list_calls(ctx, plan, profile_id))
    if not (plan.route is Route.UPDATE and plan.profile_id == profile_id):
        steps.append(_store_link(ctx, plan, profile_id))
    outcomes = await asyncio.gather(*steps, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, StageFailure):
            raise outcome
    failures = [o for o in outcomes if isinstance(o, StageFailure)]
    if failures:
        first = failures[0]
        record = records.from_api_error(
            first.error, record_id=ctx.errors.new_id(), customer_id=plan.customer_id,
            stage=first.stage, route=plan.route, profile_id=profile_id, secrets=ctx.secrets)
        if len(failures) > 1:
            others = "; ".join(f"{f.stage.value}: {f.error}" for f in failures[1:])
            record = _with_message(record, f"{record.message} (also failed: {others})", ctx)
        result = _fail(ctx, plan, record, trigger, profile_id=profile_id, after=after)
        return PushResult(plan=plan, ok=False, profile_id=profile_id, error=result.error)

    dropped = profile.partial_failure if profile is not None else ()
    if "phone_number" in dropped:
        sent = (_attributes(plan.payload) or {}).get("phone_number")
        record = records.simple(
            ErrorKind.PHONE_REJECTED, Stage.WRITE,
            f"Klaviyo rejected the phone number {sent} and saved the profile without it",
            record_id=ctx.errors.new_id(), customer_id=plan.customer_id, route=plan.route,
            profile_id=profile_id, secrets=ctx.secrets)
        result = _fail(ctx, plan, record, trigger, profile_id=profile_id, after=after)
        return PushResult(plan=plan, ok=False, profile_id=profile_id, error=result.error)

    _record_history(ctx, plan, ok=True, profile_id=profile_id, after=after, error_id=None,
                    trigger=trigger)
    _resolve_open(ctx, plan.customer_id)
    return PushResult(plan=plan, ok=True, profile_id=profile_id)


async def _write(ctx: Context, plan: Plan) -> Profile | None:
    attributes = _attributes(plan.payload)
    if attributes is None:
        return None  # link-only: nothing to write
    if ctx.calls is not None and ctx.calls.bulk:
        return await _staged(Stage.WRITE, ctx.calls.write(
            Write(plan.route, plan.profile_id, attributes, _carried(ctx, plan))))
    if plan.route is Route.CREATE:
        return await _staged(Stage.WRITE, ctx.klaviyo.create_profile(attributes))
    if plan.profile_id is None:
        raise RuntimeError(f"plan routes to {plan.route.value} without a profile id")
    return await _staged(Stage.WRITE, ctx.klaviyo.patch_profile(plan.profile_id, attributes))


def _carried(ctx: Context, plan: Plan) -> frozenset[str]:
    """List adds an import job makes for its rows (relationships.lists): none outside bulk."""
    if ctx.calls is None or not ctx.calls.bulk or _attributes(plan.payload) is None:
        return frozenset()
    return frozenset(c.list_id for c in plan.lists if c.action is ListAction.ADD)


def _attributes(payload: JSON | None) -> dict[str, Any] | None:
    if not payload:
        return None
    data = payload.get("data")
    if isinstance(data, Mapping) and isinstance(data.get("attributes"), Mapping):
        return dict(data["attributes"])
    return None


async def _consent_jobs(ctx: Context, plan: Plan, profile_id: str) -> None:
    groups: dict[tuple[ConsentAction, str | None], list[ConsentChange]] = {}
    for change in plan.consent:
        groups.setdefault((change.action, change.list_id), []).append(change)
    calls = []
    for (action, list_id), changes in groups.items():
        email = next((c.subject for c in changes if c.channel is Channel.EMAIL), None)
        phone = next((c.subject for c in changes if c.channel is Channel.SMS), None)
        subject = ConsentSubject(email=email, phone_number=phone, profile_id=profile_id)
        channels = frozenset(c.channel for c in changes)
        if ctx.calls is not None:
            calls.append(_staged(Stage.CONSENT, ctx.calls.consent(
                action, subject, channels=channels, list_id=list_id)))
            continue
        run = (ctx.klaviyo.subscribe if action is ConsentAction.SUBSCRIBE
               else ctx.klaviyo.unsubscribe)
        calls.append(_staged(Stage.CONSENT, run([subject], channels=channels, list_id=list_id)))
    await _all(calls)


async def _list_calls(ctx: Context, plan: Plan, profile_id: str) -> None:
    calls = []
    carried = _carried(ctx, plan)
    for change in plan.lists:
        if change.action is ListAction.ADD and change.list_id in carried:
            continue  # the import job added it
        if ctx.calls is not None:
            calls.append(_list_call(ctx, change.list_name, ctx.calls.membership(
                change.action, change.list_id, profile_id)))
            continue
        call = (ctx.klaviyo.add_to_list if change.action is ListAction.ADD
                else ctx.klaviyo.remove_from_list)
        calls.append(_list_call(ctx, change.list_name, call(change.list_id, [profile_id])))
    await _all(calls)


async def _list_call(ctx: Context, name: str, call: Awaitable[None]) -> None:
    try:
        await call
    except ApiError as exc:
        if exc.status == 404:
            forget_list(ctx, name)
        raise StageFailure(Stage.LISTS, exc) from exc


async def _store_link(ctx: Context, plan: Plan, profile_id: str) -> None:
    if plan.route is Route.UPDATE and plan.profile_id == profile_id:
        return  # already linked to this very profile
    if ctx.calls is not None:
        async with ctx.calls.slots:
            await _staged(Stage.LINK, ctx.ipaas.store_link(plan.customer_id, profile_id))
        return
    await _staged(Stage.LINK, ctx.ipaas.store_link(plan.customer_id, profile_id))


async def _all(calls: Sequence[Awaitable[None]]) -> None:
    """Run every call even when one fails, then raise the first failure."""
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


# ------------------------------------------------------------------------------------------
# Records
# ------------------------------------------------------------------------------------------


def _with_message(record: ErrorRecord, message: str, ctx: Context) -> ErrorRecord:
    return replace(record, message=records.scrub(message, ctx.secrets) or record.message)


def _upsert(ctx: Context, record: ErrorRecord) -> ErrorRecord:
    stamp = ctx.now()
    record = replace(record, created_at=stamp, updated_at=stamp)
    existing = ctx.errors.open_for_customer(record.customer_id)
    if existing is None:
        ctx.errors.add(record)
        return record
    merged = records.merge_into_open(existing, record)
    ctx.errors.update(merged)
    return merged


def _fail(ctx: Context, plan: Plan, record: ErrorRecord, trigger: str, *,
          profile_id: str | None = None, after: JSON | None = None) -> PushResult:
    """Log the failure (one open record per customer) and the attempt in the history."""
    stored = _upsert(ctx, record)
    _record_history(ctx, plan, ok=False, profile_id=profile_id or plan.profile_id,
                    after=after, error_id=stored.id, trigger=trigger)
    return PushResult(plan=plan, ok=False, profile_id=profile_id or plan.profile_id,
                      error=stored)


def _record_history(ctx: Context, plan: Plan, *, ok: bool, profile_id: str | None,
                    after: JSON | None, error_id: str | None, trigger: str) -> None:
    sent = plan.payload if plan.route is not Route.BLOCKED else None
    entry = HistoryEntry(
        # A batch's entries get their ids in the store's worker thread (see BatchCalls.record).
        id="" if ctx.calls is not None else ctx.history.new_id(),
        customer_id=plan.customer_id,
        at=ctx.now(),
        route=plan.route,
        ok=ok,
        profile_id=profile_id,
        before=plan.current,
        sent=sent,
        after=after,
        consent=tuple(c.to_json() for c in plan.consent),
        lists=tuple(item.to_json() for item in plan.lists),
        error_id=error_id,
        trigger=trigger,
    )
    if ctx.calls is not None:
        # A batch writes history off the event loop: the store syncs each entry to disk,
        # and other customers' requests can go out meanwhile. push() awaits it.
        ctx.calls.record(plan.customer_id, ctx.history.add, entry)
        return
    ctx.history.add(entry)


def _resolve_open(ctx: Context, customer_id: str) -> None:
    # Open-record upserts run without an await in between, so asyncio tasks cannot interleave.
    if ctx.calls is not None and not ctx.calls.may_have_open(customer_id, ctx.errors):
        return  # no open record when the batch began, and a success adds none
    existing = ctx.errors.open_for_customer(customer_id)
    if existing is not None:
        ctx.errors.update(records.resolved(existing, attempted=True, at=ctx.now()))


def customers_of(ids: Iterable[str]) -> list[str]:
    """Ids as given, stripped, without blanks or repeats, order kept."""
    seen: dict[str, None] = {}
    for raw in ids:
        text = str(raw).strip()
        if text:
            seen.setdefault(text, None)
    return list(seen)
