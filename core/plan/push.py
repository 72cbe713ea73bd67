"""The one planner: map a Customer with the collection its link selects, route it, assemble."""

from __future__ import annotations

from core.mapping import Template, apply
from core.model import Collection, Customer, MappedProfile, Plan
from core.plan.assemble import Basis, assemble
from core.plan.decide import decide
from core.plan.facts import Facts, PlanSettings
from core.plan.legacy import Resolution, facts_of


def plan_customer(facts: Facts, template: Template, settings: PlanSettings) -> Plan:
    """Everything a push of this customer would do, given the facts; every mode plans here."""
    if facts.linked:
        update = apply(facts.customer, template, Collection.UPDATE, link=facts.link,
                       default_region=settings.default_region)
        return plan_mapped(facts, None, update, settings)
    # A stale link must not reach the Add mapping: its Id would target a profile that is gone.
    add = apply(facts.customer, template, Collection.ADD, default_region=settings.default_region)
    return plan_mapped(facts, add, None, settings, template.on_match(Collection.ADD))


def plan_mapped(facts: Facts, mapped_add: MappedProfile | None,
                mapped_update: MappedProfile | None, settings: PlanSettings,
                on_match: str = "patch") -> Plan:
    """plan_customer after the mapping, for callers that mapped the customer already."""
    decision = decide(facts, mapped_add, mapped_update, on_match)
    basis = None if facts.linked else Basis(decision.mapped, facts, settings, on_match)
    return assemble(decision, facts, settings, basis)


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
    """plan_customer over what the engine's old lookups found (kept while callers move)."""
    return plan_customer(facts_of(resolution, customer), template, settings or PlanSettings())


def plan_from_mapped(
    mapped_add: MappedProfile | None,
    mapped_update: MappedProfile | None,
    resolution: Resolution,
    settings: PlanSettings | None = None,
    on_match: str = "patch",
) -> Plan:
    """plan_mapped over a Resolution, for the engine that mapped already (kept while it moves)."""
    customer_id = (mapped_add or mapped_update or _nobody()).customer_id
    facts = facts_of(resolution, Customer(id=customer_id))
    return plan_mapped(facts, mapped_add, mapped_update, settings or PlanSettings(), on_match)


def _nobody() -> MappedProfile:
    raise ValueError("plan_from_mapped needs the Add or the Update collection's mapping")
