"""Step 7 of design §3: every push's history entry, and its failure in the error log."""

from __future__ import annotations

from dataclasses import replace

from core.engine import records
from core.engine.context import Context, PushResult
from core.model import JSON, ErrorRecord, HistoryEntry, Plan, Route


def with_message(record: ErrorRecord, message: str, ctx: Context) -> ErrorRecord:
    """The record with another message, its secrets redacted."""
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


def record_failure(ctx: Context, plan: Plan, record: ErrorRecord, trigger: str, *,
                   profile_id: str | None = None, after: JSON | None = None) -> PushResult:
    """Log the failure (one open record per customer) and the attempt in the history."""
    stored = _upsert(ctx, record)
    record_history(ctx, plan, ok=False, profile_id=profile_id or plan.profile_id,
                   after=after, error_id=stored.id, trigger=trigger)
    return PushResult(plan=plan, ok=False, profile_id=profile_id or plan.profile_id,
                      error=stored)


def record_history(ctx: Context, plan: Plan, *, ok: bool, profile_id: str | None,
                   after: JSON | None, error_id: str | None, trigger: str) -> None:
    """The push's history entry: before, sent, after, consent and lists."""
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


def resolve_open(ctx: Context, customer_id: str) -> None:
    """Mark the customer's open error record resolved after a successful push."""
    # Open-record upserts run without an await in between, so asyncio tasks cannot interleave.
    if ctx.calls is not None and not ctx.calls.may_have_open(customer_id, ctx.errors):
        return  # no open record when the batch began, and a success adds none
    existing = ctx.errors.open_for_customer(customer_id)
    if existing is not None:
        ctx.errors.update(records.resolved(existing, attempted=True, at=ctx.now()))
