"""MappedProfile.subscribe_from_customer: whether a SubscribeProfile value is the customer's own."""

from __future__ import annotations

import pytest

from core.mapping import apply, load_template, parse_template
from core.model import Collection, Customer, CustomField


def _template(kind: str, key: str, text: str) -> str:
    row = (f'[[{{c}}.mappings]]\ndestination = "Email"\nkind = "field"\nsource = "EmailAddress"\n'
           f'[[{{c}}.mappings]]\ndestination = "SubscribeProfile"\nkind = "{kind}"\n'
           f"{key} = {text}\n")
    return "".join(f"[{c}]\n" + row.replace("{c}", c) for c in ("add", "update"))


def _mapped(kind: str, key: str, text: str, flag: str | None = None,
            comment: str | None = None) -> tuple[bool | None, bool]:
    fields = () if flag is None else (CustomField("Flag", flag),)
    customer = Customer(id="1", email_address="a@example.com", comment=comment,
                        custom_fields=fields)
    mapped = apply(customer, parse_template(_template(kind, key, text)), Collection.ADD)
    return mapped.subscribe, mapped.subscribe_from_customer


@pytest.mark.parametrize("value", ["true", "false"])
def test_a_static_row_is_the_template_s_value(value: str) -> None:
    assert _mapped("static", "value", value) == (value == "true", False)


def test_a_field_row_is_the_customer_s_value() -> None:
    assert _mapped("field", "source", '"Comment"', comment="false") == (False, True)


@pytest.mark.parametrize("flag", ["false", "TRUE"])
def test_a_formula_reading_the_customer_is_the_customer_s_value(flag: str) -> None:
    assert _mapped("formula", "formula", "'custom_field(\"Flag\")'", flag) == (
        flag == "TRUE", True)


def test_a_formula_whose_false_may_be_its_own_literal_is_not_the_customer_s() -> None:
    formula = "'coalesce(custom_field(\"Flag\"), \"false\")'"
    assert _mapped("formula", "formula", formula, None) == (False, False)
    # the same row cannot tell the customer's false from its default: still not taken as theirs
    assert _mapped("formula", "formula", formula, "false") == (False, False)


def test_a_custom_field_named_false_is_still_the_customer_s() -> None:
    customer = Customer(id="1", email_address="a@example.com",
                        custom_fields=(CustomField("false", "false"),))
    template = parse_template(_template("formula", "formula", "'custom_field(\"false\")'"))
    mapped = apply(customer, template, Collection.ADD)
    assert (mapped.subscribe, mapped.subscribe_from_customer) == (False, True)


def test_a_formula_reading_nothing_of_the_customer_is_the_template_s() -> None:
    assert _mapped("formula", "formula", "'lower(\"FALSE\")'") == (False, False)


def test_unmapped_or_empty_is_none_and_not_the_customer_s() -> None:
    assert _mapped("formula", "formula", "'custom_field(\"Flag\")'", None) == (None, False)
    shipped = apply(Customer(id="1", email_address="a@example.com"), load_template(),
                    Collection.ADD)
    assert (shipped.subscribe, shipped.subscribe_from_customer) == (True, False)
