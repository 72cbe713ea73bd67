"""Pure planning: routing, matching, consent and list operations, and the field diff."""

from core.plan.diff import field_diff
from core.plan.push import identifiers, plan_push
from core.plan.route import (
    PlanSettings,
    Resolution,
    collection_for,
    payload_attributes,
    plan_conflict,
    plan_from_mapped,
)

__all__ = [
    "PlanSettings",
    "Resolution",
    "collection_for",
    "field_diff",
    "identifiers",
    "payload_attributes",
    "plan_conflict",
    "plan_from_mapped",
    "plan_push",
]
