"""The field diff of design §9: its four kinds, its order, and Klaviyo's notion of equal."""

from __future__ import annotations

from core.model import Change, FieldDiff
from core.plan import field_diff


def kinds(diff: tuple[FieldDiff, ...]) -> dict[str, Change]:
    return {d.field: d.change for d in diff}


def test_the_four_kinds() -> None:
    current = {"email": "ann@example.com", "first_name": "Ann", "title": "CEO",
               "properties": {"$source": "API"}}
    sent = {"email": "ann@example.com", "first_name": "Anne", "last_name": "Lee"}
    diff = field_diff(current, sent)
    assert kinds(diff) == {
        "email": Change.UNCHANGED,
        "first_name": Change.CHANGED,
        "last_name": Change.ADDED,
        "title": Change.KEPT,
        "properties.$source": Change.KEPT,
    }
    by_field = {d.field: d for d in diff}
    assert (by_field["first_name"].current, by_field["first_name"].mapped) == ("Ann", "Anne")
    assert (by_field["last_name"].current, by_field["last_name"].mapped) == (None, "Lee")
    assert (by_field["title"].current, by_field["title"].mapped) == ("CEO", None)


def test_create_has_only_added_fields_against_nothing() -> None:
    diff = field_diff(None, {"email": "a@b.co", "location": {"city": "Oslo"},
                             "properties": {"Tier": "gold"}})
    assert [(d.field, d.current, d.change) for d in diff] == [
        ("email", None, Change.ADDED),
        ("location.city", None, Change.ADDED),
        ("properties.Tier", None, Change.ADDED),
    ]


def test_order_is_identifiers_names_location_properties() -> None:
    current = {"properties": {"Old": 1}, "location": {"country": "US", "timezone": "UTC"},
               "organization": "Acme", "external_id": "55260", "locale": "en-US"}
    sent = {"properties": {"Tier": "gold"}, "location": {"city": "Boston", "address1": "1 Main"},
            "last_name": "Lee", "first_name": "Ann", "phone_number": "+15005550006",
            "email": "ann@example.com"}
    assert [d.field for d in field_diff(current, sent)] == [
        "email", "phone_number", "external_id",
        "first_name", "last_name", "organization",
        "locale",
        "location.address1", "location.city", "location.country", "location.timezone",
        "properties.Tier", "properties.Old",
    ]


def test_nested_fields_are_compared_one_by_one() -> None:
    current = {"location": {"city": "Boston", "zip": "02110"}}
    sent = {"location": {"city": "Cambridge"}}
    assert kinds(field_diff(current, sent)) == {
        "location.city": Change.CHANGED, "location.zip": Change.KEPT}


def test_metadata_and_empty_values_are_not_fields() -> None:
    current = {"email": "a@b.co", "created": "2024-01-01T00:00:00+00:00", "updated": "x",
               "last_event_date": None, "title": None, "image": "",
               "location": {"city": None, "ip": ""}, "properties": {}}
    assert kinds(field_diff(current, {"email": "a@b.co"})) == {"email": Change.UNCHANGED}


def test_email_case_and_phone_formatting_are_not_changes() -> None:
    current = {"email": "Ann@Example.com", "phone_number": "+1 500-555-0006"}
    sent = {"email": "ann@example.com", "phone_number": "+15005550006"}
    assert set(kinds(field_diff(current, sent)).values()) == {Change.UNCHANGED}


def test_other_strings_compare_exactly() -> None:
    diff = field_diff({"first_name": "ann", "properties": {"n": "1"}},
                      {"first_name": "Ann", "properties": {"n": 1}})
    assert set(kinds(diff).values()) == {Change.CHANGED}


def test_json_property_values_compare_whole() -> None:
    diff = field_diff({"properties": {"colors": ["blue", "red"]}},
                      {"properties": {"colors": ["blue", "red"]}})
    assert kinds(diff) == {"properties.colors": Change.UNCHANGED}


def test_within_a_group_sent_fields_come_first_in_their_own_order() -> None:
    current = {"image": "a.png", "locale": "en-US", "properties": {"Z": 1, "A": 2},
               "location": {"zip": "02110", "foo": "bar"}}
    sent = {"locale": "de-DE", "external_id": "7", "properties": {"M": 3, "Z": 1},
            "location": {"bar": "baz", "zip": "02110"}}
    assert [(d.field, d.change) for d in field_diff(current, sent)] == [
        ("external_id", Change.ADDED),
        ("locale", Change.CHANGED),
        ("image", Change.KEPT),
        ("location.zip", Change.UNCHANGED),
        ("location.bar", Change.ADDED),
        ("location.foo", Change.KEPT),
        ("properties.M", Change.ADDED),
        ("properties.Z", Change.UNCHANGED),
        ("properties.A", Change.KEPT),
    ]


def test_any_mapping_counts_as_nested_and_non_text_values_are_kept() -> None:
    from types import MappingProxyType

    current = MappingProxyType({"location": MappingProxyType({"city": "Oslo", "ip": "  "}),
                                "properties": {"n": 0, "flag": False, "list": [], "t": ()}})
    sent = {"properties": {"n": 0.0, "flag": False, "x": {"a": 1}, "empty": {}}}
    assert [(d.field, d.change) for d in field_diff(current, sent)] == [
        ("location.city", Change.KEPT),
        ("properties.n", Change.UNCHANGED),
        ("properties.flag", Change.UNCHANGED),
        ("properties.x", Change.ADDED),
    ]
