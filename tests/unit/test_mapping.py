"""apply(): the default rows, custom-field conventions, empty values and the identifier rule."""

from __future__ import annotations

from typing import Any

import pytest

from core.mapping import NO_IDENTIFIER, apply, load_template, parse_template
from core.model import Collection, Customer, ListIntent

TEMPLATE = load_template()


def customer(**overrides: Any) -> Customer:
    raw: dict[str, Any] = {
        "id": 55260,
        "customer_number": "(202) 555-0143",
        "first_name": "Ann",
        "last_name": "Lee",
        "email_address": "ann@example.com",
        "company": "Acme",
        "addresses": [
            {"address_1": "9 Side St", "city": "Elsewhere", "country": "US",
             "is_primary_billing": False},
            {"address_1": "1 Main St", "address_2": "Suite 4", "city": "Springfield",
             "region": "IL", "postal_code": "62701", "country": "US", "is_primary_billing": True},
            {"address_1": "2 Late St", "city": "Later", "is_primary_billing": True},
        ],
        "custom_fields": [{"custom_field_name": "Newsletter", "value": "TRUE"}],
    }
    raw.update(overrides)
    return Customer.from_api(raw)


@pytest.mark.parametrize("collection", [Collection.ADD, Collection.UPDATE])
def test_every_default_row_maps_the_spec_customer(collection: Collection) -> None:
    mapped = apply(customer(), TEMPLATE, collection, link="01JPROFILE")
    assert mapped.attributes == {
        "email": "ann@example.com",
        "phone_number": "+12025550143",
        "external_id": "55260",
        "first_name": "Ann",
        "last_name": "Lee",
        "organization": "Acme",
        "location": {
            "address1": "1 Main St", "address2": "Suite 4", "city": "Springfield",
            "region": "IL", "zip": "62701", "country": "US",
        },
    }
    assert mapped.properties == {"My Custom": "Example value"}
    assert mapped.subscribe is True
    assert mapped.list_intents == (
        ListIntent("Sms Subscribers", consent=True, member=True),
        ListIntent("Preview List", consent=False, member=True),
    )
    assert mapped.profile_id == "01JPROFILE"
    assert mapped.phone_valid is True
    assert mapped.errors == () and mapped.warnings == ()
    assert mapped.collection is collection and mapped.customer_id == "55260"


def test_the_default_template_has_the_spec_18_rows_in_both_collections() -> None:
    for collection in Collection:
        assert [row.destination for row in TEMPLATE.rows(collection)] == [
            "Type", "Id", "Email", "PhoneNumber", "ExternalId", "FirstName", "LastName",
            "Organization", "Address1", "Address2", "City", "Region", "Zip", "Country",
            "SubscribeProfile", "LIST_Sms Subscribers", "UCLIST_Preview List", "My Custom",
        ]
        assert TEMPLATE.on_match(collection) == "patch"
    assert TEMPLATE.list_names() == ("Sms Subscribers", "Preview List")


def test_unlinked_customer_has_no_profile_id() -> None:
    assert apply(customer(), TEMPLATE, Collection.ADD).profile_id is None


def test_empty_source_values_are_omitted_not_null() -> None:
    bare = customer(company="  ", last_name=None, addresses=[])
    mapped = apply(bare, TEMPLATE, Collection.UPDATE)
    assert "organization" not in mapped.attributes
    assert "last_name" not in mapped.attributes
    assert "location" not in mapped.attributes
    assert None not in mapped.attributes.values()


def test_first_primary_billing_address_wins_and_none_means_no_address() -> None:
    only_shipping = [{"address_1": "1 Main", "city": "X", "is_primary_billing": False,
                      "is_primary_shipping": True}]
    assert "location" not in apply(customer(addresses=only_shipping), TEMPLATE,
                                   Collection.ADD).attributes
    location = apply(customer(), TEMPLATE, Collection.ADD).attributes["location"]
    assert location["address1"] == "1 Main St"


def test_phone_country_comes_from_the_billing_address() -> None:
    uk = [{"address_1": "1 High St", "city": "London", "country": "United Kingdom",
           "is_primary_billing": True}]
    mapped = apply(customer(customer_number="020 7946 0958", addresses=uk), TEMPLATE,
                   Collection.ADD)
    assert mapped.attributes["phone_number"] == "+442079460958"
    no_address = apply(customer(customer_number="020 7946 0958", addresses=[]), TEMPLATE,
                       Collection.ADD, default_region="GB")
    assert no_address.attributes["phone_number"] == "+442079460958"


def test_an_unusable_customer_number_is_omitted_with_a_warning() -> None:
    mapped = apply(customer(customer_number="N/A"), TEMPLATE, Collection.ADD)
    assert "phone_number" not in mapped.attributes
    assert mapped.phone_valid is None
    assert mapped.warnings == ("customer number 'N/A' has no digits; no phone sent",)


def test_an_invalid_phone_is_sent_with_a_warning() -> None:
    mapped = apply(customer(customer_number="555 555 0123"), TEMPLATE, Collection.ADD)
    assert mapped.attributes["phone_number"] == "+15555550123"
    assert mapped.phone_valid is False
    assert any("Klaviyo will probably reject it" in w for w in mapped.warnings)


def test_an_unknown_billing_country_is_warned_about() -> None:
    odd = [{"address_1": "1 Main", "country": "Atlantis", "is_primary_billing": True}]
    mapped = apply(customer(addresses=odd), TEMPLATE, Collection.ADD)
    assert mapped.attributes["phone_number"] == "+12025550143"
    assert any("'Atlantis'" in w for w in mapped.warnings)


def test_no_email_and_no_phone_is_a_blocking_error() -> None:
    mapped = apply(customer(email_address=None, customer_number="call me"), TEMPLATE,
                   Collection.ADD)
    assert mapped.errors[0] == NO_IDENTIFIER
    assert "no valid identifier" in NO_IDENTIFIER
    assert not mapped.has_identifier


def test_a_phone_alone_is_an_identifier() -> None:
    mapped = apply(customer(email_address=None), TEMPLATE, Collection.ADD)
    assert mapped.errors == ()
    assert mapped.has_identifier


def test_an_email_that_does_not_look_like_one_is_warned_about() -> None:
    mapped = apply(customer(email_address="ann at example"), TEMPLATE, Collection.ADD)
    assert mapped.attributes["email"] == "ann at example"
    assert any("does not look like an email" in w for w in mapped.warnings)


# ---------------------------------------------------------------------------------------------
# Custom-field conventions
# ---------------------------------------------------------------------------------------------


def conventions(destination: str) -> str:
    row = f'''
[[{{c}}.mappings]]
destination = "Email"
kind = "field"
source = "EmailAddress"
[[{{c}}.mappings]]
destination = "{destination}"
kind = "formula"
formula = 'custom_field("Flag")'
'''
    return "".join(f"[{c}]\n" + row.replace("{c}", c) for c in ("add", "update"))


def flagged(destination: str, value: str | None) -> Any:
    template = parse_template(conventions(destination))
    fields = [] if value is None else [{"custom_field_name": "Flag", "value": value}]
    return apply(customer(custom_fields=fields), template, Collection.ADD)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("TRUE", True), (" True ", True), ("false", False), ("False", False),
     ("  FALSE", False)],
)
def test_subscribe_profile_accepts_true_and_false_in_any_case(value: str, expected: bool) -> None:
    mapped = flagged("SubscribeProfile", value)
    assert mapped.subscribe is expected
    assert mapped.errors == ()


@pytest.mark.parametrize("value", ["yes", "no", "1", "0", "Y", "on", "truee"])
def test_subscribe_profile_rejects_anything_else_naming_destination_and_value(value: str) -> None:
    mapped = flagged("SubscribeProfile", value)
    assert mapped.subscribe is None
    assert mapped.errors == (f"SubscribeProfile must be true or false, got {value!r}",)


def test_subscribe_profile_empty_counts_as_unmapped_with_a_warning() -> None:
    mapped = flagged("SubscribeProfile", None)
    assert mapped.subscribe is None
    assert mapped.errors == ()
    assert any("unsubscribed" in w for w in mapped.warnings)


def test_unmapped_subscribe_profile_is_none() -> None:
    mapped = flagged("Anything", "x")
    assert mapped.subscribe is None and mapped.warnings == ()


@pytest.mark.parametrize(
    ("destination", "value", "intent"),
    [
        ("LIST_Newsletter", "true", ListIntent("Newsletter", consent=True, member=True)),
        ("LIST_Newsletter", "False", ListIntent("Newsletter", consent=True, member=False)),
        ("UCLIST_VIP Club", "TRUE", ListIntent("VIP Club", consent=False, member=True)),
        ("UCLIST_VIP Club", "false ", ListIntent("VIP Club", consent=False, member=False)),
    ],
)
def test_list_conventions(destination: str, value: str, intent: ListIntent) -> None:
    mapped = flagged(destination, value)
    assert mapped.list_intents == (intent,)
    assert mapped.properties == {}


@pytest.mark.parametrize("destination", ["LIST_Newsletter", "UCLIST_VIP Club"])
def test_an_empty_list_value_means_no_intent(destination: str) -> None:
    for value in (None, "", "  "):
        mapped = flagged(destination, value)
        assert mapped.list_intents == () and mapped.errors == ()


@pytest.mark.parametrize("destination", ["LIST_Newsletter", "UCLIST_VIP Club"])
def test_a_list_value_other_than_true_or_false_is_an_error(destination: str) -> None:
    mapped = flagged(destination, "maybe")
    assert mapped.list_intents == ()
    assert mapped.errors == (f"{destination} must be true or false, got 'maybe'",)


def test_any_other_destination_is_a_property() -> None:
    mapped = flagged("Loyalty Tier", "Gold")
    assert mapped.properties == {"Loyalty Tier": "Gold"}
    assert flagged("list_price", "9").properties == {"list_price": "9"}


def test_static_booleans_and_numbers_keep_their_type_in_properties() -> None:
    text = "".join(
        f'[{c}]\n[[{c}.mappings]]\ndestination = "Email"\nkind = "field"\nsource = "EmailAddress"\n'
        f'[[{c}.mappings]]\ndestination = "Vip"\nkind = "static"\nvalue = true\n'
        f'[[{c}.mappings]]\ndestination = "Score"\nkind = "static"\nvalue = 7\n'
        for c in ("add", "update")
    )
    mapped = apply(customer(), parse_template(text), Collection.UPDATE)
    assert mapped.properties == {"Vip": True, "Score": 7}


def test_a_field_mapped_to_phone_number_is_normalized_too() -> None:
    text = "".join(
        f'[{c}]\n[[{c}.mappings]]\ndestination = "PhoneNumber"\nkind = "field"\n'
        'source = "CustomerNumber"\n'
        for c in ("add", "update")
    )
    mapped = apply(customer(customer_number="202.555.0143"), parse_template(text), Collection.ADD)
    assert mapped.attributes == {"phone_number": "+12025550143"}
    assert mapped.phone_valid is True
