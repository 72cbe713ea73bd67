"""Phone inputs: any text, country and default region give an E.164 number or a reason."""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st

from core.phone import _country_names, normalize_phone
from tests.property.strategies import BOUNDED, awkward_text

_E164 = re.compile(r"^\+[1-9]\d{1,16}$")

phone_text = st.one_of(
    awkward_text,
    st.text(alphabet="0123456789+-() .x#/", max_size=24),
    st.from_regex(r"\A\+?[0-9 ()\-.]{0,20}(ext\.? ?[0-9]{1,5})?\Z"),
)
countries = st.one_of(
    st.none(),
    awkward_text,
    st.sampled_from(sorted(_country_names())),
    st.sampled_from(sorted(set(_country_names().values()))),
)
regions = st.one_of(st.sampled_from(["US", "GB", "DE", "IT", "001", "", "ZZ", "us "]), awkward_text)


@BOUNDED
@given(phone_text, countries, regions)
@example("5551234567", "Antarctica", "US")
@example("5551234567", "Netherlands Antilles", "US")
@example("5551234567", "AQ", "US")
def test_any_phone_gives_e164_or_a_reason(raw: str, country: str | None, region: str) -> None:
    result = normalize_phone(raw, country=country, default_region=region)
    if result.e164 is None:
        assert not result.valid
        assert result.reason
    else:
        assert _E164.match(result.e164), result
        assert result.valid or result.reason


@BOUNDED
@given(st.sampled_from(sorted(_country_names())), st.from_regex(r"\A[0-9]{6,12}\Z"))
def test_every_known_country_name_reads_numbers(country: str, digits: str) -> None:
    result = normalize_phone(digits, country=country)
    assert result.e164 is not None or result.reason
