"""Apply a compiled template to one Customer: the mapped profile, its warnings and its errors."""

from __future__ import annotations

from core.mapping.formula import Evaluation
from core.mapping.template import Template
from core.model import Collection, Customer, MappedProfile, fast_init

NO_IDENTIFIER = (
    "no valid identifier: the customer has no email address and no phone number that "
    "normalizes to E.164; add one in iPaaS.com"
)


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
