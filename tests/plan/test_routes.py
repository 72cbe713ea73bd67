"""Design §4 route by route: target, request body, reason in words, warnings, blocking."""

from __future__ import annotations

from typing import Any

import pytest

from core.mapping import NO_IDENTIFIER
from core.model import Collection, ErrorKind, GuardKind, MatchedBy, Plan, Route
from core.plan import PlanSettings, Resolution, plan_conflict, plan_from_mapped

from .builders import (
    ALL_LISTS,
    ANN,
    ANN_PHONE,
    LINKED,
    OTHER,
    PHONEY,
    UNSUBSCRIBED,
    attrs,
    intent,
    mapped,
    profile,
    resolution,
)


def add_plan(res: Resolution, on_match: str = "patch", **kwargs: Any) -> Plan:
    return plan_from_mapped(mapped(**kwargs), None, res, PlanSettings(), on_match)


def test_linked_profile_is_updated_with_the_update_collection() -> None:
    update = mapped(Collection.UPDATE, attributes=attrs(first_name="Anne"))
    res = resolution(link=LINKED, linked_profile=profile(LINKED))
    plan = plan_from_mapped(None, update, res)
    assert plan.route is Route.UPDATE
    assert plan.matched_by is MatchedBy.EXTERNAL_ID
    assert plan.profile_id == LINKED
    assert plan.reason == f"linked via external id {LINKED}"
    data = plan.payload["data"]
    assert data["type"] == "profile" and data["id"] == LINKED
    assert data["attributes"]["first_name"] == "Anne"
    assert data["attributes"]["properties"] == {"My Custom": "hello"}
    assert plan.current == profile(LINKED).attributes


def test_linked_plan_ignores_the_add_mapping() -> None:
    res = resolution(link=LINKED, linked_profile=profile(LINKED))
    add = mapped(attributes=attrs(first_name="FromAdd"))
    update = mapped(Collection.UPDATE, attributes=attrs(first_name="FromUpdate"))
    plan = plan_from_mapped(add, update, res)
    assert plan.payload["data"]["attributes"]["first_name"] == "FromUpdate"


def test_stale_link_warns_and_falls_back_to_matching() -> None:
    res = resolution(link=LINKED, linked_profile=None, email_match=profile(OTHER))
    plan = add_plan(res)
    assert plan.route is Route.LINK and plan.profile_id == OTHER
    assert plan.warnings[0] == (
        f"stale link: profile {LINKED} no longer exists in Klaviyo; treated as not linked"
    )


def test_stale_link_without_a_match_creates() -> None:
    plan = add_plan(resolution(link=LINKED))
    assert plan.route is Route.CREATE
    assert "id" not in plan.payload["data"]
    assert any(w.startswith("stale link") for w in plan.warnings)


def test_email_match_links_and_patches_with_the_add_collection() -> None:
    plan = add_plan(resolution(email_match=profile(OTHER)))
    assert plan.route is Route.LINK and plan.matched_by is MatchedBy.EMAIL
    assert plan.profile_id == OTHER
    assert plan.reason == f"email {ANN} matched profile {OTHER}"
    assert plan.payload["data"]["id"] == OTHER


def test_link_only_links_without_a_patch() -> None:
    current = profile(OTHER, attributes={"email": ANN, "first_name": "Annie"})
    plan = add_plan(resolution(email_match=current), on_match="link-only")
    assert plan.route is Route.LINK and plan.profile_id == OTHER
    assert plan.payload is None
    assert "link-only" in plan.reason
    assert {d.change.value for d in plan.diff} == {"kept"}
    assert plan.consent  # consent still applies to the linked profile


def test_phone_match_links_by_phone_and_sends_the_unclaimed_email() -> None:
    current = profile(PHONEY, attributes={"phone_number": ANN_PHONE})
    plan = add_plan(resolution(phone_match=current))
    assert plan.route is Route.LINK and plan.matched_by is MatchedBy.PHONE
    assert plan.profile_id == PHONEY
    assert plan.reason == f"no profile has email {ANN}; phone {ANN_PHONE} matched profile {PHONEY}"
    assert plan.payload["data"]["attributes"]["email"] == ANN


def test_no_match_creates_with_a_body_without_id() -> None:
    plan = add_plan(resolution())
    assert plan.route is Route.CREATE
    assert plan.profile_id is None and plan.matched_by is None and plan.current is None
    assert plan.reason == f"no profile has email {ANN} or phone {ANN_PHONE}"
    assert plan.payload == {"data": {"type": "profile", "attributes": {
        **attrs(), "properties": {"My Custom": "hello"}}}}


def test_no_match_reason_names_only_the_identifiers_there_are() -> None:
    plan = add_plan(resolution(), attributes=attrs(phone_number=None))
    assert plan.reason == f"no profile has email {ANN}"


def test_email_and_phone_on_different_profiles_link_by_email_without_the_phone() -> None:
    by_email = profile(OTHER, attributes=attrs(phone_number=None))
    by_phone = profile(PHONEY, attributes={"phone_number": ANN_PHONE})
    plan = add_plan(resolution(email_match=by_email, phone_match=by_phone))
    assert plan.route is Route.LINK and plan.matched_by is MatchedBy.EMAIL
    assert plan.profile_id == OTHER
    assert "phone_number" not in plan.payload["data"]["attributes"]
    assert all(d.field != "phone_number" for d in plan.diff)
    warning = next(w for w in plan.warnings if "phone" in w)
    assert OTHER in warning and PHONEY in warning and ANN_PHONE in warning


def test_sms_consent_skips_the_phone_that_belongs_to_another_profile() -> None:
    by_email = profile(OTHER, attributes=attrs(phone_number=None))
    by_phone = profile(PHONEY, attributes={"phone_number": ANN_PHONE})
    res = resolution(email_match=by_email, phone_match=by_phone)
    plan = plan_from_mapped(mapped(), None, res, PlanSettings(sms_consent=True))
    assert [c.channel.value for c in plan.consent] == ["email"]


def test_same_profile_by_email_and_phone_keeps_the_phone() -> None:
    both = profile(OTHER)
    plan = add_plan(resolution(email_match=both, phone_match=both))
    assert plan.payload["data"]["attributes"]["phone_number"] == ANN_PHONE
    assert not any("belongs to" in w for w in plan.warnings)


def test_update_leaves_out_an_email_another_profile_owns() -> None:
    update = mapped(Collection.UPDATE, attributes=attrs(email="new@example.com"))
    res = resolution(link=LINKED, linked_profile=profile(LINKED), email_match=profile(OTHER))
    plan = plan_from_mapped(None, update, res)
    assert plan.route is Route.UPDATE
    assert "email" not in plan.payload["data"]["attributes"]
    assert any(OTHER in w and LINKED in w for w in plan.warnings)
    # consent goes to the address the linked profile keeps, never the other profile's
    assert {c.subject for c in plan.consent if c.channel.value == "email"} == {ANN}


def test_no_identifier_blocks() -> None:
    plan = add_plan(resolution(), attributes=attrs(email=None, phone_number=None))
    assert plan.route is Route.BLOCKED and plan.blocked
    assert plan.error_kind is ErrorKind.NO_IDENTIFIER
    # One wording, the mapping's, whichever of the two notices the missing identifier.
    assert plan.errors[0] == NO_IDENTIFIER
    assert plan.reason == f"blocked: {NO_IDENTIFIER}"
    assert plan.payload is None and plan.consent == () and plan.lists == () and plan.diff == ()


def test_no_identifier_keeps_the_mapping_s_own_words() -> None:
    said = "no valid identifier: email missing and phone 12 could not be normalized"
    plan = add_plan(resolution(), attributes=attrs(email=None, phone_number=None),
                    errors=(said,))
    assert plan.errors == (said,)


def test_linked_customer_without_identifier_is_blocked_too() -> None:
    update = mapped(Collection.UPDATE, attributes=attrs(email=None, phone_number=None))
    res = resolution(link=LINKED, linked_profile=profile(LINKED))
    plan = plan_from_mapped(None, update, res)
    assert plan.error_kind is ErrorKind.NO_IDENTIFIER
    assert plan.profile_id == LINKED and plan.payload is None and plan.consent == ()


def test_mapping_error_blocks_as_validation() -> None:
    said = 'SubscribeProfile must be true or false, got "maybe"'
    plan = add_plan(resolution(email_match=profile(OTHER)), errors=(said,))
    assert plan.route is Route.BLOCKED and plan.error_kind is ErrorKind.VALIDATION
    assert plan.errors == (said,)
    assert plan.consent == () and plan.lists == () and plan.payload is None


@pytest.mark.parametrize(("consent", "field"), [(True, "LIST_Gone"), (False, "UCLIST_Gone")])
def test_missing_list_blocks_and_names_it(consent: bool, field: str) -> None:
    lists = {**ALL_LISTS, "Gone": None}
    plan = add_plan(resolution(lists=lists),
                    intents=(intent("Gone", consent=consent, member=True),
                             intent("Preview List", consent=False, member=True)))
    assert plan.route is Route.BLOCKED and plan.error_kind is ErrorKind.LIST_NOT_FOUND
    assert plan.errors == (
        f'list "Gone" (named by {field}) does not exist in Klaviyo; '
        "create it there or change the mapping",
    )
    assert plan.consent == () and plan.lists == () and plan.payload is None


def test_list_the_engine_did_not_resolve_counts_as_missing() -> None:
    plan = add_plan(Resolution(), intents=(intent("Preview List", consent=False, member=True),))
    assert plan.error_kind is ErrorKind.LIST_NOT_FOUND


def test_mapping_warnings_reach_the_plan() -> None:
    said = "phone +1555 is probably not valid: Klaviyo will likely reject it"
    plan = add_plan(resolution(), warnings=(said,), phone_valid=False)
    assert said in plan.warnings


def test_empty_values_are_never_sent() -> None:
    attributes = attrs(first_name="", organization="  ", last_name=None)
    attributes["location"] = {"city": "Boston", "address2": "", "zip": None}
    plan = add_plan(resolution(email_match=profile(OTHER)), attributes=attributes,
                    properties={"My Custom": "", "Tier": "gold"})
    sent = plan.payload["data"]["attributes"]
    assert "first_name" not in sent and "organization" not in sent and "last_name" not in sent
    assert sent["location"] == {"city": "Boston"}
    assert sent["properties"] == {"Tier": "gold"}


def test_no_properties_means_no_properties_key() -> None:
    plan = add_plan(resolution(), properties={})
    assert "properties" not in plan.payload["data"]["attributes"]


def test_mapping_id_never_leaks_into_attributes() -> None:
    update = mapped(Collection.UPDATE, attributes={**attrs(), "id": LINKED})
    plan = plan_from_mapped(None, update, resolution(link=LINKED, linked_profile=profile(LINKED)))
    assert "id" not in plan.payload["data"]["attributes"]


def test_missing_collection_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="Update-collection"):
        plan_from_mapped(mapped(), None, resolution(link=LINKED, linked_profile=profile(LINKED)))
    with pytest.raises(ValueError, match="Add-collection"):
        plan_from_mapped(None, mapped(Collection.UPDATE), resolution())


def test_conflict_turns_a_create_into_a_link_to_the_duplicate() -> None:
    create = add_plan(resolution())
    duplicate = profile(OTHER, attributes={"email": ANN, "first_name": "Ann"})
    plan = plan_conflict(create, duplicate)
    assert plan.route is Route.LINK and plan.matched_by is MatchedBy.EMAIL
    assert plan.profile_id == OTHER
    assert plan.reason == (f"create refused with 409 duplicate_profile: profile {OTHER} "
                           f"already has email {ANN}; linked to it instead")
    assert plan.payload["data"]["id"] == OTHER
    assert plan.current == duplicate.attributes
    assert any(d.field == "first_name" and d.change.value == "unchanged" for d in plan.diff)


def test_conflict_by_phone_and_link_only() -> None:
    create = add_plan(resolution(), on_match="link-only")
    duplicate = profile(PHONEY, attributes={"phone_number": ANN_PHONE})
    plan = plan_conflict(create, duplicate)
    assert plan.matched_by is MatchedBy.PHONE and plan.payload is None
    assert "link-only" in plan.reason


def test_conflict_replans_list_removals_the_create_skipped() -> None:
    create = add_plan(resolution(), intents=(intent("Preview List", consent=False, member=False),))
    assert create.lists == ()  # a new profile is in no list
    duplicate = profile(OTHER, lists=frozenset({"PrvL01"}))
    plan = plan_conflict(create, duplicate)
    assert [(c.list_name, c.action.value) for c in plan.lists] == [("Preview List", "remove")]


def test_conflict_rechecks_consent_against_the_duplicate() -> None:
    create = add_plan(resolution(), subscribe=True)
    assert create.guarded_consent == ()
    plan = plan_conflict(create, profile(OTHER, email=UNSUBSCRIBED))
    assert plan.consent[0].risky and plan.guard.held == {GuardKind.RESUBSCRIBE}


def test_conflict_only_applies_to_creates() -> None:
    update = plan_from_mapped(None, mapped(Collection.UPDATE),
                              resolution(link=LINKED, linked_profile=profile(LINKED)))
    with pytest.raises(ValueError, match="only a create plan"):
        plan_conflict(update, profile(OTHER))


def test_link_only_has_nothing_to_leave_out() -> None:
    by_email = profile(OTHER, attributes={"email": ANN})
    by_phone = profile(PHONEY, attributes={"phone_number": ANN_PHONE})
    plan = add_plan(resolution(email_match=by_email, phone_match=by_phone), on_match="link-only")
    assert plan.payload is None
    assert not any("left out" in w for w in plan.warnings)
