"""The planner's front door: map a Customer with the collection its route needs, then plan it."""

from __future__ import annotations

from core.mapping import Template, apply
from core.model import Collection, Customer, Plan
from core.plan.route import PlanSettings, Resolution, collection_for, plan_from_mapped


def identifiers(
    customer: Customer, template: Template, settings: PlanSettings | None = None
) -> tuple[str | None, str | None]:
    """The email and E.164 phone the Add collection maps: what to match profiles by."""
    settings = settings or PlanSettings()
    mapped = apply(customer, template, Collection.ADD, default_region=settings.default_region)
    email = mapped.attributes.get("email")
    phone = mapped.attributes.get("phone_number")
    return (email if isinstance(email, str) and email else None,
            phone if isinstance(phone, str) and phone else None)


def plan_push(
    customer: Customer,
    template: Template,
    resolution: Resolution,
    settings: PlanSettings | None = None,
) -> Plan:
    """Everything a push of this customer would do, given what the lookups found."""
    settings = settings or PlanSettings()
    collection = collection_for(resolution)
    if collection is Collection.UPDATE:
        mapped = apply(customer, template, collection, link=resolution.link,
                       default_region=settings.default_region)
        return plan_from_mapped(None, mapped, resolution, settings)
    # A stale link must not reach the Add mapping: its Id would target a profile that is gone.
    mapped = apply(customer, template, collection, default_region=settings.default_region)
    return plan_from_mapped(mapped, None, resolution, settings, template.on_match(collection))
