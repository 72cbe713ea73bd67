"""A failed undo's error record names the push it was reversing in a field of its own."""

from __future__ import annotations

from dataclasses import replace

from core.engine import records
from core.engine.records import merge_into_open
from core.engine.undo import undone_history_id
from core.model import ErrorKind, ErrorRecord, Stage

STAMP = "2026-07-01T09:30:00+00:00"


def failed_undo(**kw: object) -> ErrorRecord:
    record = records.simple(ErrorKind.API_UNAVAILABLE, Stage.WRITE,
                            "Klaviyo profile write failed: A server error occurred.",
                            record_id="E-000001-0000", customer_id="55260")
    return replace(record, **kw)  # type: ignore[arg-type]


def test_undo_of_round_trips_through_the_stored_json() -> None:
    record = failed_undo(undo_of="H-000001-0003")
    stored = record.to_json()
    assert stored["undo_of"] == "H-000001-0003"
    again = ErrorRecord.from_json(stored)
    assert again == record and undone_history_id(again) == "H-000001-0003"


def test_the_headline_names_the_push_and_a_plain_failure_keeps_its_message() -> None:
    undo = failed_undo(undo_of="H-000001-0003")
    assert undo.headline() == ("undo of push H-000001-0003: Klaviyo profile write failed: "
                               "A server error occurred.")
    plain = failed_undo()
    assert plain.headline() == plain.message and undone_history_id(plain) is None


def test_a_record_stored_before_the_field_still_loads_and_is_retried_as_an_undo() -> None:
    old = {"id": "E-000001-0000", "customer_id": "55260", "kind": "api_unavailable",
           "stage": "resolve", "status": "open", "attempts": 1,
           "message": "undo of push H-000001-0003: Klaviyo profile lookup failed: down",
           "retry_action": "a retry runs the undo again", "created_at": STAMP}
    record = ErrorRecord.from_json(old)
    assert record.undo_of is None
    assert undone_history_id(record) == "H-000001-0003"


def test_a_later_failure_of_the_customer_decides_what_a_retry_does() -> None:
    undo = failed_undo(undo_of="H-000001-0003")
    push = failed_undo(id="E-000001-0001")
    assert merge_into_open(undo, push).undo_of is None  # the push failed last: retry pushes
    assert merge_into_open(push, undo).undo_of == "H-000001-0003"
