"""Plain words for plans, consent changes and error records, shared by the screens."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.model import (
    Change,
    ConsentAction,
    ConsentChange,
    ErrorKind,
    GuardKind,
    ListAction,
    ListChange,
    MatchedBy,
    Plan,
    Route,
)

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel

RICH_CHANGE_STYLE = {
    Change.ADDED: "bold green",
    Change.CHANGED: "bold yellow",
    Change.UNCHANGED: "dim",
    Change.KEPT: "italic cyan",
}

# Per error kind: what the operator must fix, then what a retry does once it is fixed.
FIXES = {
    ErrorKind.NO_IDENTIFIER: "Give the customer an email address or a phone number in "
    "iPaaS.com. Retry then pushes the customer again.",
    ErrorKind.PHONE_REJECTED: "Correct the phone number in iPaaS.com (Klaviyo needs a "
    "valid E.164 number) or clear it. Retry then sends the profile again with that number.",
    ErrorKind.API_UNAVAILABLE: "Nothing to fix on the record: the service did not answer. "
    "Retry sends the same push once it is reachable again.",
    ErrorKind.RATE_LIMITED: "Nothing to fix: Klaviyo asked us to slow down. Retry later sends "
    "the same push; the batch paces itself from the rate-limit headers.",
    ErrorKind.VALIDATION: "Correct the value named in the message in iPaaS.com or in the "
    "mapping template. Retry then sends the corrected profile.",
    ErrorKind.CONFLICT: "Nothing to fix: another profile already holds this email or phone. "
    "Retry links the customer to that profile.",
    ErrorKind.LIST_NOT_FOUND: "Create the named list in Klaviyo, or change the LIST_/"
    "UCLIST_ field in the template. Retry then adds the profile to the list.",
    ErrorKind.CONSENT_GUARD: "Open the customer, check the consent changes and push with "
    "confirmation. A retry holds them again unless you confirmed these same changes before.",
    ErrorKind.NOT_FOUND: "Check the id; the customer or profile no longer exists. Retry "
    "creates the profile again if the customer still exists.",
    ErrorKind.AUTH: "Correct the key or token in the environment or config file, then restart. "
    "Retry then sends the same push.",
    ErrorKind.INTERNAL: "Nothing the operator can fix: something unexpected happened. Retry "
    "once; if it fails again, report it with the error id.",
}


def route_title(plan: Plan) -> str:
    """CREATE, UPDATE, LINK by email, LINK by phone or BLOCKED."""
    if plan.route is Route.LINK:
        by = {MatchedBy.EMAIL: "email", MatchedBy.PHONE: "phone"}.get(
            plan.matched_by or MatchedBy.EMAIL, "external id"
        )
        return f"LINK by {by}"
    return plan.route.value.upper()


def consent_words(change: ConsentChange) -> str:
    """One line naming the consent job a push would run, and which opt-in process applies."""
    verb = "Subscribe" if change.action is ConsentAction.SUBSCRIBE else "Unsubscribe"
    text = f"{verb} {change.channel.value} marketing"
    if change.list_name:
        text += f" via list '{change.list_name}'"
    pending = pending_since(change)
    if pending:
        text += f": consent email sent {short_time(pending)}, awaiting confirmation; nothing sent"
    elif change.action is ConsentAction.SUBSCRIBE:
        text += (" (double opt-in: Klaviyo emails a confirmation, consent stays pending)"
                 if change.double_opt_in else " (single opt-in)")
    # The line already says these; the planner's note says them again in its own words.
    said = ("double opt-in",) if change.double_opt_in else ()
    if pending:
        said += ("consent email sent",)
    note = without_clauses(change.note, said)
    if note:
        text += f": {note}"
    return text


def without_clauses(note: str, said: tuple[str, ...]) -> str:
    """The planner's note minus the clauses that repeat what the line already says."""
    parts = [p for p in re.split(r";\s*", note)
             if p.strip() and not any(phrase in p for phrase in said)]
    return "; ".join(parts)


def pending_since(change: ConsentChange) -> str | None:
    """When a consent email went out for this change, if one is awaiting confirmation."""
    return change.pending_since or None


@dataclass(frozen=True)
class GuardLine:
    """One guarded change of a plan: its kind, the planner's words, held or applied."""

    kind: str
    text: str
    held: bool


def guard_lines(plan: Plan) -> list[GuardLine]:
    """The plan's guard verdict, one line per guarded change."""
    if not has_guard(plan):  # a plan built without reasons: its held changes speak for it
        return [GuardLine("consent", consent_words(c), True) for c in plan.guarded_consent]
    held = plan.guard.held
    return [GuardLine(r.kind.value, r.text, r.kind in held) for r in plan.guard.reasons]


def has_guard(plan: Plan) -> bool:
    """Whether the planner named the guarded changes of the plan in its verdict."""
    return bool(plan.guard.reasons)


def held_kinds(plan: Plan) -> frozenset[GuardKind]:
    """The guard kinds this plan's push needs the operator to confirm."""
    return plan.guard.held


def unknown_facts(plan: Plan) -> tuple[str, ...]:
    """Facts the plan was made without (list membership, consent state, ...)."""
    return plan.unknown


# Klaviyo refuses an address without a dotted domain ending in letters (ethan@example).
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)*\.[A-Za-z]{2,}$")


def email_problem(address: object) -> str:
    """Why Klaviyo will refuse this email address ("" when it looks deliverable)."""
    if not isinstance(address, str) or not address:
        return ""
    if EMAIL_SHAPE.match(address):
        return ""
    if "@" not in address:
        return f"email '{address}' has no @: Klaviyo will refuse it"
    if " " in address.strip():
        return f"email '{address}' contains a space: Klaviyo will refuse it"
    return f"email '{address}' has no domain ending such as .com: Klaviyo will refuse it"


def plan_email(plan: Plan) -> object:
    """The email the plan would send, if any."""
    data = (plan.payload or {}).get("data", {})
    return data.get("attributes", {}).get("email") if isinstance(data, dict) else None


def stale_link_notes(plan: Plan) -> list[str]:
    """The plan's warnings about a link to a profile Klaviyo no longer has."""
    return [w for w in plan.warnings if w.startswith("stale link")]


def consent_is_risky(change: ConsentChange) -> bool:
    """Risky changes are the ones the consent guard holds, plus any double opt-in email sent."""
    return change.risky or (change.double_opt_in and pending_since(change) is None)


def list_words(change: ListChange) -> str:
    verb = "Add to" if change.action is ListAction.ADD else "Remove from"
    return f"{verb} list '{change.list_name}' (membership only, consent untouched)"


def customer_label(plan: Plan) -> str:
    """The customer's name and email as the plan would send them (for recent lookups)."""
    data = (plan.payload or {}).get("data", {})
    attributes = data.get("attributes", {}) if isinstance(data, dict) else {}
    name = " ".join(str(attributes[k]) for k in ("first_name", "last_name") if attributes.get(k))
    email = attributes.get("email")
    return " ".join(part for part in (name, f"<{email}>" if email else "") if part) or "-"


def pretty_json(value: Any) -> str:
    if value is None:
        return "(no profile yet)"
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def cell(value: Any, missing: str = "") -> str:
    """A field value as one short line: strings bare, structures as JSON, `missing` for None."""
    if value is None:
        return missing
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def short_time(stamp: str) -> str:
    """'2026-07-01T09:30:12.123+00:00' -> '2026-07-01 09:30:12'."""
    return stamp.replace("T", " ")[:19]


def wants_consent_email(plan: Plan) -> bool:
    """Whether a push of this plan could ask Klaviyo for a double opt-in consent email."""
    return any(change.double_opt_in or pending_since(change) for change in plan.consent)


def push_outcome(result: Any, errors_key: str) -> tuple[str, str, SeverityLevel]:
    """Toast title, status words and severity for a push: done, partial, held or failed."""
    cid = result.plan.customer_id
    error = result.error
    partial = tuple(getattr(result, "partial", ()))  # the engine's PushResult, or a stand-in
    if partial:
        fields = ", ".join(name.replace("_", " ") for name in partial)
        return ("Push partly done", f"Partial success: profile {result.profile_id} of customer "
                f"{cid} was saved without {fields}. {FIXES[ErrorKind.PHONE_REJECTED]}",
                "warning")
    if result.ok:
        return "Push done", f"Pushed customer {cid} to profile {result.profile_id}.", "information"
    if result.held:
        why = f": {error.message}" if error is not None and error.message else ""
        return ("Push held", f"Customer {cid} held by the consent guard{why}. Nothing was sent; "
                f"{errors_key} shows the record.", "warning")
    detail = error.message if error is not None else f"see the error log ({errors_key})"
    fix = FIXES.get(error.kind, "") if error is not None else ""
    return "Push failed", f"Push of customer {cid} failed: {detail}. {fix}".strip(), "error"


def parse_ids(text: str) -> list[str]:
    """Customer ids separated by spaces, commas or new lines, duplicates dropped in order."""
    return list(dict.fromkeys(part for part in re.split(r"[\s,;]+", text) if part))


def looks_like_id(query: str) -> bool:
    """iPaaS.com Customer ids (Manual Sync format) are whole numbers."""
    return query.isdigit()


def not_ids_refusal(ids: list[str], what: str) -> str | None:
    """Why these words cannot be customer ids, or None when they all can."""
    # A typo would only come back as "not found": refuse it before anything runs.
    wrong = [part for part in ids if not looks_like_id(part)]
    if not wrong:
        return None
    return (f"Not a customer id: {', '.join(wrong[:5])}. iPaaS.com customer ids are whole "
            f"numbers such as 55260; {what}.")
