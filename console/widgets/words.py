"""Plain words for plans, consent changes and error records, shared by the screens."""

from __future__ import annotations

import json
from typing import Any

from core.model import (
    Change,
    ConsentAction,
    ConsentChange,
    ErrorKind,
    ListAction,
    ListChange,
    MatchedBy,
    Plan,
    Route,
)

RICH_CHANGE_STYLE = {
    Change.ADDED: "bold green",
    Change.CHANGED: "bold yellow",
    Change.UNCHANGED: "dim",
    Change.KEPT: "italic cyan",
}

FIXES = {
    ErrorKind.NO_IDENTIFIER: "Give the customer an email address or a phone number in "
    "iPaaS.com, then retry.",
    ErrorKind.PHONE_REJECTED: "Correct the phone number in iPaaS.com (Klaviyo needs a valid "
    "E.164 number), or clear it, then retry.",
    ErrorKind.API_UNAVAILABLE: "The service did not answer. Nothing to fix on the record: "
    "retry when it is reachable again.",
    ErrorKind.RATE_LIMITED: "Klaviyo asked us to slow down. Retry later; the batch paces "
    "itself from the rate-limit headers.",
    ErrorKind.VALIDATION: "Klaviyo refused a field. Fix the value named in the message in "
    "iPaaS.com or in the mapping template, then retry.",
    ErrorKind.CONFLICT: "Another profile already holds this email or phone. Retry links "
    "to that profile.",
    ErrorKind.LIST_NOT_FOUND: "Create the named list in Klaviyo, or change the LIST_/UCLIST_ "
    "field in the template, then retry.",
    ErrorKind.CONSENT_GUARD: "The push would change consent (unsubscribe or double opt-in). "
    "Open the customer, check the consent changes and push with confirmation.",
    ErrorKind.NOT_FOUND: "The customer or profile no longer exists. Check the id; retry "
    "creates the profile again if the customer still exists.",
    ErrorKind.AUTH: "A key or token was refused. Fix the credentials in the environment or "
    "config file, restart, then retry.",
    ErrorKind.INTERNAL: "Something unexpected happened. Retry once; if it fails again, "
    "report it with the error id.",
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
    """One line naming the consent job a push would run."""
    verb = "Subscribe" if change.action is ConsentAction.SUBSCRIBE else "Unsubscribe"
    text = f"{verb} {change.channel.value} marketing"
    if change.list_name:
        text += f" via list {change.list_name!r}"
    if change.double_opt_in:
        text += " (double opt-in: Klaviyo emails a confirmation, consent stays pending)"
    if change.note:
        text += f": {change.note}"
    return text


def consent_is_risky(change: ConsentChange) -> bool:
    """Risky changes are the ones the consent guard holds, plus any double opt-in email."""
    return change.risky or change.double_opt_in


def list_words(change: ListChange) -> str:
    verb = "Add to" if change.action is ListAction.ADD else "Remove from"
    return f"{verb} list {change.list_name!r} (membership only, consent untouched)"


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
