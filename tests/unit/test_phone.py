"""Phone normalization (design §5): messy real-world numbers from several countries."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from core.phone import (
    _digits,
    _main_plan,
    _parse,
    _ParseFailure,
    _plain_digits,
    _plan,
    _validate,
    _validity_region,
    normalize_phone,
    region_for_country,
)

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


def _reference(digits: str, region: str, international: bool) -> tuple[str, int, bool] | None:
    try:
        number = phonenumbers.parse(("+" if international else "") + digits,
                                    None if international else region)
    except phonenumbers.NumberParseException:
        return None
    return (
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        int(phonenumbers.is_possible_number_with_reason(number)),
        phonenumbers.is_valid_number(number),
    )


def _ported(digits: str, region: str, international: bool) -> tuple[str, int, bool] | None:
    try:
        code, nsn = _parse(digits, None if international else region)
    except _ParseFailure:
        return None
    main = _main_plan(code)
    assert main is not None
    plan = _validity_region(code, nsn, None if international else region)
    return f"+{code}{nsn}", int(main.test_length(nsn)), plan is not None and plan.is_valid(nsn)


REGIONS = ["US", "CA", "AG", "JM", "GB", "GG", "JE", "DE", "FR", "IT", "NL", "AU", "IN", "BR",
           "MX", "AR", "JP", "CN", "ES", "SE", "CH", "BE", "IE", "NZ", "ZA", "RU", "KZ", "KR",
           "SG", "AT", "PL", "HK"]


def test_the_fast_parser_agrees_with_phonenumbers_on_random_inputs() -> None:
    rng = random.Random(5)
    mismatches = []
    for _ in range(2000):
        region = rng.choice(REGIONS)
        code = str(phonenumbers.country_code_for_region(region))
        prefix = rng.choice(["", "", "0", "00", "011", code, "1", "0" + code, "00" + code, "15"])
        digits = prefix + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 16)))
        international = rng.random() < 0.2
        expected = _reference(digits, region, international)
        if _ported(digits, region, international) != expected:
            mismatches.append((region, international, digits))
    assert mismatches == []


def test_the_fast_parser_agrees_with_phonenumbers_on_every_example_number() -> None:
    mismatches = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            nsn = phonenumbers.national_significant_number(example)
            for digits, international in ((nsn, False), (f"{example.country_code}{nsn}", True)):
                expected = _reference(digits, region, international)
                if _ported(digits, region, international) != expected:
                    mismatches.append((region, digits))
    assert mismatches == []


def _validity_region_one_by_one(code: int, nsn: str, preferred: str | None) -> str | None:
    """region_code_for_number as first ported: each region's leading digits tried in turn."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ())
    if len(regions) == 1:
        return regions[0]
    if preferred in regions:
        plan = _plan(preferred, code)
        if plan is not None and plan.general_matches(nsn) and any(
            d.matches(nsn) for d in plan.types
        ):
            return preferred
    for region in regions:
        plan = _plan(region, code)
        if plan is None:
            continue
        if plan.leading_digits is not None:
            if plan.leading_digits.match(nsn):
                return region
        elif plan.general_matches(nsn) and any(d.matches(nsn) for d in plan.types):
            return region
    return None


@pytest.mark.parametrize("code", [1, 7, 44, 47, 61, 262, 290, 590, 599])
def test_joined_region_patterns_pick_the_region_each_pattern_alone_picks(code: int) -> None:
    rng = random.Random(code)
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code]
    for _ in range(1500):
        nsn = "".join(rng.choice("0123456789") for _ in range(rng.randint(6, 12)))
        preferred = rng.choice([None, *regions])
        expected = _validity_region_one_by_one(code, nsn, preferred)
        plan, valid = _validate(code, nsn, preferred)
        assert (plan.code if plan else None) == expected, (code, nsn, preferred)
        assert valid == (plan is not None and plan.general_matches(nsn)
                         and any(d.matches(nsn) for d in plan.types)), (code, nsn)


def test_one_pattern_per_length_validates_as_the_type_patterns_one_by_one() -> None:
    rng = random.Random(11)
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        plan = _plan(region)
        assert plan is not None
        examples = [phonenumbers.example_number_for_type(region, kind)
                    for kind in (phonenumbers.PhoneNumberType.FIXED_LINE,
                                 phonenumbers.PhoneNumberType.MOBILE,
                                 phonenumbers.PhoneNumberType.TOLL_FREE)]
        numbers = [phonenumbers.national_significant_number(e) for e in examples if e]
        numbers += ["".join(rng.choice("0123456789") for _ in range(rng.randint(4, 13)))
                    for _ in range(20)]
        for nsn in numbers:
            one_by_one = plan.general_matches(nsn) and any(d.matches(nsn) for d in plan.types)
            assert plan.is_valid(nsn) == one_by_one, (region, nsn)


@pytest.mark.parametrize("raw", ["202 555 0143 X9", "202 555 0143 EXT 12", "202 555 0143 Ext.5"])
def test_extensions_in_capitals_are_dropped_too(raw: str) -> None:
    assert normalize_phone(raw, default_region="US").e164 == "+12025550143"


def test_non_ascii_digits_still_normalize() -> None:
    # Arabic-Indic digits: not ASCII, so the byte-level digit filter does not apply.
    result = normalize_phone("\u0662\u0660\u0662 555 0143", default_region="US")
    assert result.e164 == "+12025550143"


def test_the_plain_number_fast_path_keeps_what_the_general_path_keeps() -> None:
    # Text of digits, separators, "+", "(0)", letters, extensions and odd spacing: wherever
    # _plain_digits answers, _digits (the regex path) gives the same digits and international
    # flag, and the whole normalization agrees with phonenumbers on the ones that parse.
    rng = random.Random(11)
    pieces = ["0", "1", "2", "7", "9", "44", "00", " ", "-", ".", "/", "(", ")", "(0)", "+",
              "x", "#", "ext", "\t", "a", ",", "\u00a0"]
    answered = 0
    for _ in range(6000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 14))).strip()
        if rng.random() < 0.5:
            text = "".join(rng.choice("0123456789 -.()") for _ in range(rng.randint(4, 14)))
            text = (rng.choice(["", "+", "+1 ", "00"]) + text).strip()
        if not text:
            continue
        plain = _plain_digits(text)
        if plain is None:
            continue
        answered += 1
        assert plain == _digits(text), text
        digits, international = plain
        region = rng.choice(REGIONS)
        if digits.startswith("00") and not international:
            digits, international = digits[2:], True
        if len(digits) > 1:
            assert _ported(digits, region, international) == _reference(
                digits, region, international), text
    assert answered > 2000


@pytest.mark.parametrize("raw", ["+44 (0)20 7946 0958", "(+44) 20 7946 0958", "+", "()",
                                 "202 555 0143 x12", "++44 20", "1+202", "\u0662\u0660\u0662"])
def test_numbers_the_fast_path_leaves_to_the_general_path(raw: str) -> None:
    assert _plain_digits(raw) is None


def test_each_plan_s_length_table_gives_test_length_s_verdict() -> None:
    # _normalize_digits and _parse read a number's length verdict from the plan's table.
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

    from core.phone import _VERDICT_LENGTHS

    checked = 0
    for code, regions in COUNTRY_CODE_TO_REGION_CODE.items():
        for region in regions:
            plan = _plan(region, code)
            if plan is None:
                continue
            assert len(plan.verdicts) == _VERDICT_LENGTHS
            for length in range(_VERDICT_LENGTHS + 3):
                nsn = "5" * length
                verdict = (plan.verdicts[length] if length < _VERDICT_LENGTHS
                           else plan.test_length(nsn))
                assert verdict is plan.test_length(nsn)
            checked += 1
    assert checked > 200
