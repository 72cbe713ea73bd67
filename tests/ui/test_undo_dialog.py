"""The undo confirmation's and outcome's words, from undo plans made by the planner."""

from __future__ import annotations

from dataclasses import replace

from console.screens.undo_dialog import confirm_text, outcome_text
from core.engine import records
from core.engine.context import PushResult
from core.engine.undo import UndoResult
from core.model import ErrorKind, HistoryEntry, Profile, Route, Stage
from core.plan.undo import plan_undo

BEFORE = {"email": "ann@example.com", "first_name": "Anne", "last_name": "Dupont"}
AFTER = {**BEFORE, "first_name": "Ann", "organization": "Dupont Floral",
         "properties": {"Loyalty": "gold"}}
SUBSCRIBED = {"channel": "email", "action": "subscribe", "list": None, "double_opt_in": False}


def entry(**kw: object) -> HistoryEntry:
    fields: dict[str, object] = dict(
        id="H-000001-0004", customer_id="70", at="2026-07-01T09:30:00+00:00",
        route=Route.UPDATE, ok=True, profile_id="01JPROFILE", before=BEFORE, sent={},
        after=AFTER, consent=(SUBSCRIBED,), trigger="batch")
    return HistoryEntry(**{**fields, **kw})  # type: ignore[arg-type]


def test_the_confirmation_names_conflicts_with_both_values_and_consent_not_reversed() -> None:
    pushed = entry()
    live = Profile("01JPROFILE", {**AFTER, "first_name": "Annie"})
    undo = plan_undo(pushed, live, reverse_consent=True)
    text = confirm_text([UndoResult(undo)], {pushed.id: pushed}).plain
    assert "H-000001-0004  customer 70 · profile 01JPROFILE" in text
    assert "pushed 2026-07-01 09:30:00 (batch, update)" in text
    assert ("⚠ conflict: first_name is 'Annie' in Klaviyo now, the push left 'Ann': left "
            "alone (before the push: 'Anne')") in text
    assert "organization: Dupont Floral → cleared" in text
    assert "property Loyalty: removed" in text
    assert "consent: the push did subscribe email: NOT reversed by Undo" in text
    assert "held until confirmed: undo: unsubscribe email" in text


def test_an_undo_of_an_undo_says_so_and_nothing_left_is_said() -> None:
    pushed = entry(trigger="undo", consent=())
    undo = plan_undo(pushed, Profile("01JPROFILE", dict(BEFORE)))
    text = confirm_text([UndoResult(undo)], {pushed.id: pushed}).plain
    assert "this push was itself an undo" in text
    assert "fields and lists: nothing to undo" in text


def test_the_outcome_names_a_failure_by_its_record_and_the_push() -> None:
    pushed = entry(consent=())
    undo = plan_undo(pushed, Profile("01JPROFILE", dict(AFTER)))
    record = records.simple(ErrorKind.API_UNAVAILABLE, Stage.WRITE, "Klaviyo is down",
                            record_id="E-000001-0000", customer_id="70")
    record = replace(record, undo_of=pushed.id)
    failed = UndoResult(undo, PushResult(plan=undo.plan, ok=False, error=record))
    done = UndoResult(undo, PushResult(plan=undo.plan, ok=True))
    text = outcome_text([failed, done]).plain
    assert text.startswith("1 done, 1 failed, 0 held, 0 with nothing to undo")
    assert ("undo of push H-000001-0004: Klaviyo is down (error record E-000001-0000" in text)
    assert "DONE  H-000001-0004 customer 70: 3 field(s) put back" in text
