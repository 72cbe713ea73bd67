"""Apply a compiled template to one Customer: the mapped profile, its warnings and its errors."""

from __future__ import annotations

from core.mapping.formula import Evaluation
from core.mapping.generated import NO_IDENTIFIER
from core.mapping.template import Template
from core.model import Collection, Customer, MappedProfile, fast_init

__all__ = ["NO_IDENTIFIER", "apply", "apply_steps"]


# Built once per customer and collection: the frozen __init__ is skipped (same instance).
_MappedProfile = fast_init(MappedProfile)


def apply(
    customer: Customer,
    template: Template,
    collection: Collection,
    *,
    link: str | None = None,
    default_region: str = "US",
) -> MappedProfile:
    """Map a Customer through one collection; `link` is the stored Klaviyo profile id, if any."""
    # template.collection(collection), without the call; its rows run as one generated function.
    compiled = template.add if collection is Collection.ADD else template.update
    return compiled.run(customer, collection, link, default_region)


def apply_steps(
    customer: Customer,
    template: Template,
    collection: Collection,
    *,
    link: str | None = None,
    default_region: str = "US",
) -> MappedProfile:
    """apply by its plain definition: each compiled row's step run in order on one Evaluation."""
    evaluation = Evaluation(customer, link, default_region)
    # template.collection(collection), without the call.
    compiled = template.add if collection is Collection.ADD else template.update
    for step in compiled.steps:
        step(evaluation)
    attributes = evaluation.attributes
    if evaluation.location:
        attributes["location"] = evaluation.location
    errors = evaluation.errors
    if "email" not in attributes and "phone_number" not in attributes:
        errors.insert(0, NO_IDENTIFIER)
    return _MappedProfile(
        customer_id=customer.id,
        collection=collection,
        attributes=attributes,
        properties=evaluation.properties,
        subscribe=evaluation.subscribe,
        list_intents=tuple(evaluation.list_intents),
        phone_valid=evaluation.phone_valid,
        warnings=tuple(evaluation.warnings) if evaluation.warnings else (),
        errors=tuple(errors) if errors else (),
        profile_id=evaluation.profile_id,
    )
