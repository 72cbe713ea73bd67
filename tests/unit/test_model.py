import pytest

from core.model import ConsentState, Customer, CustomerDataError, Profile


def test_customer_from_api_accepts_number_or_string_id() -> None:
    assert Customer.from_api({"id": 55260}).id == "55260"
    assert Customer.from_api({"id": "55260"}).id == "55260"


def test_malformed_flag_names_customer_and_field() -> None:
    raw = {"id": 55260, "addresses": [{}, {"is_primary_billing": "yes"}]}
    with pytest.raises(CustomerDataError) as info:
        Customer.from_api(raw)
    assert str(info.value) == (
        "customer 55260: addresses[1].is_primary_billing must be true or false, got 'yes'"
    )


def test_primary_billing_is_first_marked_address() -> None:
    customer = Customer.from_api({"id": 1, "addresses": [
        {"city": "Ship", "is_primary_shipping": True},
        {"city": "Bill A", "is_primary_billing": True},
        {"city": "Bill B", "is_primary_billing": True},
    ]})
    assert customer.primary_billing is not None
    assert customer.primary_billing.city == "Bill A"


def test_round_trip_through_api_json() -> None:
    raw = {"id": 7, "email_address": "a@b.com", "custom_fields": [
        {"custom_field_name": "SubscribeProfile", "value": "true"}]}
    customer = Customer.from_api(raw)
    assert Customer.from_api(customer.to_api()) == customer
    assert customer.custom_field("subscribeprofile") == "true"


def test_profile_reads_consent() -> None:
    profile = Profile.from_api({"id": "01J", "attributes": {
        "email": "a@b.com",
        "subscriptions": {"email": {"marketing": {"consent": "SUBSCRIBED"}}}}})
    assert profile.subscriptions is not None
    assert profile.subscriptions.email is ConsentState.SUBSCRIBED
    assert "subscriptions" not in profile.attributes
