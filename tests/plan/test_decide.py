"""Design §4 as core.plan's table: decide() and plan_customer row by row, and the 409 re-plan."""

from __future__ import annotations

from typing import Any

import pytest

from core.mapping import load_template
from core.model import (
    Address,
    Collection,
    Customer,
    CustomField,
    ErrorKind,
    MatchedBy,
    Route,
)
from core.plan import Facts, plan_conflict, plan_customer
from core.plan.decide import BLOCKS, ROUTES, decide

from .builders import (
    ALL_LISTS,
    ANN,
    ANN_PHONE,
    DOUBLE,
    LINKED,
    OTHER,
    PHONEY,
    attrs,
    facts,
    intent,
    mapped,
    profile,
)

TEMPLATE = load_template()
CUSTOMER = Customer(
    id="55260", customer_number="(500) 555-0006", first_name="Ann", last_name="Lee",
    email_address=ANN, company="Acme",
    addresses=(Address(address_1="1 Main St", city="Boston", region="MA", country="US",
                       postal_code="02110", is_primary_billing=True),),
    custom_fields=(CustomField("Newsletter", "true"),),
)


def decided(f: Facts, **kwargs: Any) -> Any:
    on_match = kwargs.pop("on_match", "patch")
    add = mapped(Collection.ADD, **kwargs)
    update = mapped(Collection.UPDATE, **kwargs)
    return decide(f, add, update, on_match)


def test_the_table_reads_as_design_4_in_order() -> None:
    assert [rule.situation.split(" -> ")[0] for rule in ROUTES] == [
        "linked, profile exists",
        "unlinked, email matches a profile",
        "unlinked, no email match, phone matches",
        "unlinked, no match",
    ]
    assert [block.kind for block in BLOCKS] == [
        ErrorKind.NO_IDENTIFIER, ErrorKind.VALIDATION, ErrorKind.LIST_NOT_FOUND]


def test_row_linked_profile_exists_updates_with_the_update_collection() -> None:
    d = decided(facts(link=LINKED, linked_profile=profile(LINKED), email_match=profile(LINKED)))
    assert (d.route, d.matched_by, d.target.id) == (Route.UPDATE, MatchedBy.EXTERNAL_ID, LINKED)
    assert d.mapped.collection is Collection.UPDATE
    assert d.reason == f"linked via external id {LINKED}"


def test_row_stale_link_routes_to_the_add_collection() -> None:
    stale = facts(link=LINKED, linked_profile=None)
    d = decided(stale)
    assert d.route is Route.CREATE and d.mapped.collection is Collection.ADD
    assert d.warnings[0] == (
        f"stale link: profile {LINKED} no longer exists in Klaviyo; treated as not linked")
    # decide() needs only the Add mapping for a stale link
    assert decide(stale, mapped(Collection.ADD), None).route is Route.CREATE
    with pytest.raises(ValueError, match="Add-collection"):
        decide(stale, None, mapped(Collection.UPDATE))


def test_stale_link_plan_maps_the_add_collection_without_the_gone_id() -> None:
    plan = plan_customer(facts(CUSTOMER, link=LINKED, linked_profile=None), TEMPLATE, DOUBLE)
    assert plan.route is Route.CREATE and plan.basis.mapped.collection is Collection.ADD
    assert plan.payload is not None and "id" not in plan.payload["data"]
    assert plan.payload["data"]["attributes"]["email"] == ANN
    assert plan.warnings[0].startswith(f"stale link: profile {LINKED}")


def test_stale_link_with_an_email_match_links_by_email() -> None:
    d = decided(facts(link=LINKED, linked_profile=None, email_match=profile(OTHER)))
    assert (d.route, d.matched_by, d.target.id) == (Route.LINK, MatchedBy.EMAIL, OTHER)
    assert d.mapped.collection is Collection.ADD


def test_a_deleted_link_is_not_a_link_and_says_so_like_a_stale_one() -> None:
    # Design §3: a LookupExternal answer with the DELETED: prefix means not linked.
    gone = facts(deleted_link=LINKED)
    d = decided(gone)
    assert d.route is Route.CREATE and d.mapped.collection is Collection.ADD
    assert d.reason.startswith(f"iPaaS.com link to profile {LINKED} marked deleted; no profile")
    assert d.warnings[0] == (
        f"stale link: the iPaaS.com link to profile {LINKED} was marked deleted; "
        "treated as not linked (Add collection)")
    assert decide(gone, mapped(Collection.ADD), None).route is Route.CREATE


def test_a_deleted_link_to_a_profile_that_still_matches_links_it_again_by_email() -> None:
    d = decided(facts(deleted_link=LINKED, email_match=profile(LINKED)))
    assert (d.route, d.matched_by, d.target.id) == (Route.LINK, MatchedBy.EMAIL, LINKED)
    assert d.reason == (f"iPaaS.com link to profile {LINKED} marked deleted; "
                        f"email {ANN} matched profile {LINKED}")
    assert "marked deleted" in d.warnings[0]


def test_a_blocked_customer_with_a_deleted_link_still_carries_the_warning() -> None:
    d = decided(facts(deleted_link=LINKED), attributes=attrs(email=None, phone_number=None))
    assert d.route is Route.BLOCKED and d.reason.startswith("blocked: ")
    assert "marked deleted" in d.warnings[0]


def test_a_deleted_link_plan_maps_the_add_collection_and_warns_in_the_plan() -> None:
    plan = plan_customer(facts(CUSTOMER, deleted_link=LINKED), TEMPLATE, DOUBLE)
    assert plan.route is Route.CREATE and plan.basis.mapped.collection is Collection.ADD
    assert plan.payload is not None and "id" not in plan.payload["data"]
    assert plan.warnings[0].startswith(f"stale link: the iPaaS.com link to profile {LINKED}")
    assert "marked deleted" in plan.reason


def test_row_email_match_links_by_email_and_patches() -> None:
    d = decided(facts(email_match=profile(OTHER)))
    assert (d.route, d.matched_by, d.target.id, d.send) == (
        Route.LINK, MatchedBy.EMAIL, OTHER, True)
    assert d.reason == f"email {ANN} matched profile {OTHER}"


def test_row_email_match_with_link_only_links_without_a_patch() -> None:
    d = decided(facts(email_match=profile(OTHER)), on_match="link-only")
    assert d.route is Route.LINK and d.send is False and "link-only" in d.reason


def test_row_phone_match_links_by_phone() -> None:
    d = decided(facts(phone_match=profile(PHONEY)))
    assert (d.route, d.matched_by, d.target.id) == (Route.LINK, MatchedBy.PHONE, PHONEY)
    assert d.reason == f"no profile has email {ANN}; phone {ANN_PHONE} matched profile {PHONEY}"


def test_row_no_match_creates() -> None:
    d = decided(facts())
    assert (d.route, d.target, d.matched_by) == (Route.CREATE, None, None)
    assert d.reason == f"no profile has email {ANN} or phone {ANN_PHONE}"


def test_row_email_and_phone_on_different_profiles_link_by_email_without_the_phone() -> None:
    d = decided(facts(email_match=profile(OTHER), phone_match=profile(PHONEY)))
    assert (d.route, d.matched_by, d.target.id) == (Route.LINK, MatchedBy.EMAIL, OTHER)
    assert d.leave_out == {"phone_number"}
    assert any(OTHER in w and PHONEY in w for w in d.warnings)


def test_row_no_identifier_blocks_keeping_the_target_it_would_have_had() -> None:
    d = decided(facts(email_match=profile(OTHER)), attributes=attrs(email=None,
                                                                     phone_number=None))
    assert (d.route, d.error_kind) == (Route.BLOCKED, ErrorKind.NO_IDENTIFIER)
    assert d.target.id == OTHER and d.send is False
    assert d.reason.startswith("blocked: no valid identifier")


def test_row_missing_list_blocks_and_names_it() -> None:
    d = decided(facts(lists={**ALL_LISTS, "Gone": None}),
                intents=(intent("Gone", consent=False, member=True),))
    assert (d.route, d.error_kind) == (Route.BLOCKED, ErrorKind.LIST_NOT_FOUND)
    assert d.errors == ('list "Gone" (named by UCLIST_Gone) does not exist in Klaviyo; '
                        "create it there or change the mapping",)


def test_blocks_apply_in_order_no_identifier_first() -> None:
    d = decided(facts(lists={**ALL_LISTS, "Gone": None}),
                attributes=attrs(email=None, phone_number=None), errors=("bad value",),
                intents=(intent("Gone", consent=True, member=True),))
    assert d.error_kind is ErrorKind.NO_IDENTIFIER
    assert d.errors[0].startswith("no valid identifier") and "bad value" in d.errors
    assert decided(facts(), errors=("bad value",)).error_kind is ErrorKind.VALIDATION


def test_a_409_duplicate_whose_email_differs_only_in_case_links_by_email() -> None:
    create = plan_customer(facts(CUSTOMER), TEMPLATE, DOUBLE)
    assert create.route is Route.CREATE
    duplicate = profile(OTHER, attributes={"email": "Ann@Example.COM"})
    plan = plan_conflict(create, duplicate)
    assert (plan.route, plan.matched_by, plan.profile_id) == (Route.LINK, MatchedBy.EMAIL, OTHER)
    assert plan.reason == (f"create refused with 409 duplicate_profile: profile {OTHER} "
                           f"already has email {ANN}; linked to it instead")


def test_a_409_duplicate_with_neither_identifier_says_so() -> None:
    create = plan_customer(facts(CUSTOMER), TEMPLATE, DOUBLE)
    plan = plan_conflict(create, profile(OTHER, attributes={"email": "someone@else.com"}))
    assert plan.matched_by is None and "one of these identifiers" in plan.reason
