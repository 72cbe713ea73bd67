"""One customer through design §3, whatever the trigger: gather the facts (lookups), plan them
(plan_customer), hold what the consent guard holds, write (writes), and record (recording).

A mode differs only in the lookups it is given (DirectLookups, SharedLookups) and in how the
writes go out (ctx.calls: one customer's requests, shared requests, or bulk import jobs).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, field

from core.engine import records
from core.engine.context import Context, CustomerNotFound, PushResult, StageFailure, staged
from core.engine.guarding import (
    Confirm,
    confirmed_kinds,
    describe,
    fingerprint,
    held_kinds,
    unconfirmed,
    unsubscribes,
)
from core.engine.list_cache import ListCache
from core.engine.lookups import DirectLookups, Gathered, Lookups, SharedLookups, Unread
from core.engine.planning import Mapped, map_customer
from core.engine.recording import record_failure, record_history, resolve_open, with_message
from core.engine.writes import attributes_of, consent_jobs, list_calls, store_link, write_profile
from core.model import (
    ConsentAction,
    Customer,
    CustomerDataError,
    ErrorKind,
    ErrorRecord,
    GuardKind,
    Outcome,
    Plan,
    Profile,
    Route,
    Stage,
)
from core.plan import Facts, plan_conflict

__all__ = [
    "Context",
    "CustomerNotFound",
    "Deferred",
    "ListCache",
    "Mapped",
    "PushResult",
    "StageFailure",
    "blank_plan",
    "customers_of",
    "map_customer",
    "preview",
    "push",
]

log = logging.getLogger("core.engine")

# A manual push asks the operator; every other trigger logs what it holds for an operator.
MANUAL = "manual"
# A record's confirmation given for a push that failed before its plan existed.
UNPLANNED = "*"


async def preview(ctx: Context, customer_id: str, *, lookups: Lookups | None = None,
                  resend_consent_email: bool = False) -> Plan:
    """Design §3 steps 1-5: what a push would do, with nothing written anywhere."""
    gathered = await (lookups or DirectLookups(ctx)).gather(
        customer_id, resend_consent_email=resend_consent_email)
    return gathered.plan(ctx.template, ctx.settings)


@dataclass
class Deferred:
    """A batch's customers whose plans unsubscribe, set aside until the brake is judged."""

    plans: dict[str, tuple[Customer | None, Plan]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.plans)


class _Progress:
    """The design §3 step a push has reached, so a failure is recorded at its stage."""

    __slots__ = ("stage",)

    def __init__(self) -> None:
        self.stage = Stage.FETCH

    def note(self, stage: Stage) -> None:
        self.stage = stage


def blank_plan(customer_id: str, reason: str) -> Plan:
    """A stand-in plan for a push that failed before a plan existed."""
    return Plan(customer_id=customer_id, route=Route.BLOCKED, reason=reason)


async def push(ctx: Context, customer_id: str, *, confirm: Confirm = False,
               trigger: str = MANUAL, customer: Customer | None = None,
               lookups: Lookups | None = None, resend_consent_email: bool = False,
               carried: str | None = None, defer: Deferred | None = None) -> PushResult | None:
    """Design §3 steps 1-7 on a fresh plan; every outcome is recorded.

    A manual push of an id iPaaS.com does not know raises CustomerNotFound and records nothing.
    `carried` is a confirmation the operator gave earlier (a Guard fingerprint): it confirms a
    plan whose consent operations are the same. With `defer`, a plan that unsubscribes is set
    aside there (None is returned) for the brake to judge.
    """
    progress = _Progress()
    try:
        gathered: Gathered | Unread = await (lookups or DirectLookups(ctx)).gather(
            customer_id, customer, resend_consent_email=resend_consent_email,
            note=progress.note)
    except CustomerNotFound as exc:
        if trigger == MANUAL:
            raise  # a typo is not a failed transfer: nothing is recorded
        gathered = Unread(Stage.FETCH, exc)
    except asyncio.CancelledError:
        _interrupted(ctx, customer_id, None, progress.stage, trigger)
        raise
    except Exception as exc:
        gathered = Unread(progress.stage, exc)
    try:
        decided = _decide(ctx, customer_id, customer, gathered, confirm=confirm,
                          trigger=trigger, carried=carried, defer=defer)
        if isinstance(decided, tuple):
            return await _run(ctx, *decided, trigger=trigger)
        return decided
    finally:
        if ctx.calls is not None:
            await ctx.calls.settle([customer_id])  # its history entry is on disk on return


async def push_page(ctx: Context, page: Sequence[tuple[str, Customer | None]], *,
                    lookups: SharedLookups, confirm: Confirm, trigger: str,
                    defer: Deferred | None = None) -> list[PushResult]:
    """A page of a batch as one unit: one gather of its facts, one planning loop, its writes
    on the batch's shared requests, and its records settled together."""
    assert ctx.calls is not None, "a page is pushed within a batch"
    ids = [customer_id for customer_id, _ in page]
    done: dict[str, PushResult | None] = {}
    try:
        gathered = await lookups.gather_page(page)
        runs: list[tuple[str, Awaitable[PushResult]]] = []
        for (customer_id, customer), outcome in zip(page, gathered, strict=True):
            decided = _decide(ctx, customer_id, customer, outcome, confirm=confirm,
                              trigger=trigger, carried=None, defer=defer)
            if isinstance(decided, tuple):
                runs.append((customer_id, _run(ctx, *decided, trigger=trigger)))
            # A running customer records its own interruption (see _run).
            done[customer_id] = None if isinstance(decided, tuple) else decided
        if runs:
            ran = await asyncio.gather(*(run for _, run in runs))
            done.update(zip((customer_id for customer_id, _ in runs), ran, strict=True))
    except asyncio.CancelledError:
        for customer_id in ids:
            if customer_id not in done:
                _interrupted(ctx, customer_id, None, Stage.FETCH, trigger)
        raise
    finally:
        await ctx.calls.settle(ids)  # the page's history entries are on disk on return
    return [result for customer_id in ids if (result := done.get(customer_id)) is not None]


def _decide(ctx: Context, customer_id: str, customer: Customer | None,
            gathered: Gathered | Unread, *, confirm: Confirm, trigger: str,
            carried: str | None, defer: Deferred | None
            ) -> PushResult | tuple[Plan, Confirm] | None:
    """Step 5 and the guard: the plan to execute with its confirmation, or the recorded
    outcome of a customer that stops here (None: set aside for the brake)."""
    if isinstance(gathered, Unread):
        return _failed(ctx, customer_id, None, gathered.error, gathered.stage,
                       confirm=confirm, trigger=trigger)
    plan: Plan | None = None
    try:
        plan = gathered.plan(ctx.template, ctx.settings)
        if plan.blocked:
            return record_failure(ctx, plan, records.from_plan(
                plan, record_id=ctx.errors.new_id(), secrets=ctx.secrets), trigger)
        _clear_joined(ctx, gathered.facts)
        braked = GuardKind.UNSUBSCRIBE not in confirmed_kinds(confirm)
        if defer is not None and braked and unsubscribes(plan):
            defer.plans[customer_id] = (customer, plan)
            return None
        if carried is not None and carried in (fingerprint(plan), UNPLANNED):
            confirm = confirmed_kinds(confirm) | held_kinds(plan)
        held = hold(ctx, plan, confirm, trigger, carried=carried)
        if held is not None:
            return held
    except Exception as exc:
        return _failed(ctx, customer_id, plan, exc, Stage.PLAN, confirm=confirm,
                       trigger=trigger)
    return plan, confirm


async def _run(ctx: Context, plan: Plan, confirm: Confirm, *, trigger: str) -> PushResult:
    """Steps 6-7 of a planned customer, every failure recorded on it."""
    try:
        return await _execute(ctx, plan, confirm=confirm, trigger=trigger)
    except asyncio.CancelledError:
        _interrupted(ctx, plan.customer_id, plan, Stage.PLAN, trigger)
        raise
    except Exception as exc:
        return _failed(ctx, plan.customer_id, plan, exc, Stage.PLAN, confirm=confirm,
                       trigger=trigger)


def _failed(ctx: Context, customer_id: str, plan: Plan | None, exc: Exception, stage: Stage,
            *, confirm: Confirm, trigger: str) -> PushResult:
    """The failure recorded on its customer, at the stage it happened."""
    if isinstance(exc, CustomerNotFound):
        return record_failure(ctx, blank_plan(customer_id, str(exc)), records.simple(
            ErrorKind.NOT_FOUND, Stage.FETCH, str(exc), record_id=ctx.errors.new_id(),
            customer_id=customer_id), trigger)
    if isinstance(exc, CustomerDataError) and plan is None:
        return record_failure(ctx, blank_plan(customer_id, str(exc)), records.simple(
            ErrorKind.VALIDATION, stage, str(exc), record_id=ctx.errors.new_id(),
            customer_id=customer_id, secrets=ctx.secrets), trigger)
    if isinstance(exc, StageFailure):
        current = plan or blank_plan(customer_id, str(exc.error))
        record = records.from_api_error(
            exc.error, record_id=ctx.errors.new_id(), customer_id=customer_id,
            stage=exc.stage, route=current.route if plan else None,
            profile_id=current.profile_id, secrets=ctx.secrets)
        return record_failure(ctx, current, _confirmed(record, plan, confirm), trigger,
                              sent=exc.stage is not Stage.FETCH and
                              exc.stage is not Stage.RESOLVE and plan is not None)
    log.error("push of customer %s failed unexpectedly", customer_id, exc_info=exc)
    current = plan or blank_plan(customer_id, "internal error")
    return record_failure(ctx, current, records.simple(
        ErrorKind.INTERNAL, stage, f"internal error: {type(exc).__name__}: {exc}",
        record_id=ctx.errors.new_id(), customer_id=customer_id, route=current.route,
        profile_id=current.profile_id, secrets=ctx.secrets), trigger)


def _interrupted(ctx: Context, customer_id: str, plan: Plan | None, stage: Stage,
                 trigger: str) -> None:
    """A hard stop mid-push, logged so the customer is never silently half-done."""
    current = plan or blank_plan(customer_id, "interrupted")
    record_failure(ctx, current, records.simple(
        ErrorKind.INTERNAL, stage, f"push interrupted during {stage.value}",
        record_id=ctx.errors.new_id(), customer_id=customer_id, route=current.route,
        profile_id=current.profile_id), trigger)


def _confirmed(record: ErrorRecord, plan: Plan | None, confirm: Confirm) -> ErrorRecord:
    """The record keeping the confirmation the operator gave for this plan, so a retry of the
    same consent operations carries it."""
    if plan is None:
        # The operator confirmed this push (push --yes, the console's dialog) before its plan
        # could be made, e.g. Klaviyo was down: the confirmation is for the plan the retry
        # makes. A run's --confirm KINDS is not carried this way: it named kinds, not a plan.
        return records.with_confirmed(record, UNPLANNED) if confirm is True else record
    if not held_kinds(plan) or unconfirmed(plan, confirm):
        return record
    return records.with_confirmed(record, fingerprint(plan))


def _clear_joined(ctx: Context, facts: Facts) -> None:
    """Forget pending consent emails of people now on the list: nothing awaits any more."""
    if not facts.consent_emails or not facts.memberships:
        return
    for profile_id, list_id in list(facts.consent_emails):
        if list_id and profile_id in facts.memberships.get(list_id, frozenset()):
            ctx.consent_emails.clear(profile_id, list_id)


def hold(ctx: Context, plan: Plan, confirm: Confirm, trigger: str, *,
         carried: str | None = None, because: str | None = None) -> PushResult | None:
    """The held result when the consent guard stops a plan not confirmed enough, else None."""
    if because is None and not unconfirmed(plan, confirm):
        return None
    if trigger == MANUAL and because is None:
        # A manual push that is held asks the operator; nothing failed, nothing is logged.
        return PushResult(plan=plan, ok=False, profile_id=plan.profile_id, held=True)
    notes = "; ".join(describe(c) for c in plan.guarded_consent)
    message = f"held by the consent guard: {notes}"
    if because is not None:
        message = f"held by the brake: {because}" + (f"; {notes}" if notes else "")
    elif carried:
        message += ("; the consent operations changed since the operator confirmed them, "
                    "so that confirmation no longer applies")
    record = records.simple(
        ErrorKind.CONSENT_GUARD, Stage.PLAN, message,
        record_id=ctx.errors.new_id(), customer_id=plan.customer_id, route=plan.route,
        profile_id=plan.profile_id, secrets=ctx.secrets)
    return record_failure(ctx, plan, record, trigger, held=True)


async def _execute(ctx: Context, plan: Plan, *, confirm: Confirm, trigger: str) -> PushResult:
    """Steps 6-7: the write (a 409 on create links to the duplicate), then consent, lists and
    the link together, and the outcome recorded."""
    before = plan.current
    try:
        profile = await write_profile(ctx, plan)
    except StageFailure as failure:
        duplicate = failure.error.duplicate_profile_id
        if plan.route is not Route.CREATE or failure.error.status != 409 or not duplicate:
            raise
        # Someone created the profile between our match and our POST: link to it instead.
        existing = await staged(Stage.WRITE, ctx.klaviyo.get_profile(duplicate))
        plan = plan_conflict(plan, existing or Profile(id=duplicate))
        before = plan.current
        held = hold(ctx, plan, confirm, trigger)
        if held is not None:
            return held
        profile = await write_profile(ctx, plan)
    profile_id = profile.id if profile is not None else plan.profile_id
    if profile_id is None:
        raise RuntimeError("the write returned no profile id")
    after = profile.attributes if profile is not None else before
    sent = attributes_of(plan.payload) is not None

    # Only the steps with work to do: each one gathered costs a task per customer.
    steps: list[Awaitable[None]] = []
    to_send = any(c.sends for c in plan.consent)
    if to_send:
        steps.append(consent_jobs(ctx, plan, profile_id))
    if plan.lists:
        steps.append(list_calls(ctx, plan, profile_id))
    if not (plan.route is Route.UPDATE and plan.profile_id == profile_id):
        steps.append(store_link(ctx, plan, profile_id))
    # A re-sync of an unchanged customer has no step: even an empty gather costs a future.
    outcomes = await asyncio.gather(*steps, return_exceptions=True) if steps else []
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, StageFailure):
            raise outcome
    failures = [o for o in outcomes if isinstance(o, StageFailure)]
    consent_ran = to_send and not any(f.stage is Stage.CONSENT for f in failures)
    if consent_ran:
        _remember_consent_emails(ctx, plan, profile_id)
    if failures:
        first = failures[0]
        record = records.from_api_error(
            first.error, record_id=ctx.errors.new_id(), customer_id=plan.customer_id,
            stage=first.stage, route=plan.route, profile_id=profile_id, secrets=ctx.secrets)
        if len(failures) > 1:
            others = "; ".join(f"{f.stage.value}: {f.error}" for f in failures[1:])
            record = with_message(record, f"{record.message} (also failed: {others})", ctx)
        return record_failure(ctx, plan, _confirmed(record, plan, confirm), trigger,
                              profile_id=profile_id, after=after, sent=sent,
                              ran_consent=consent_ran)

    dropped = profile.partial_failure if profile is not None else ()
    if "phone_number" in dropped:
        number = (attributes_of(plan.payload) or {}).get("phone_number")
        record = records.simple(
            ErrorKind.PHONE_REJECTED, Stage.WRITE,
            f"Klaviyo rejected the phone number {number} and saved the profile without it",
            record_id=ctx.errors.new_id(), customer_id=plan.customer_id, route=plan.route,
            profile_id=profile_id, secrets=ctx.secrets)
        return record_failure(ctx, plan, record, trigger, profile_id=profile_id, after=after,
                              sent=sent, partial=("phone_number",), ran_consent=consent_ran)

    record_history(ctx, plan, outcome=Outcome.DONE, profile_id=profile_id, after=after,
                   error_id=None, trigger=trigger, sent=sent, ran_consent=consent_ran)
    resolve_open(ctx, plan.customer_id)
    return PushResult(plan=plan, ok=True, profile_id=profile_id)


def _remember_consent_emails(ctx: Context, plan: Plan, profile_id: str) -> None:
    """Keep each double opt-in subscribe that went out, so later plans send no second email."""
    stamp = ctx.now()
    for change in plan.consent:
        if (change.action is ConsentAction.SUBSCRIBE and change.double_opt_in
                and change.sends):
            item = (profile_id, change.list_id or "", stamp)
            if ctx.calls is not None:
                ctx.calls.record(plan.customer_id, ctx.consent_emails.add, item)
            else:
                ctx.consent_emails.add(item)


def customers_of(ids: Iterable[str]) -> list[str]:
    """Ids as given, stripped, without blanks or repeats, order kept."""
    seen: dict[str, None] = {}
    for raw in ids:
        text = str(raw).strip()
        if text:
            seen.setdefault(text, None)
    return list(seen)
