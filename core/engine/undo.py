"""Undo of pushes: read the history entry and the live profile, plan the reverse, and run it
as a push runs (guard, write, lists, history with trigger "undo", failures logged)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, replace

from core.engine import records
from core.engine.context import Context, PushResult, StageFailure, staged
from core.engine.lookups import ensure_lists
from core.engine.recording import record_failure, record_history
from core.engine.writes import consent_jobs, list_calls
from core.model import (
    JSON,
    ErrorKind,
    ErrorRecord,
    HistoryEntry,
    Outcome,
    Plan,
    Route,
    Stage,
)
from core.plan.undo import UndoPlan, blocked_undo, plan_undo

log = logging.getLogger("core.engine")

TRIGGER = "undo"
# Records written before ErrorRecord.undo_of named the undone push in their message.
_OLD_PREFIX = re.compile(r"undo of push (\S+):")


class UnknownHistoryId(LookupError):
    """A history id that is not in the push history."""


@dataclass(frozen=True)
class UndoResult:
    """What one undo did: its plan, and the push-like result when it ran (None: previewed or
    nothing to do)."""

    undo: UndoPlan
    result: PushResult | None = None

    @property
    def outcome(self) -> str:
        if self.result is None:
            return "nothing" if not self.undo.has_work else "planned"
        if self.result.held:
            return "held"
        return "done" if self.result.ok else "failed"

    def to_json(self) -> JSON:
        body = self.undo.to_json()
        body["outcome"] = self.outcome
        error = self.result.error if self.result is not None else None
        body["error"] = error.to_json() if error is not None else None
        return body


def entries_to_undo(ctx: Context, ids: Sequence[str] = (), *, since: str | None = None,
                    trigger: str | None = None, page: int = 500) -> list[HistoryEntry]:
    """The entries named by id, or every entry at or after `since` (of `trigger` if given;
    earlier undos only when asked for), newest first so pushes of one profile unwind in order."""
    if ids:
        chosen = []
        for history_id in dict.fromkeys(i.strip() for i in ids if i.strip()):
            entry = ctx.history.get(history_id)
            if entry is None:
                raise UnknownHistoryId(f"no history entry {history_id} in the push history")
            chosen.append(entry)
        return sorted(chosen, key=lambda e: e.at, reverse=True)
    if since is None:
        return []
    out: list[HistoryEntry] = []
    offset = 0
    while True:
        chunk = ctx.history.recent(page, offset=offset)
        for entry in chunk:
            if entry.at < since:
                return out
            if trigger is not None and entry.trigger != trigger:
                continue
            if trigger is None and entry.trigger == TRIGGER:
                continue
            out.append(entry)
        if len(chunk) < page:
            return out
        offset += page


async def plan(ctx: Context, entry: HistoryEntry, *, reverse_consent: bool = False) -> UndoPlan:
    """The reverse of one push against the profile as Klaviyo holds it now; writes nothing."""
    live = None
    if entry.profile_id is not None:
        live = await staged(Stage.RESOLVE, ctx.klaviyo.get_profile(entry.profile_id))
    names = [str(raw.get("list")) for raw in entry.lists]
    names += [str(raw["list"]) for raw in entry.consent if raw.get("list")]
    await ensure_lists(ctx, names)
    found = {name: ctx.lists.get(name) for name in names}
    list_ids = {name: item.id if item is not None else None for name, item in found.items()}
    return plan_undo(entry, live, list_ids=list_ids, reverse_consent=reverse_consent)


async def undo(ctx: Context, entry: HistoryEntry, *, confirmed: bool = False,
               reverse_consent: bool = False) -> UndoResult:
    """Plan and run the reverse of one push; failures are logged, never raised."""
    try:
        planned = await plan(ctx, entry, reverse_consent=reverse_consent)
    except StageFailure as failure:
        record = records.from_api_error(
            failure.error, record_id=ctx.errors.new_id(), customer_id=entry.customer_id,
            stage=failure.stage, route=None, profile_id=entry.profile_id, secrets=ctx.secrets)
        blank = blocked_undo(entry, f"cannot read profile {entry.profile_id}: {failure.error}")
        return UndoResult(blank, _failed(ctx, blank, record))
    if planned.plan.blocked or not planned.has_work:
        _resolve_own_record(ctx, entry)
        return UndoResult(planned)
    if planned.plan.guarded_consent and not confirmed:
        return UndoResult(planned, _held(ctx, planned))
    result = await _execute(ctx, planned)
    if result.ok:
        _resolve_own_record(ctx, entry)
    return UndoResult(planned, result)


def _held(ctx: Context, planned: UndoPlan) -> PushResult:
    """Log the consent reversals the guard holds; a retry holds them again (it never
    confirms), `undo H --reverse-consent --yes` confirms them."""
    notes = "; ".join(change.note for change in planned.plan.guarded_consent)
    record = records.simple(
        ErrorKind.CONSENT_GUARD, Stage.PLAN, f"held by the consent guard: {notes}",
        record_id=ctx.errors.new_id(), customer_id=planned.plan.customer_id,
        route=planned.plan.route, profile_id=planned.plan.profile_id, secrets=ctx.secrets)
    record = replace(record, undo_of=planned.history_id, retry_action=(
        f"review the consent reversals, then confirm with `klaviyo-console undo "
        f"{planned.history_id} --reverse-consent --yes`; a plain retry holds them again"))
    return record_failure(ctx, planned.plan, record, TRIGGER,
                          profile_id=planned.plan.profile_id, held=True)


def _resolve_own_record(ctx: Context, entry: HistoryEntry) -> None:
    """Resolve the customer's open record when it is a failed undo of this same push."""
    existing = ctx.errors.open_for_customer(entry.customer_id)
    if existing is not None and undone_history_id(existing) == entry.id:
        ctx.errors.update(records.resolved(existing, attempted=True, at=ctx.now()))


async def _execute(ctx: Context, planned: UndoPlan) -> PushResult:
    plan = planned.plan
    profile_id = plan.profile_id
    assert profile_id is not None
    after: JSON | None = plan.current
    wrote = False
    try:
        if plan.payload is not None:
            profile = await staged(Stage.WRITE, ctx.klaviyo.patch_profile(
                profile_id, planned.attributes, unset_properties=planned.unset_properties))
            after, wrote = profile.attributes, True
        steps: list[Awaitable[None]] = []
        if plan.consent:
            steps.append(consent_jobs(ctx, plan, profile_id))
        if plan.lists:
            steps.append(list_calls(ctx, plan, profile_id))
        outcomes = await asyncio.gather(*steps, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
    except StageFailure as failure:
        record = records.from_api_error(
            failure.error, record_id=ctx.errors.new_id(), customer_id=plan.customer_id,
            stage=failure.stage, route=plan.route, profile_id=profile_id, secrets=ctx.secrets)
        return _failed(ctx, planned, record, after=after, sent=wrote)
    except Exception as exc:
        log.exception("undo of %s failed unexpectedly", planned.history_id)
        record = records.simple(
            ErrorKind.INTERNAL, Stage.WRITE, f"internal error: {type(exc).__name__}: {exc}",
            record_id=ctx.errors.new_id(), customer_id=plan.customer_id, route=plan.route,
            profile_id=profile_id, secrets=ctx.secrets)
        return _failed(ctx, planned, record, after=after, sent=wrote)
    record_history(ctx, plan, outcome=Outcome.DONE, profile_id=profile_id, after=after,
                   error_id=None, trigger=TRIGGER, sent=wrote, ran_consent=bool(plan.consent))
    return PushResult(plan=plan, ok=True, profile_id=profile_id)


def _failed(ctx: Context, planned: UndoPlan, record: ErrorRecord, *,
            after: JSON | None = None, sent: bool = False) -> PushResult:
    """Log the failed undo; its retry runs the undo again, which reverts only what is still as
    the push left it."""
    record = replace(record, undo_of=planned.history_id,
                     retry_action=retry_action(planned.history_id))
    return record_failure(ctx, planned.plan, record, TRIGGER,
                          profile_id=planned.plan.profile_id, after=after, sent=sent)


def undone_history_id(record: ErrorRecord) -> str | None:
    """The history id a failed undo's record names, or None for any other record."""
    old = _OLD_PREFIX.match(record.message)
    return record.undo_of or (old.group(1) if old else None)


async def retry(ctx: Context, record: ErrorRecord) -> PushResult:
    """Run a failed undo again (never confirming consent); its record is resolved when the
    undo is done or has nothing left to do."""
    history_id = undone_history_id(record)
    entry = ctx.history.get(history_id) if history_id else None
    if entry is None:
        # Pruned from the history: nothing to plan from; the record stays open and says why.
        plan = Plan(customer_id=record.customer_id, route=Route.BLOCKED,
                    reason=f"history entry {history_id} is no longer in the history")
        return PushResult(plan=plan, ok=False, profile_id=record.profile_id, error=record)
    # A held undo asked to reverse consent: its retry asks again, and is held again.
    done = await undo(ctx, entry, reverse_consent=record.kind is ErrorKind.CONSENT_GUARD)
    if done.result is not None:
        return done.result
    return PushResult(plan=done.undo.plan, ok=True, profile_id=entry.profile_id)


def retry_action(history_id: str) -> str:
    """What to do about a failed undo, in words."""
    return (f"a retry (or `klaviyo-console undo {history_id} --yes`) runs the undo again: it "
            "re-reads the profile and reverts only what is still as the push left it")


async def undo_many(ctx: Context, entries: Iterable[HistoryEntry], *, confirmed: bool = False,
                    reverse_consent: bool = False, apply: bool = True) -> list[UndoResult]:
    """Undo (or with `apply` False only plan) each entry in the order given, one at a time so
    several pushes of one profile unwind newest first."""
    out: list[UndoResult] = []
    for entry in entries:
        if apply:
            out.append(await undo(ctx, entry, confirmed=confirmed,
                                  reverse_consent=reverse_consent))
            continue
        try:
            out.append(UndoResult(await plan(ctx, entry, reverse_consent=reverse_consent)))
        except StageFailure as failure:
            out.append(UndoResult(blocked_undo(
                entry, f"cannot read profile {entry.profile_id}: {failure.error}")))
    return out
