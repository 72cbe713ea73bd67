"""One customer through design §3: fetch, map, resolve and plan (preview); write, then consent,
lists and link, and record the outcome (push). The steps live in lookups, planning, writes and
recording; this module runs them in order and turns every failure into a record."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable

from core.engine import records
from core.engine.context import Context, CustomerNotFound, PushResult, StageFailure, staged
from core.engine.list_cache import ListCache
from core.engine.lookups import fetch, resolve
from core.engine.planning import Mapped, map_customer, map_needed, plan_of
from core.engine.recording import record_failure, record_history, resolve_open, with_message
from core.engine.writes import attributes_of, consent_jobs, list_calls, store_link, write_profile
from core.model import (
    ConsentChange,
    Customer,
    CustomerDataError,
    ErrorKind,
    Plan,
    Profile,
    Route,
    Stage,
)
from core.plan import plan_conflict

__all__ = [
    "Context",
    "CustomerNotFound",
    "ListCache",
    "Mapped",
    "PushResult",
    "StageFailure",
    "blank_plan",
    "customers_of",
    "map_customer",
    "plan_of",
    "preview",
    "push",
]

log = logging.getLogger("core.engine")

TRIGGERS_THAT_LOG_HOLDS = frozenset({"batch", "listen", "retry", "sync"})


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
            return record_failure(ctx, blank_plan(customer_id, str(exc)), records.simple(
                ErrorKind.NOT_FOUND, Stage.FETCH, str(exc), record_id=ctx.errors.new_id(),
                customer_id=customer_id), trigger)
        except CustomerDataError as exc:
            return record_failure(ctx, blank_plan(customer_id, str(exc)), records.simple(
                ErrorKind.VALIDATION, progress.stage, str(exc), record_id=ctx.errors.new_id(),
                customer_id=customer_id, secrets=ctx.secrets), trigger)
        if plan.blocked:
            return record_failure(ctx, plan, records.from_plan(
                plan, record_id=ctx.errors.new_id(), secrets=ctx.secrets), trigger)
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
        return record_failure(ctx, current, record, trigger)
    except asyncio.CancelledError:
        # A hard stop mid-push: log it so the customer is never silently half-done.
        current = plan or blank_plan(customer_id, "interrupted")
        record_failure(ctx, current, records.simple(
            ErrorKind.INTERNAL, progress.stage,
            f"push interrupted during {progress.stage.value}",
            record_id=ctx.errors.new_id(), customer_id=customer_id, route=current.route,
            profile_id=current.profile_id), trigger)
        raise
    except Exception as exc:
        log.exception("push of customer %s failed unexpectedly", customer_id)
        current = plan or blank_plan(customer_id, "internal error")
        return record_failure(ctx, current, records.simple(
            ErrorKind.INTERNAL, progress.stage, f"internal error: {type(exc).__name__}: {exc}",
            record_id=ctx.errors.new_id(), customer_id=customer_id, route=current.route,
            profile_id=current.profile_id, secrets=ctx.secrets), trigger)


def _hold(ctx: Context, plan: Plan, confirmed: bool, trigger: str) -> PushResult | None:
    """The held result when the consent guard stops an unconfirmed plan, else None."""
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
    result = record_failure(ctx, plan, record, trigger)
    return PushResult(plan=plan, ok=False, profile_id=plan.profile_id, error=result.error,
                      held=True)


def _describe_consent(change: ConsentChange) -> str:
    where = f" on list {change.list_name}" if change.list_name else ""
    extra = " (sends a double opt-in consent email)" if change.double_opt_in else ""
    return f"{change.action.value} {change.channel.value}{where}{extra}"


async def _execute(ctx: Context, plan: Plan, *, confirmed: bool, trigger: str) -> PushResult:
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
        held = _hold(ctx, plan, confirmed, trigger)
        if held is not None:
            return held
        profile = await write_profile(ctx, plan)
    profile_id = profile.id if profile is not None else plan.profile_id
    if profile_id is None:
        raise RuntimeError("the write returned no profile id")
    after = profile.attributes if profile is not None else before

    # Only the steps with work to do: each one gathered costs a task per customer.
    steps: list[Awaitable[None]] = []
    if plan.consent:
        steps.append(consent_jobs(ctx, plan, profile_id))
    if plan.lists:
        steps.append(list_calls(ctx, plan, profile_id))
    if not (plan.route is Route.UPDATE and plan.profile_id == profile_id):
        steps.append(store_link(ctx, plan, profile_id))
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
            record = with_message(record, f"{record.message} (also failed: {others})", ctx)
        result = record_failure(ctx, plan, record, trigger, profile_id=profile_id, after=after)
        return PushResult(plan=plan, ok=False, profile_id=profile_id, error=result.error)

    dropped = profile.partial_failure if profile is not None else ()
    if "phone_number" in dropped:
        sent = (attributes_of(plan.payload) or {}).get("phone_number")
        record = records.simple(
            ErrorKind.PHONE_REJECTED, Stage.WRITE,
            f"Klaviyo rejected the phone number {sent} and saved the profile without it",
            record_id=ctx.errors.new_id(), customer_id=plan.customer_id, route=plan.route,
            profile_id=profile_id, secrets=ctx.secrets)
        result = record_failure(ctx, plan, record, trigger, profile_id=profile_id, after=after)
        return PushResult(plan=plan, ok=False, profile_id=profile_id, error=result.error)

    record_history(ctx, plan, ok=True, profile_id=profile_id, after=after, error_id=None,
                   trigger=trigger)
    resolve_open(ctx, plan.customer_id)
    return PushResult(plan=plan, ok=True, profile_id=profile_id)


def customers_of(ids: Iterable[str]) -> list[str]:
    """Ids as given, stripped, without blanks or repeats, order kept."""
    seen: dict[str, None] = {}
    for raw in ids:
        text = str(raw).strip()
        if text:
            seen.setdefault(text, None)
    return list(seen)
