"""Turning failures into error records an operator can read in one line and retry."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from core.clients.http import ApiError, redact
from core.model import (
    RESOLVED_ATTEMPT,
    Attempt,
    ErrorKind,
    ErrorRecord,
    ErrorStatus,
    Plan,
    Route,
    Stage,
)

_DETAIL_LIMIT = 500


def now_iso() -> str:
    """The current UTC time as ISO 8601 with seconds, as every record stores it."""
    return _iso_second(int(time.time()))


# A sync stamps hundreds of records a second: each second is formatted once.
@functools.lru_cache(maxsize=1)
def _iso_second(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).isoformat(timespec="seconds")


def iso_clock(clock: Callable[[], datetime]) -> Callable[[], str]:
    """now_iso over another clock (a fixed one makes records repeatable)."""
    return lambda: clock().isoformat(timespec="seconds")


def scrub(text: str | None, secrets: tuple[str, ...]) -> str | None:
    """The text with every secret redacted (cut-off pieces too), trimmed to a readable length."""
    text = redact(text, secrets)
    if text is None:
        return None
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def retry_action(kind: ErrorKind, stage: Stage, route: Route | None, *, customer_id: str,
                 list_name: str | None = None, profile_id: str | None = None) -> str:
    """What a retry of this failure will do, or what to fix first, in words."""
    if kind is ErrorKind.CONSENT_GUARD:
        return (f"review the consent changes, then confirm with `klaviyo-console push {customer_id}"
                " --yes` (or sync with --allow-unsubscribe); a plain retry holds it again")
    if kind is ErrorKind.NO_IDENTIFIER:
        return ("give the customer an email address or a phone number that normalizes to E.164 "
                "in iPaaS.com, then retry")
    if kind is ErrorKind.PHONE_REJECTED:
        return "correct the customer's phone number in iPaaS.com, then retry"
    if kind is ErrorKind.LIST_NOT_FOUND:
        named = f" '{list_name}'" if list_name else ""
        return f"create the list{named} in Klaviyo or fix the mapping's list name, then retry"
    if kind is ErrorKind.NOT_FOUND and stage is Stage.FETCH:
        return "check the customer id in iPaaS.com; a retry looks the customer up again"
    if kind is ErrorKind.AUTH:
        return "check the API key or token and its scopes, then retry"
    if kind is ErrorKind.VALIDATION and stage in (Stage.FETCH, Stage.MAP, Stage.PLAN):
        return "fix the customer record (or the mapping template) as the message says, then retry"
    prefix = {
        ErrorKind.RATE_LIMITED: "wait for the rate-limit window to reset; ",
        ErrorKind.API_UNAVAILABLE: "once the API is reachable, ",
    }.get(kind, "")
    if stage is Stage.FETCH:
        action = "a retry re-reads the customer and its link from iPaaS.com and pushes it again"
    elif stage is Stage.RESOLVE:
        action = "a retry re-reads the customer and looks the Klaviyo profile up again"
    elif stage is Stage.WRITE and route is Route.CREATE:
        action = ("a retry re-reads the customer and creates the profile (or links the profile "
                  "that now has its email)")
    elif stage is Stage.WRITE:
        target = f" {profile_id}" if profile_id else ""
        action = f"a retry re-reads the customer and patches profile{target} again"
    elif stage is Stage.CONSENT:
        action = ("the profile was written; a retry re-plans and runs the consent (subscription) "
                  "jobs again")
    elif stage is Stage.LISTS:
        action = "the profile was written; a retry re-plans and repeats the list membership calls"
    elif stage is Stage.LINK:
        action = ("the profile was written; a retry matches it again and stores the link in "
                  "iPaaS.com")
    else:
        action = "a retry re-reads the customer, re-plans and pushes again"
    return prefix + action


def from_api_error(error: ApiError, *, record_id: str, customer_id: str, stage: Stage,
                   route: Route | None, profile_id: str | None,
                   secrets: tuple[str, ...]) -> ErrorRecord:
    """An error record for a failed API call, carrying the service's own code and detail."""
    kind = error.kind
    service = "Klaviyo" if error.service == "klaviyo" else "iPaaS.com"
    what = error.detail or error.title or (f"HTTP {error.status}" if error.status else str(error))
    message = f"{service} {_STAGE_VERB[stage]} failed: {what}"
    record = simple(kind, stage, message, record_id=record_id, customer_id=customer_id,
                    route=route, profile_id=profile_id, detail=error.detail or error.title,
                    secrets=secrets)
    return replace(record, code=scrub(error.code, secrets), http_status=error.status)


def from_plan(plan: Plan, *, record_id: str, secrets: tuple[str, ...]) -> ErrorRecord:
    """An error record for a plan that is blocked before anything is sent."""
    kind = plan.error_kind or ErrorKind.VALIDATION
    message = "; ".join(plan.errors) or plan.reason
    list_name = _list_in(plan.errors) if kind is ErrorKind.LIST_NOT_FOUND else None
    stamp = now_iso()
    text = scrub(message, secrets) or message
    return ErrorRecord(
        id=record_id,
        customer_id=plan.customer_id,
        kind=kind,
        stage=Stage.PLAN,
        message=text,
        attempts=(Attempt(stamp, kind.value, text),),
        retry_action=retry_action(kind, Stage.PLAN, plan.route, customer_id=plan.customer_id,
                                  list_name=list_name),
        created_at=stamp,
        updated_at=stamp,
        profile_id=plan.profile_id,
    )


def simple(kind: ErrorKind, stage: Stage, message: str, *, record_id: str, customer_id: str,
           route: Route | None = None, profile_id: str | None = None,
           detail: str | None = None, secrets: tuple[str, ...] = ()) -> ErrorRecord:
    """An error record for a failure that did not come from an API response."""
    stamp = now_iso()
    text = scrub(message, secrets) or message
    return ErrorRecord(
        id=record_id,
        customer_id=customer_id,
        kind=kind,
        stage=stage,
        message=text,
        attempts=(Attempt(stamp, kind.value, text),),
        retry_action=retry_action(kind, stage, route, customer_id=customer_id,
                                  profile_id=profile_id),
        created_at=stamp,
        updated_at=stamp,
        detail=scrub(detail, secrets),
        profile_id=profile_id,
    )


def with_confirmed(record: ErrorRecord, confirmed: str) -> ErrorRecord:
    """The record keeping the fingerprint of the consent operations the operator confirmed."""
    return replace(record, confirmed=confirmed)


def first_attempt(record: ErrorRecord) -> ErrorRecord:
    """The record with its own failure as its only attempt, stamped when it was created."""
    return replace(record, attempts=(
        Attempt(record.created_at, record.kind.value, record.message),))


def merge_into_open(existing: ErrorRecord, fresh: ErrorRecord) -> ErrorRecord:
    """The open record updated by a new failure: one line per customer, the new attempt added
    after the earlier ones (the first cause stays), the operator's confirmation kept."""
    return replace(
        fresh,
        id=existing.id,
        created_at=existing.created_at,
        attempts=(*existing.attempts,
                  Attempt(fresh.updated_at, fresh.kind.value, fresh.message)),
        status=ErrorStatus.OPEN,
        confirmed=fresh.confirmed or existing.confirmed,
    )


def resolved(existing: ErrorRecord, *, attempted: bool,
             at: str | None = None) -> ErrorRecord:
    """The record marked resolved (kept, not deleted); the success counts as an attempt."""
    stamp = at or now_iso()
    done = (Attempt(stamp, RESOLVED_ATTEMPT, "pushed"),) if attempted else ()
    return replace(
        existing,
        status=ErrorStatus.RESOLVED,
        attempts=(*existing.attempts, *done),
        updated_at=stamp,
    )


_STAGE_VERB = {
    Stage.FETCH: "read",
    Stage.MAP: "mapping",
    Stage.RESOLVE: "profile lookup",
    Stage.PLAN: "planning",
    Stage.WRITE: "profile write",
    Stage.CONSENT: "consent job",
    Stage.LISTS: "list membership call",
    Stage.LINK: "link store",
}


def _list_in(errors: tuple[str, ...]) -> str | None:
    for text in errors:
        start = text.find("'")
        end = text.find("'", start + 1)
        if start >= 0 and end > start:
            return text[start + 1 : end]
        start = text.find('"')
        end = text.find('"', start + 1)
        if start >= 0 and end > start:
            return text[start + 1 : end]
    return None
