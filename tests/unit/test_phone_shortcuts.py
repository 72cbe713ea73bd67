"""normalize_phone's shortcuts (the extension pattern only for a text with an x or a #, ASCII
digits kept by a regex, the read region's validity asked first) give what the plain use of
phonenumbers gave, over a broad set of numbers."""

from __future__ import annotations

import random
from collections.abc import Iterator

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from core import phone
from core.phone import PhoneResult, normalize_phone, region_for_country


def _plain(raw: str | None, country: str | None, default_region: str) -> PhoneResult:
    """normalize_phone without the shortcuts: every digit through normalize_digits_only, the
    possible length, then is_valid_number alone."""
    text = raw.strip() if raw is not None else ""
    if not text:
        return PhoneResult(None, False, "no number given")
    body = phone._EXTENSION.sub("", text)
    if phone._DIGIT.search(body) is None:
        return PhoneResult(None, False, f"{text!r} has no digits")
    if phone._LETTER.search(body) is not None:
        return PhoneResult(
            None, False, f"{text!r} contains letters; only digits and + ( ) . - are usable")
    international = body.startswith("+")
    if international:
        body = phone._TRUNK_IN_INTERNATIONAL.sub("", body)
    digits = phonenumbers.normalize_digits_only(body)
    if not international and digits.startswith("00"):
        international, digits = True, digits[2:]
    region: str | None = None
    if international:
        digits = "+" + digits
    else:
        region = region_for_country(country) or phone._region(default_region)
        if region is None:
            return PhoneResult(
                None, False, f"default region {default_region!r} is not a known region")
    try:
        parsed = phonenumbers.parse(digits, region)
    except NumberParseException as failure:
        reason = phone._PARSE_REASONS[failure.error_type]
        return PhoneResult(None, False, f"{text!r} {reason}", region)
    possible = phonenumbers.is_possible_number_with_reason(parsed)
    if possible != phonenumbers.ValidationResult.IS_POSSIBLE:
        where = f" in {region}" if region else ""
        return PhoneResult(
            None, False, f"{text!r} {phone._LENGTH_REASONS[possible]}{where}", region)
    e164 = phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    if phonenumbers.is_valid_number(parsed):
        return PhoneResult(e164, True, "", region)
    claimed = phonenumbers.region_code_for_number(parsed)
    where = f" for {claimed}" if claimed in phonenumbers.SUPPORTED_REGIONS else ""
    return PhoneResult(e164, False, f"{e164} is not a valid phone number{where}", region)


def _variants(digits: str) -> Iterator[str]:
    """A number as given, a digit short, a digit long, and its last digit changed."""
    yield digits
    yield digits[:-1]
    yield digits + "7"
    yield digits[:-1] + str((int(digits[-1]) + 1) % 10)


def _every_region_s_numbers() -> Iterator[tuple[str, str | None, str]]:
    """(written number, billing country, default region): each region's example number of
    every type, as written at home and abroad, with its variants, read in its own region, in
    the main region of its country code (a CA number under the US default) and in the US."""
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        main = phonenumbers.region_code_for_country_code(phonenumbers.country_code_for_region(
            region))
        for kind in PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            national = phonenumbers.national_significant_number(example)
            written = phonenumbers.format_number(example, PhoneNumberFormat.NATIONAL)
            for variant in _variants(national):
                yield variant, region, "US"
                yield variant, None, main
                yield f"+{example.country_code} {variant}", None, "US"
            yield written, None, main
            yield written, "US", "US"


def _messy_numbers() -> Iterator[tuple[str, str | None, str]]:
    """What customers type: the bulk bench's US numbers, letters, 00 and 011 prefixes,
    extensions, trunk markers, non-ASCII digits, and random digit runs of every length."""
    for index in range(0, 20_000, 97):
        yield f"(312) {200 + index // 10_000 % 800:03d}-{index % 10_000:04d}", "US", "US"
    fixed = [
        "310 1234", "+1 310 1234", "(310) 1234", "555-0143", "(555) 555-0123", "1-800-FLOWERS",
        "N/A", "call me", "123", "+1", "+999 1234 5678", "2025550143999999999",
        "001 202 555 0143", "011 44 20 7946 0958", "0044 20 7946 0958", "+44 (0)20 7946 0958",
        "+49 (0)30 1234567", "202 555 0143 x123", "202-555-0143 ext. 5", "202 555 0143 #7",
        "202 555 0143 extension 12", "202 555 0143 X9", "202-555-0143 EXT 12",
        "202 555 0143 Ext.5", "202 555 0143 extn 44", "202 555 0143, x 12", "202 555 0143;#3",
        "202 555 0143 xt: 7", "\u0662\u0660\u0662 555 0143", "\uff12\uff10\uff12 555 0143",
        "\u00a0(202)\u00a0555\u20110143\u00a0", "268 464 1234", "(416) 555-0199",
        "07400 123456", "020 7946 0958", "01481 256789", "07781 123456", "030/123 4567",
        "+7 701 123 4567", "8 (727) 123-45-67", "06 698 12345", "+39 06 698 12345",
        "+358 18 123456", "0049 30 1234567", "+1 202 555 0143 9999 12", "", "   ",
    ]
    for raw in fixed:
        for country, region in ((None, "US"), ("US", "US"), ("CA", "US"), ("GB", "US"),
                                ("DE", "US"), (None, "GB"), ("Kazakhstan", "RU")):
            yield raw, country, region
    rng = random.Random(14)
    for _ in range(3_000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(3, 17)))
        yield rng.choice(["", "+", "00", "0"]) + digits, rng.choice([None, "US", "GB", "DE"]), (
            rng.choice(["US", "GB", "DE", "FR", "IN"]))


def test_the_shortcuts_give_what_phonenumbers_alone_gave() -> None:
    corpus = [*_every_region_s_numbers(), *_messy_numbers()]
    differ = [(raw, country, region, got, plain) for raw, country, region in corpus
              if (got := normalize_phone(raw, country=country, default_region=region))
              != (plain := _plain(raw, country, region))]
    assert len(corpus) > 20_000
    # The corpus reaches every branch: valid, valid only by its own region's search, possible
    # but invalid, a length that is only possible locally, and no phone at all.
    results = [_plain(raw, country, region) for raw, country, region in corpus]
    assert sum(r.valid for r in results) > 5_000
    assert sum(r.e164 is not None and not r.valid for r in results) > 1_000
    assert any("local number" in r.reason for r in results)
    assert differ == []


def test_a_number_valid_only_in_another_region_of_its_country_code_is_valid() -> None:
    # Read in US by default, a Canadian number is not the US's: the search finds CA.
    result = normalize_phone("(416) 555-0199", default_region="US")
    assert phonenumbers.is_valid_number_for_region(phonenumbers.parse("4165550199", "US"), "US") \
        is False
    assert (result.e164, result.valid, result.region) == ("+14165550199", True, "US")


def test_a_valid_number_of_a_length_only_local_in_its_country_code_has_no_phone() -> None:
    # Canada's 310 numbers are valid, but +1's length rules (the US's) call 7 digits local:
    # the length is checked before validity, as it always was.
    assert phonenumbers.is_valid_number(phonenumbers.parse("3101234", "US"))
    result = normalize_phone("310 1234", default_region="US")
    assert result == PhoneResult(None, False, "'310 1234' is a local number without an area "
                                 "code in US", "US")
