"""Pure planning: routing, matching, consent and list operations, the guard, and the diff."""

from core.plan.assemble import payload_attributes, plan_conflict
from core.plan.decide import Decision, decide
from core.plan.diff import field_diff
from core.plan.facts import (
    CONSENT_STATE,
    LIST_MEMBERSHIP,
    PENDING_CONSENT_EMAILS,
    Facts,
    PlanSettings,
)
from core.plan.legacy import Resolution, collection_for, facts_of
from core.plan.policy import ConsentPolicy, parse_guard_kinds
from core.plan.push import identifiers, plan_customer, plan_from_mapped, plan_mapped, plan_push

__all__ = [
    "CONSENT_STATE",
    "LIST_MEMBERSHIP",
    "PENDING_CONSENT_EMAILS",
    "ConsentPolicy",
    "Decision",
    "Facts",
    "PlanSettings",
    "Resolution",
    "collection_for",
    "decide",
    "facts_of",
    "field_diff",
    "identifiers",
    "parse_guard_kinds",
    "payload_attributes",
    "plan_conflict",
    "plan_customer",
    "plan_from_mapped",
    "plan_mapped",
    "plan_push",
]
