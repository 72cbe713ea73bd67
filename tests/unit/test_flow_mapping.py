"""The engine maps only the collection a customer's link selects; the other only on demand."""

from __future__ import annotations

from importlib import resources
from types import SimpleNamespace
from typing import Any, cast

from core.engine.flow import Context, map_customer
from core.mapping import apply, load_template, parse_template
from core.mapping.template import DEFAULT_NAME
from core.model import Collection, Customer
from core.plan import PlanSettings

TEMPLATE = load_template()
TEMPLATE_TEXT = resources.files("core.mapping").joinpath(DEFAULT_NAME).read_text(encoding="utf-8")


def context(template: Any = TEMPLATE) -> Context:
    return cast(Context, SimpleNamespace(template=template, settings=PlanSettings()))


def customer(**overrides: Any) -> Customer:
    raw: dict[str, Any] = {
        "id": 7, "customer_number": "(202) 555-0143", "email_address": "ann@example.com",
        "addresses": [{"city": "Springfield", "country": "US", "is_primary_billing": True}],
    }
    raw.update(overrides)
    return Customer.from_api(raw)


def test_a_linked_customer_maps_update_only_until_add_is_asked_for() -> None:
    found = customer()
    mapped = map_customer(context(), found, "01JLINK")
    assert mapped._add is None
    assert mapped.update == apply(found, TEMPLATE, Collection.UPDATE, link="01JLINK")
    # The default template maps email and phone by the same rows in both collections.
    assert mapped.identifiers == ("ann@example.com", "+12025550143")
    assert mapped.probe() == ("ann@example.com", None)
    assert mapped.list_names == ["Sms Subscribers", "Preview List"]
    assert mapped._add is None
    assert mapped.add == apply(found, TEMPLATE, Collection.ADD, link=None)


def test_an_unlinked_customer_maps_add_only() -> None:
    found = customer(email_address=None)
    mapped = map_customer(context(), found, None)
    assert mapped._update is None
    assert mapped.identifiers == (None, "+12025550143")
    assert mapped.probe() == (None, "+12025550143")
    assert mapped._update is None


def test_identifiers_come_from_add_when_the_collections_map_them_differently() -> None:
    text = (TEMPLATE_TEXT.replace('source = "EmailAddress"', 'formula = "lower(EmailAddress)"', 1)
            .replace('kind = "field"\nformula', 'kind = "formula"\nformula', 1))
    template = parse_template(text)
    assert not template.identifiers_agree
    found = customer(email_address="Ann@Example.com")
    mapped = map_customer(context(template), found, "01JLINK")
    assert mapped.identifiers == ("ann@example.com", "+12025550143")
    assert mapped.update.attributes["email"] == "Ann@Example.com"
    # The linked probe prefers the Update collection's email, as before.
    assert mapped.probe() == ("Ann@Example.com", None)


def test_a_link_formula_in_an_identifier_row_never_counts_as_agreeing() -> None:
    text = TEMPLATE_TEXT.replace(
        'destination = "Email"\nkind = "field"\nsource = "EmailAddress"',
        'destination = "Email"\nkind = "formula"\nformula = "coalesce(EmailAddress, Link())"')
    assert not parse_template(text).identifiers_agree
    assert TEMPLATE.identifiers_agree


