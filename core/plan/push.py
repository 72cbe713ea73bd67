"""The planner's front door: map a Customer with the collection its route needs, then plan it."""

from __future__ import annotations

from core.mapping import Template, apply
from core.model import Collection, Customer, Plan
from core.plan.route import PlanSettings, Resolution, plan_from_mapped


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
    # collection_for(resolution) and template.on_match, spelled out: this runs once per
    # planned customer, and those were three calls around two attribute reads.
    if resolution.link is not None and resolution.linked_profile is not None:
        mapped = apply(customer, template, Collection.UPDATE, link=resolution.link,
                       default_region=settings.default_region)
        return plan_from_mapped(None, mapped, resolution, settings)
    # A stale link must not reach the Add mapping: its Id would target a profile that is gone.
    mapped = apply(customer, template, Collection.ADD, default_region=settings.default_region)
    return plan_from_mapped(mapped, None, resolution, settings, on_match=template.add.on_match)
