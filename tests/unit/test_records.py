"""Error records built from API failures: the kind an operator filters by, and no secret kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.clients.http import ApiError
from core.engine import records
from core.model import ErrorKind, ErrorRecord, ErrorStatus, Route, Stage

KEY = "pk_live_0123456789abcdefABCDEF"


def _record(error: ApiError) -> ErrorRecord:
    return records.from_api_error(error, record_id="e1", customer_id="55340", stage=Stage.WRITE,
                                  route=Route.CREATE, profile_id=None, secrets=(KEY,))


def test_a_rejected_phone_is_its_own_kind_with_its_own_retry_advice() -> None:
    error = ApiError("klaviyo", method="POST", path="/api/profiles", status=400, code="invalid",
                     detail="Invalid phone number format (Example of a valid format: +12345678901)",
                     pointer="/data/attributes/phone_number")

    record = _record(error)

    assert record.kind is ErrorKind.PHONE_REJECTED
    assert record.http_status == 400 and record.code == "invalid"
    assert "phone number" in record.retry_action


def test_other_validation_errors_stay_validation() -> None:
    error = ApiError("klaviyo", method="POST", path="/api/profiles", status=400, code="invalid",
                     detail="Invalid email address", pointer="/data/attributes/email")

    assert _record(error).kind is ErrorKind.VALIDATION


def test_a_secret_echoed_whole_or_cut_off_never_reaches_the_record() -> None:
    cut = ApiError("klaviyo", method="PATCH", path="/api/profiles/x", status=502,
                   detail=f"upstream said: bad key {KEY[:12]}")
    whole = ApiError("klaviyo", method="PATCH", path="/api/profiles/x", status=400,
                     code=f"key {KEY}",
                     detail=f"Authorization: Klaviyo-API-Key {KEY} refused")

    for error in (cut, whole):
        record = _record(error)
        texts = " ".join(filter(None, (record.message, record.detail, record.code)))
        assert KEY[:8] not in texts, texts
        assert "[redacted]" in texts


def test_long_details_are_trimmed_to_a_readable_length() -> None:
    error = ApiError("klaviyo", method="POST", path="/api/profiles", status=400, detail="x" * 5_000)

    record = _record(error)

    assert record.detail is not None and len(record.detail) <= 500
    assert record.detail.endswith("…")


def test_resolving_a_record_sets_its_status_and_adds_the_successful_attempt() -> None:
    failed = records.first_attempt(_record(ApiError(
        "klaviyo", method="POST", path="/api/profiles", status=503, detail="down")))
    again = records.merge_into_open(failed, records.simple(
        ErrorKind.CONSENT_GUARD, Stage.PLAN, "held by the consent guard", record_id="e2",
        customer_id="55340"))

    done = records.resolved(again, attempted=True, at="2026-12-07T10:00:00+00:00")

    assert done.status is ErrorStatus.RESOLVED and done.id == failed.id
    assert [a.kind for a in done.attempts] == ["api_unavailable", "consent_guard", "done"]
    assert done.attempts[0].message == failed.message  # the first cause stays visible
    assert done.attempts[-1].at == done.updated_at == "2026-12-07T10:00:00+00:00"
    assert records.resolved(again, attempted=False).attempts == again.attempts


def test_a_confirmation_survives_a_later_failure_of_the_same_record() -> None:
    held = records.with_confirmed(records.first_attempt(_record(ApiError(
        "klaviyo", method="PATCH", path="/api/profiles/x", status=503))), "abc123")
    later = records.merge_into_open(held, _record(ApiError(
        "klaviyo", method="PATCH", path="/api/profiles/x", status=502)))
    assert later.confirmed == "abc123" and len(later.attempts) == 2


def test_now_iso_is_the_current_second_each_second(monkeypatch: pytest.MonkeyPatch) -> None:
    # Formatted once a second (the cache): a later second still gets its own text.
    for clock in (1_800_000_000.0, 1_800_000_000.99, 1_800_000_001.5, 1_800_000_000.2):
        monkeypatch.setattr(records.time, "time", lambda clock=clock: clock)
        expected = datetime.fromtimestamp(clock, UTC).isoformat(timespec="seconds")
        assert records.now_iso() == expected
    assert records.now_iso() == "2027-01-15T08:00:00+00:00"
