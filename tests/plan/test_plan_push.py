"""plan_push and identifiers through the shipped default template (the spec's 18 mappings)."""

from __future__ import annotations

from importlib import resources

from core.mapping import load_template, parse_template
from core.model import (
    Address,
    Change,
    ConsentState,
    Customer,
    CustomField,
    ErrorKind,
    KlaviyoList,
    MatchedBy,
    OptIn,
    Profile,
    Route,
    Subscriptions,
)
from core.plan import PlanSettings, Resolution, identifiers, plan_push

TEMPLATE = load_template()
ANN = Customer(
    id="55260", customer_number="(500) 555-0006", first_name="Ann", last_name="Lee",
    email_address="ann@example.com", company="Acme",
    addresses=(Address(address_1="1 Main St", city="Boston", region="MA", country="US",
                       postal_code="02110", is_primary_billing=True),),
    custom_fields=(CustomField("Newsletter", "true"),),
)
SMS = KlaviyoList(id="SmsL01", name="Sms Subscribers", opt_in_process=OptIn.SINGLE)
PREVIEW = KlaviyoList(id="PrvL01", name="Preview List", opt_in_process=OptIn.SINGLE)
LISTS = {SMS.name: SMS, PREVIEW.name: PREVIEW}
LINK = "01JLINKED0000000000000000A"
ANN_ATTRIBUTES = {
    "email": "ann@example.com", "phone_number": "+15005550006", "external_id": "55260",
    "first_name": "Ann", "last_name": "Lee", "organization": "Acme",
    "location": {"address1": "1 Main St", "city": "Boston", "region": "MA", "zip": "02110",
                 "country": "US"},
    "properties": {"My Custom": "Example value"},
}


def test_identifiers_are_the_email_and_the_e164_phone() -> None:
    assert identifiers(ANN, TEMPLATE, PlanSettings()) == ("ann@example.com", "+15005550006")
    assert identifiers(Customer(id="7"), TEMPLATE) == (None, None)


def test_unlinked_unmatched_customer_is_created_with_the_add_collection() -> None:
    plan = plan_push(ANN, TEMPLATE, Resolution(lists=LISTS))
    assert plan.route is Route.CREATE
    assert plan.payload == {"data": {"type": "profile", "attributes": ANN_ATTRIBUTES}}
    assert [(c.action.value, c.list_name) for c in plan.consent] == [
        ("subscribe", None), ("subscribe", "Sms Subscribers")]
    assert [(c.list_name, c.action.value) for c in plan.lists] == [("Preview List", "add")]
    assert {d.change for d in plan.diff} == {Change.ADDED}


def test_linked_customer_is_patched_with_the_update_collection() -> None:
    current = Profile(id=LINK, attributes={"email": "ann@example.com", "first_name": "Annie"},
                      subscriptions=Subscriptions(), list_ids=frozenset())
    plan = plan_push(ANN, TEMPLATE, Resolution(link=LINK, linked_profile=current, lists=LISTS))
    assert plan.route is Route.UPDATE and plan.matched_by is MatchedBy.EXTERNAL_ID
    assert plan.payload == {"data": {"type": "profile", "id": LINK,
                                     "attributes": ANN_ATTRIBUTES}}
    first = next(d for d in plan.diff if d.field == "first_name")
    assert (first.current, first.mapped, first.change) == ("Annie", "Ann", Change.CHANGED)


def test_stale_link_maps_with_the_add_collection_and_no_id() -> None:
    plan = plan_push(ANN, TEMPLATE, Resolution(link=LINK, lists=LISTS))
    assert plan.route is Route.CREATE
    assert "id" not in plan.payload["data"]  # type: ignore[index]
    assert plan.warnings[0].startswith(f"stale link: profile {LINK}")


def test_link_only_template_links_without_patching() -> None:
    text = resources.files("core.mapping").joinpath("default.toml").read_text(encoding="utf-8")
    template = parse_template(text.replace('[add]\non_match = "patch"',
                                           '[add]\non_match = "link-only"', 1))
    match = Profile(id=LINK, attributes={"email": "ann@example.com"},
                    subscriptions=Subscriptions(), list_ids=frozenset())
    plan = plan_push(ANN, template, Resolution(email_match=match, lists=LISTS))
    assert plan.route is Route.LINK and plan.payload is None
    assert plan.consent  # the link still gets its consent and lists


def test_customer_without_identifier_is_blocked_with_one_clear_error() -> None:
    plan = plan_push(Customer(id="7", first_name="Nobody"), TEMPLATE, Resolution(lists=LISTS))
    assert plan.route is Route.BLOCKED and plan.error_kind is ErrorKind.NO_IDENTIFIER
    assert len(plan.errors) == 1 and plan.errors[0].startswith("no valid identifier")


def test_default_template_names_lists_that_must_exist() -> None:
    plan = plan_push(ANN, TEMPLATE, Resolution(lists={SMS.name: SMS, PREVIEW.name: None}))
    assert plan.error_kind is ErrorKind.LIST_NOT_FOUND
    assert '"Preview List"' in plan.errors[0]


def test_pushing_again_against_the_result_changes_nothing() -> None:
    after = Profile(
        id=LINK, attributes={**ANN_ATTRIBUTES, "properties": {"My Custom": "Example value",
                                                               "$source": "API"}},
        subscriptions=Subscriptions(email=ConsentState.SUBSCRIBED),
        list_ids=frozenset({SMS.id, PREVIEW.id}),
    )
    plan = plan_push(ANN, TEMPLATE, Resolution(link=LINK, linked_profile=after, lists=LISTS))
    assert {d.change for d in plan.diff} == {Change.UNCHANGED, Change.KEPT}
    assert [d.field for d in plan.diff if d.change is Change.KEPT] == ["properties.$source"]
    assert plan.consent == () and plan.lists == () and plan.warnings == ()
