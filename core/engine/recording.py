"""Step 7 of design §3: every push's history entry, and its failure in the error log."""

from __future__ import annotations

from dataclasses import replace

from core.engine import records
from core.engine.context import Context, PushResult
from core.model import JSON, ErrorRecord, HistoryEntry, Outcome, Plan


def with_message(record: ErrorRecord, message: str, ctx: Context) -> ErrorRecord:
    """The record with another message, its secrets redacted."""
    return replace(record, message=records.scrub(message, ctx.secrets) or record.message)


def _upsert(ctx: Context, record: ErrorRecord) -> ErrorRecord:
    stamp = ctx.now()
    record = records.first_attempt(replace(record, created_at=stamp, updated_at=stamp))
    existing = ctx.errors.open_for_customer(record.customer_id)
    if existing is None:
        ctx.errors.add(record)
        return record
    merged = records.merge_into_open(existing, record)
    ctx.errors.update(merged)
    return merged


def record_failure(ctx: Context, plan: Plan, record: ErrorRecord, trigger: str, *,
                   profile_id: str | None = None, after: JSON | None = None,
                   sent: bool = False, held: bool = False, partial: tuple[str, ...] = (),
                   ran_consent: bool = False) -> PushResult:
    """Log the failure (one open record per customer) and the attempt in the history."""
    stored = _upsert(ctx, record)
    outcome = Outcome.HELD if held else Outcome.DONE if partial else Outcome.FAILED
    record_history(ctx, plan, outcome=outcome, profile_id=profile_id or plan.profile_id,
                   after=after, error_id=stored.id, trigger=trigger, sent=sent,
                   ran_consent=ran_consent)
    return PushResult(plan=plan, ok=False, profile_id=profile_id or plan.profile_id,
                      error=stored, held=held, partial=partial)


def record_history(ctx: Context, plan: Plan, *, outcome: Outcome, profile_id: str | None,
                   after: JSON | None, error_id: str | None, trigger: str, sent: bool,
                   ran_consent: bool) -> None:
    """The push's history entry: before, what was sent (None when nothing was), after, and
    only the consent and list operations that ran."""
    ran = outcome is Outcome.DONE
    entry = HistoryEntry(
        # A batch's entries get their ids in the store's worker thread (see BatchCalls.record).
        id="" if ctx.calls is not None else ctx.history.new_id(),
        customer_id=plan.customer_id,
        at=ctx.now(),
        route=plan.route,
        ok=outcome is Outcome.DONE and error_id is None,
        profile_id=profile_id,
        before=plan.current,
        sent=plan.payload if sent else None,
        after=after,
        consent=tuple(c.to_json() for c in plan.consent if ran_consent and c.sends),
        lists=tuple(item.to_json() for item in plan.lists) if ran else (),
        error_id=error_id,
        trigger=trigger,
        outcome=outcome,
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
