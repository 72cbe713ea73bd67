"""The planner's front door: map a Customer with the collection its route needs, then plan it."""

from __future__ import annotations

from core.mapping import Template, apply
from core.model import Collection, Customer, Plan
from core.plan.route import PlanSettings, Resolution, plan_from_mapped

_ADD, _UPDATE = Collection.ADD, Collection.UPDATE


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
    # collection_for(resolution), template.on_match and apply, spelled out: this runs once per
    # planned customer, and those were four calls around a few attribute reads.
    if resolution.link is not None and resolution.linked_profile is not None:
        mapped = template.update.run(customer, _UPDATE, resolution.link, settings.default_region)
        return plan_from_mapped(None, mapped, resolution, settings)
    # A stale link must not reach the Add mapping: its Id would target a profile that is gone.
    add = template.add
    mapped = add.run(customer, _ADD, None, settings.default_region)
    return plan_from_mapped(mapped, None, resolution, settings, add.on_match)
