"""The error-log kind of a Klaviyo answer is read from where it points, not only its words."""

from __future__ import annotations

import pytest

from core.clients.http import ApiError
from core.engine import records
from core.model import ErrorKind, Route, Stage


def _invalid(pointer: str | None, detail: str) -> ApiError:
    return ApiError("klaviyo", method="POST", path="/api/profiles", status=400, code="invalid",
                    title="Invalid input.", detail=detail, pointer=pointer)


@pytest.mark.parametrize("detail", ["Invalid value.", "This field is not valid.", ""])
def test_a_400_pointing_at_phone_number_is_phone_rejected_whatever_its_words(
        detail: str) -> None:
    error = _invalid("/data/attributes/phone_number", detail)
    assert "phone" not in f"{error.title} {error.detail}".lower()

    assert error.kind is ErrorKind.PHONE_REJECTED
    record = records.from_api_error(error, record_id="E-1", customer_id="55340",
                                    stage=Stage.WRITE, route=Route.CREATE, profile_id=None,
                                    secrets=())
    assert record.kind is ErrorKind.PHONE_REJECTED
    assert "phone number" in record.retry_action


def test_the_same_words_pointing_elsewhere_stay_validation() -> None:
    assert _invalid("/data/attributes/email", "Invalid value.").kind is ErrorKind.VALIDATION
    assert _invalid(None, "Invalid value.").kind is ErrorKind.VALIDATION


def test_a_phone_pointer_on_another_status_keeps_that_status_kind() -> None:
    error = ApiError("klaviyo", method="POST", path="/api/profiles", status=409,
                     code="duplicate_profile", pointer="/data/attributes/phone_number")
    assert error.kind is ErrorKind.CONFLICT
