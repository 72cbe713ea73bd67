"""The reverse of one push, planned from its history entry and the live profile."""

from __future__ import annotations

from typing import Any

from core.model import ConsentAction, HistoryEntry, ListAction, Profile, Route
from core.plan.undo import plan_undo

PID = "01JPROFILE"


def entry(before: dict[str, Any] | None, after: dict[str, Any] | None, *,
          route: Route = Route.UPDATE, lists: tuple[dict[str, Any], ...] = (),
          consent: tuple[dict[str, Any], ...] = ()) -> HistoryEntry:
    return HistoryEntry(id="H-1", customer_id="55260", at="2026-12-07T01:00:00+00:00",
                        route=route, ok=True, profile_id=PID, before=before, sent={},
                        after=after, lists=lists, consent=consent, trigger="batch")


def live(attributes: dict[str, Any], list_ids: frozenset[str] | None = None) -> Profile:
    return Profile(id=PID, attributes=attributes, list_ids=list_ids)


BEFORE = {"email": "ann@example.com", "first_name": "Anne", "location": {"city": "Lyon"},
          "properties": {"Tier": "gold"}}
AFTER = {"email": "ann@example.com", "first_name": "Ann", "last_name": "Dupont",
         "location": {"city": "Paris", "zip": "75001"},
         "properties": {"Tier": "silver", "My Custom": "x"}}


def test_changed_fields_get_their_before_value_added_ones_are_cleared() -> None:
    undo = plan_undo(entry(BEFORE, AFTER), live(AFTER))
    assert undo.attributes == {
        "first_name": "Anne", "last_name": None,
        "location": {"city": "Lyon", "zip": None}, "properties": {"Tier": "gold"},
    }
    assert undo.unset_properties == ("My Custom",)
    assert undo.plan.route is Route.UPDATE and undo.plan.profile_id == PID
    assert undo.plan.payload is not None
    assert undo.plan.payload["data"]["meta"] == {"patch_properties": {"unset": ["My Custom"]}}
    assert {d.field for d in undo.plan.diff} == {
        "first_name", "last_name", "location.city", "location.zip", "properties.Tier",
        "properties.My Custom"}
    assert undo.conflicts == ()


def test_a_field_changed_in_klaviyo_since_is_a_conflict_left_alone() -> None:
    now = {**AFTER, "first_name": "Annie"}
    undo = plan_undo(entry(BEFORE, AFTER), live(now))
    assert "first_name" not in undo.attributes
    [conflict] = undo.conflicts
    assert (conflict.field, conflict.live, conflict.pushed, conflict.before) == (
        "first_name", "Annie", "Ann", "Anne")
    assert any("first_name" in w and "'Annie'" in w and "'Ann'" in w
               for w in undo.plan.warnings)
    assert undo.attributes["last_name"] is None  # the rest is still undone


def test_a_field_already_back_is_neither_undone_nor_a_conflict() -> None:
    now = {**AFTER, "first_name": "Anne"}
    undo = plan_undo(entry(BEFORE, AFTER), live(now))
    assert "first_name" not in undo.attributes and undo.conflicts == ()


def test_undo_twice_has_nothing_left_to_do() -> None:
    done = {**BEFORE}
    undo = plan_undo(entry(BEFORE, AFTER), live(done))
    assert not undo.has_work and undo.plan.payload is None


def test_list_additions_are_removed_and_removals_are_not_added_back() -> None:
    lists = ({"list": "Preview List", "action": "add"}, {"list": "VIP", "action": "remove"})
    undo = plan_undo(entry(BEFORE, AFTER, lists=lists), live(AFTER, frozenset({"L1"})),
                     list_ids={"Preview List": "L1", "VIP": "L2"})
    [change] = undo.plan.lists
    assert (change.list_id, change.action) == ("L1", ListAction.REMOVE)
    assert any("VIP" in note for note in undo.notes)


def test_a_list_the_person_already_left_is_not_removed_again() -> None:
    lists = ({"list": "Preview List", "action": "add"},)
    undo = plan_undo(entry(BEFORE, AFTER, lists=lists), live(AFTER, frozenset()),
                     list_ids={"Preview List": "L1"})
    assert undo.plan.lists == ()


def test_consent_is_shown_with_how_to_reverse_but_never_planned_by_default() -> None:
    consent = ({"channel": "email", "action": "subscribe", "list": None,
                "double_opt_in": False},)
    undo = plan_undo(entry(BEFORE, AFTER, consent=consent), live(AFTER))
    assert undo.plan.consent == ()
    [done] = undo.consent_done
    assert done.action == "subscribe" and "unsubscribe email" in done.reverse


def test_reversed_consent_is_an_unsubscribe_under_the_guard() -> None:
    consent = ({"channel": "email", "action": "subscribe", "list": "Sms Subscribers",
                "double_opt_in": True},)
    undo = plan_undo(entry(BEFORE, AFTER, consent=consent), live(AFTER),
                     list_ids={"Sms Subscribers": "L9"}, reverse_consent=True)
    [change] = undo.plan.consent
    assert change.action is ConsentAction.UNSUBSCRIBE and change.list_id == "L9"
    assert change.subject == "ann@example.com"
    assert undo.plan.guarded_consent == (change,)
    assert undo.plan.guard.confirm_needed


def test_a_created_profile_is_kept_with_its_identifiers() -> None:
    after = {"email": "new@example.com", "external_id": "55300", "first_name": "Emma"}
    undo = plan_undo(entry(None, after, route=Route.CREATE), live(after))
    assert undo.attributes == {"first_name": None}
    assert any("created by this push and is kept" in note and "never deletes" in note
               for note in undo.notes)
    assert any("link to profile" in note and "stays" in note for note in undo.notes)


def test_a_push_that_wrote_nothing_or_a_gone_profile_has_nothing_to_undo() -> None:
    nothing = plan_undo(entry(BEFORE, None), live(AFTER))
    assert nothing.plan.blocked and "wrote nothing" in nothing.plan.reason
    gone = plan_undo(entry(BEFORE, AFTER), None)
    assert gone.plan.blocked and "no longer exists" in gone.plan.reason


def test_undo_json_names_the_history_entry_and_conflicts() -> None:
    now = {**AFTER, "first_name": "Annie"}
    body = plan_undo(entry(BEFORE, AFTER), live(now)).to_json()
    assert body["history_id"] == "H-1"
    assert body["conflicts"] == [{"field": "first_name", "live": "Annie", "pushed": "Ann",
                                  "before": "Anne"}]
    assert body["unset_properties"] == ["My Custom"]
