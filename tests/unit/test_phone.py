"""Phone normalization (design §5): messy real-world numbers from several countries."""

from __future__ import annotations

import ast
from pathlib import Path

import phonenumbers
import pytest

from core import phone
from core.phone import normalize_phone, region_for_country

VALID = [
    # raw, country, default region, expected E.164
    ("(202) 555-0143", None, "US", "+12025550143"),
    ("202.555.0143", "US", "US", "+12025550143"),
    ("202-555-0143", "United States", "GB", "+12025550143"),
    ("1-202-555-0143", "USA", "US", "+12025550143"),
    ("+1 202 555 0143", "DE", "US", "+12025550143"),
    ("001 202 555 0143", "FR", "US", "+12025550143"),
    ("011 44 20 7946 0958", "US", "US", "+442079460958"),
    ("(416) 555-0199 ", "CA", "US", "+14165550199"),
    ("020 7946 0958", "GB", "US", "+442079460958"),
    ("020 7946 0958", "United Kingdom", "US", "+442079460958"),
    ("07400 123456", "UK", "US", "+447400123456"),
    ("+44 (0)20 7946 0958", None, "US", "+442079460958"),
    ("0044 20 7946 0958", None, "US", "+442079460958"),
    ("44 20 7946 0958", "GB", "US", "+442079460958"),
    ("030 1234567", "DE", "US", "+49301234567"),
    ("030/123 4567", "Deutschland", "US", "+49301234567"),
    ("0151 23456789", "Germany", "US", "+4915123456789"),
    ("+49 (0)30 1234567", None, "US", "+49301234567"),
    ("06 12 34 56 78", "FR", "US", "+33612345678"),
    ("01.42.68.53.00", "France", "US", "+33142685300"),
    ("(02) 9374 4000", "AU", "US", "+61293744000"),
    ("0412 345 678", "Australia", "US", "+61412345678"),
    ("06-12345678", "NL", "US", "+31612345678"),
    ("333 123 4567", "IT", "US", "+393331234567"),
    ("02 1234 5678", "Italy", "US", "+390212345678"),
    ("612 34 56 78", "ES", "US", "+34612345678"),
    ("090-1234-5678", "JP", "US", "+819012345678"),
    ("98765 43210", "India", "US", "+919876543210"),
    ("(202) 555-0143 x123", "US", "US", "+12025550143"),
    ("202-555-0143 ext. 5", "US", "US", "+12025550143"),
    ("202 555 0143 extension 12", None, "US", "+12025550143"),
    ("202 555 0143 #7", None, "US", "+12025550143"),
    ("\u00a0(202)\u00a0555\u20110143\u00a0", None, "US", "+12025550143"),
]


@pytest.mark.parametrize(("raw", "country", "region", "expected"), VALID)
def test_messy_numbers_normalize_to_e164(
    raw: str, country: str | None, region: str, expected: str
) -> None:
    result = normalize_phone(raw, country=country, default_region=region)
    assert result.e164 == expected
    assert result.valid, result.reason


UNUSABLE = [
    (None, "no number given"),
    ("", "no number given"),
    ("   ", "no number given"),
    ("N/A", "has no digits"),
    ("n/a", "has no digits"),
    ("---", "has no digits"),
    ("1-800-FLOWERS", "contains letters"),
    ("call me 555 0143", "contains letters"),
    ("123", "too short"),
    ("5", "too short"),
    ("555-0143", "local number"),
    ("+1 202 555 0143 9999 12", "too long"),
    ("2025550143999999999", "too long"),
    ("+999 1234 5678", "country code that does not exist"),
    ("+1", "too short"),
]


@pytest.mark.parametrize(("raw", "reason"), UNUSABLE)
def test_unusable_numbers_give_no_phone_and_say_why(raw: str | None, reason: str) -> None:
    result = normalize_phone(raw, country="US")
    assert result.e164 is None
    assert result.valid is False
    assert reason in result.reason


def test_a_possible_but_invalid_number_is_kept_with_valid_false() -> None:
    result = normalize_phone("(555) 555-0123", country="US")
    assert result.e164 == "+15555550123"
    assert result.valid is False
    assert "not a valid phone number" in result.reason


def test_national_numbers_use_the_default_region_when_the_country_is_unknown() -> None:
    assert normalize_phone("020 7946 0958", country="Atlantis", default_region="GB").e164 == (
        "+442079460958"
    )
    assert normalize_phone("020 7946 0958", country=None, default_region="gb").e164 == (
        "+442079460958"
    )


def test_an_unknown_default_region_is_a_reason_not_a_crash() -> None:
    result = normalize_phone("202 555 0143", default_region="XX")
    assert result.e164 is None and "default region" in result.reason


@pytest.mark.parametrize(
    ("country", "region"),
    [("US", "US"), ("us", "US"), ("UK", "GB"), ("United Kingdom", "GB"), ("Great Britain", "GB"),
     ("Deutschland", "DE"), ("germany", "DE"), ("Côte d'Ivoire", "CI"), ("cote d ivoire", "CI"),
     ("Espana", "ES"), ("España", "ES"), ("USA", "US"), ("DEU", "DE"), ("South Korea", "KR"),
     ("  France ", "FR"), ("Atlantis", None), ("", None), (None, None), ("ZZ", None)],
)
def test_address_countries_resolve_to_regions(country: str | None, region: str | None) -> None:
    assert region_for_country(country) == region


def _examples() -> list[tuple[str, str, str]]:
    """(written number, region, E.164) for every region's example fixed-line and mobile
    number, written as people of that country write it and in international form."""
    written = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            for style in (phonenumbers.PhoneNumberFormat.NATIONAL,
                          phonenumbers.PhoneNumberFormat.INTERNATIONAL):
                written.append((phonenumbers.format_number(example, style), region, e164))
    return written


def test_every_country_s_numbers_as_people_write_them_normalize() -> None:
    examples = _examples()
    wrong = []
    for text, region, e164 in examples:
        for result in (normalize_phone(text, country=region),
                       normalize_phone(text, default_region=region)):
            if (result.e164, result.valid) != (e164, True):
                wrong.append((text, region, result))
    assert len(examples) > 400
    assert wrong == []


def test_the_same_number_reads_in_each_country_it_is_given() -> None:
    # Repeated numbers are remembered: the country and the default region are part of what is
    # remembered, so a number read once in one country is not answered for another.
    assert normalize_phone("030 1234567", country="DE").e164 == "+49301234567"
    assert normalize_phone("030 1234567", country="NL").e164 == "+31301234567"
    assert normalize_phone("030 1234567", default_region="DE").e164 == "+49301234567"
    assert normalize_phone("030 1234567", default_region="NL").e164 == "+31301234567"
    assert normalize_phone("030 1234567", country="Deutschland") == normalize_phone(
        " 030 1234567 ", country="DE")


def test_a_national_number_keeps_the_region_it_was_read_in() -> None:
    assert normalize_phone("030 1234567", country="Germany").region == "DE"
    assert normalize_phone("+49 30 1234567", country="Germany").region is None


def test_an_invalid_number_names_the_region_that_rejects_it() -> None:
    result = normalize_phone("+49 10 1234567")
    assert result.e164 == "+49101234567"
    assert result.valid is False
    assert result.reason == "+49101234567 is not a valid phone number for DE"


def test_the_phone_module_uses_only_phonenumbers_public_functions() -> None:
    # No reads of its metadata objects or private helpers: a phonenumbers release can be taken.
    tree = ast.parse(Path(phone.__file__).read_text())
    used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name) and node.value.id == "phonenumbers"}
    used |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
             and (node.module or "").startswith("phonenumbers") for alias in node.names}
    assert used
    assert not {name for name in used if name.startswith("_") or "etadata" in name}
    assert {"parse", "is_possible_number_with_reason", "is_valid_number",
            "format_number"} <= used


@pytest.mark.parametrize("raw", ["202 555 0143 X9", "202 555 0143 EXT 12", "202 555 0143 Ext.5"])
def test_extensions_in_capitals_are_dropped_too(raw: str) -> None:
    assert normalize_phone(raw, default_region="US").e164 == "+12025550143"


def test_non_ascii_digits_still_normalize() -> None:
    # Arabic-Indic digits.
    result = normalize_phone("\u0662\u0660\u0662 555 0143", default_region="US")
    assert result.e164 == "+12025550143"


