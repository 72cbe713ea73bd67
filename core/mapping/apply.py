"""Apply a compiled template to one Customer: the mapped profile, its warnings and its errors."""

from __future__ import annotations

from core.mapping.formula import Evaluation
from core.mapping.template import Template
from core.model import Collection, Customer, MappedProfile

__all__ = ["NO_IDENTIFIER", "apply"]

NO_IDENTIFIER = (
    "no valid identifier: the customer has no email address and no phone number that "
    "normalizes to E.164; add one in iPaaS.com"
)


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
    for step in template.collection(collection).steps:
        step(evaluation)
    attributes = evaluation.attributes
    if evaluation.location:
        attributes["location"] = evaluation.location
    errors = evaluation.errors
    if "email" not in attributes and "phone_number" not in attributes:
        errors.insert(0, NO_IDENTIFIER)
    return MappedProfile(
        customer_id=customer.id,
        collection=collection,
        attributes=attributes,
        properties=evaluation.properties,
        subscribe=evaluation.subscribe,
        list_intents=tuple(evaluation.list_intents),
        phone_valid=evaluation.phone_valid,
        warnings=tuple(evaluation.warnings),
        errors=tuple(errors),
        profile_id=evaluation.profile_id,
        subscribe_from_customer=evaluation.subscribe_from_customer,
    )
