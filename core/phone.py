"""E.164 normalization of a Customer number (design §5): digits, country code, phonenumbers checks.

Rules, in order:
- empty or whitespace: no phone ("no customer number").
- a trailing extension ("x123", "ext. 5", "extension 12", "#7") is dropped: Klaviyo has no
  place for it.
- "+44 (0)20 ..." loses the "(0)" trunk marker that UK/EU writers put inside international numbers.
- any remaining letter makes the number unusable ("1-800-FLOWERS", "N/A", "call me"): no phone.
- every other non-digit (spaces, dots, dashes, parentheses, slashes) is removed.
- a leading "+" or "00" means the number carries its own country code; otherwise the country
  comes from the primary billing address (ISO-2 code, a few ISO-3 codes, or the country's name
  in English and a few other languages), else the configured default region. The region's own
  international prefix (011 in the US) and trunk prefix (0 in most of Europe) are understood.
- a number whose length is impossible for its country (too short, too long) cannot be
  normalized: no phone, with the reason.
- a number of possible length that `phonenumbers` does not consider valid is still returned,
  with valid=False, so the preview can warn that Klaviyo will probably reject it.

Parsing and validation follow libphonenumber's algorithm (ported for speed over a clean digit
string, with per-region data compiled once); `tests/unit/test_phone.py` checks the port against
`phonenumbers.parse` on thousands of generated inputs.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata


@dataclass(frozen=True, slots=True)
class PhoneResult:
    """The outcome of normalizing one number; `reason` says why e164 is None or not valid."""

    e164: str | None
    valid: bool
    reason: str = ""
    # The region a national-format number was read in (None when the number carried a country code).
    region: str | None = None


_EXTENSION = re.compile(
    r"(?:[\s,;]*(?:e?xt(?:ension|n)?|x|#)\.?\s*:?\s*\d{1,7})\s*$", re.IGNORECASE
)
_TRUNK_IN_INTERNATIONAL = re.compile(r"\(\s*0\s*\)")
_EXTENSION_MARK = re.compile(r"[xX#]")
_NON_DIGITS = re.compile(r"\D+")
_ASCII_NON_DIGITS = bytes(c for c in range(128) if not chr(c).isdigit())
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]")
_PUNCTUATION = re.compile(r"[\W_]+")
_MIN_NSN = 2
_MAX_NSN = 17


def normalize_phone(
    raw: str | None, *, country: str | None = None, default_region: str = "US"
) -> PhoneResult:
    """Normalize a raw phone text to E.164, reading national numbers in the country's region."""
    text = raw.strip() if raw is not None else ""
    if not text:
        return PhoneResult(None, False, "no number given")
    plain = _plain_digits(text)
    if plain is None:
        found = _digits(text)
        if isinstance(found, PhoneResult):
            return found
        plain = found
    digits, international = plain
    if not international and digits.startswith("00"):
        international, digits = True, digits[2:]
    region = None if international else (
        (region_for_country(country) if country else None) or _region(default_region))
    if region is None and not international:
        return PhoneResult(None, False, f"default region {default_region!r} is not a known region")
    return _normalize_digits(digits, region, text)


# The separators people type between digits: with only these, digits and a leading "+", a
# number has no extension, no letter and no "(0)" trunk marker (see _plain_digits).
_SEPARATORS = str.maketrans("", "", " ()-./")


def _plain_digits(text: str) -> tuple[str, bool] | None:
    """(digits, international) of ASCII text made of digits, separators and a leading "+".

    Most numbers look like this; for them _digits would find no extension marker, no letter
    and no "(0)" (an international number with a parenthesis goes to _digits), and keep
    exactly these digits, so its regex scans are skipped. Anything else returns None.
    """
    if not text.isascii():
        return None
    kept = text.translate(_SEPARATORS)
    international = text[0] == "+"
    if international:
        if "(" in text:
            return None
        kept = kept[1:]
    # ASCII text: isdigit is exactly 0-9 (and False for "", which _digits words).
    return (kept, international) if kept.isdigit() else None


def _digits(text: str) -> tuple[str, bool] | PhoneResult:
    """(digits, international) of any stripped text, or why it has no usable number."""
    # Every extension marker has an x or a #: most numbers skip the costly pattern.
    body = _EXTENSION.sub("", text) if _EXTENSION_MARK.search(text) else text
    if _DIGIT.search(body) is None:
        return PhoneResult(None, False, f"{text!r} has no digits")
    if _LETTER.search(body) is not None:
        return PhoneResult(
            None, False, f"{text!r} contains letters; only digits and + ( ) . - are usable"
        )
    international = body.lstrip().startswith("+")
    if international:
        body = _TRUNK_IN_INTERNATIONAL.sub("", body)
    if body.isascii():
        digits = body.encode("ascii").translate(None, _ASCII_NON_DIGITS).decode("ascii")
    else:
        digits = _NON_DIGITS.sub("", body)
        if not digits.isascii():
            digits = "".join(str(unicodedata.digit(c)) for c in digits)
    return digits, international


@lru_cache(maxsize=4096)
def _region(code: str) -> str | None:
    code = code.strip().upper()
    return code if code in _regions() else None


@lru_cache(maxsize=1)
def _regions() -> frozenset[str]:
    return frozenset(phonenumbers.SUPPORTED_REGIONS)


# --------------------------------------------------------------------------------------------
# Country names -> ISO-2
# --------------------------------------------------------------------------------------------

# Names people type that the phonenumbers locale data does not hold (or holds differently).
_COUNTRY_ALIASES = {
    "usa": "US", "u.s.": "US", "u.s.a.": "US", "united states of america": "US", "america": "US",
    "us of a": "US", "uk": "GB", "u.k.": "GB", "great britain": "GB", "britain": "GB",
    "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB",
    "holland": "NL", "the netherlands": "NL", "korea": "KR", "republic of korea": "KR",
    "korea, republic of": "KR", "russian federation": "RU", "czechia": "CZ",
    "viet nam": "VN", "ivory coast": "CI", "north macedonia": "MK", "eswatini": "SZ",
    "turkiye": "TR", "uae": "AE", "hong kong sar": "HK", "macau": "MO", "the bahamas": "BS",
    "the gambia": "GM", "democratic republic of the congo": "CD", "republic of the congo": "CG",
    "cabo verde": "CV", "vatican city": "VA", "holy see": "VA", "brunei darussalam": "BN",
    "lao pdr": "LA", "burma": "MM", "east timor": "TL", "persia": "IR",
    # ISO 3166 alpha-3 codes of the countries merchants most often ship to.
    "gbr": "GB", "can": "CA", "aus": "AU", "nzl": "NZ", "irl": "IE", "deu": "DE", "fra": "FR",
    "ita": "IT", "esp": "ES", "prt": "PT", "nld": "NL", "bel": "BE", "lux": "LU", "che": "CH",
    "aut": "AT", "swe": "SE", "nor": "NO", "dnk": "DK", "fin": "FI", "isl": "IS", "pol": "PL",
    "cze": "CZ", "svk": "SK", "hun": "HU", "rou": "RO", "bgr": "BG", "grc": "GR", "tur": "TR",
    "mex": "MX", "bra": "BR", "arg": "AR", "chl": "CL", "col": "CO", "per": "PE", "jpn": "JP",
    "chn": "CN", "kor": "KR", "ind": "IN", "sgp": "SG", "hkg": "HK", "twn": "TW", "zaf": "ZA",
    "are": "AE", "isr": "IL", "phl": "PH", "mys": "MY", "tha": "TH", "idn": "ID", "vnm": "VN",
    "rus": "RU", "ukr": "UA", "egy": "EG", "nga": "NG", "ken": "KE", "sau": "SA",
}


def _fold(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.strip().casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_PUNCTUATION.sub(" ", plain).split())


# English country names by ISO-2 code, from phonenumbers' locale data (loading that module
# takes seconds, so the names are copied here).
_ENGLISH_NAMES = (
    "AD:Andorra|AE:United Arab Emirates|AF:Afghanistan|AG:Antigua and Barbuda|AI:Anguilla|"
    "AL:Albania|AM:Armenia|AN:Netherlands Antilles|AO:Angola|AQ:Antarctica|AR:Argentina|"
    "AS:American Samoa|AT:Austria|AU:Australia|AW:Aruba|AX:Åland Islands|AZ:Azerbaijan|"
    "BA:Bosnia and Herzegovina|BB:Barbados|BD:Bangladesh|BE:Belgium|BF:Burkina Faso|"
    "BG:Bulgaria|BH:Bahrain|BI:Burundi|BJ:Benin|BL:Saint Barthélemy|BM:Bermuda|BN:Brunei|"
    "BO:Bolivia|BQ:Bonaire, Sint Eustatius and Saba|BR:Brazil|BS:Bahamas|BT:Bhutan|"
    "BV:Bouvet Island|BW:Botswana|BY:Belarus|BZ:Belize|CA:Canada|CC:Cocos Islands|"
    "CD:The Democratic Republic Of Congo|CF:Central African Republic|CG:Congo|CH:Switzerland|"
    "CI:Côte d'Ivoire|CK:Cook Islands|CL:Chile|CM:Cameroon|CN:China|CO:Colombia|CR:Costa Rica|"
    "CU:Cuba|CV:Cape Verde|CW:Curaçao|CX:Christmas Island|CY:Cyprus|CZ:Czech Republic|"
    "DE:Germany|DJ:Djibouti|DK:Denmark|DM:Dominica|DO:Dominican Republic|DZ:Algeria|EC:Ecuador|"
    "EE:Estonia|EG:Egypt|EH:Western Sahara|ER:Eritrea|ES:Spain|ET:Ethiopia|FI:Finland|FJ:Fiji|"
    "FK:Falkland Islands|FM:Micronesia|FO:Faroe Islands|FR:France|GA:Gabon|GB:United Kingdom|"
    "GD:Grenada|GE:Georgia|GF:French Guiana|GG:Guernsey|GH:Ghana|GI:Gibraltar|GL:Greenland|"
    "GM:Gambia|GN:Guinea|GP:Guadeloupe|GQ:Equatorial Guinea|GR:Greece|"
    "GS:South Georgia And The South Sandwich Islands|GT:Guatemala|GU:Guam|GW:Guinea-Bissau|"
    "GY:Guyana|HK:Hong Kong|HM:Heard Island And McDonald Islands|HN:Honduras|HR:Croatia|"
    "HT:Haiti|HU:Hungary|ID:Indonesia|IE:Ireland|IL:Israel|IM:Isle Of Man|IN:India|"
    "IO:British Indian Ocean Territory|IQ:Iraq|IR:Iran|IS:Iceland|IT:Italy|JE:Jersey|"
    "JM:Jamaica|JO:Jordan|JP:Japan|KE:Kenya|KG:Kyrgyzstan|KH:Cambodia|KI:Kiribati|KM:Comoros|"
    "KN:Saint Kitts And Nevis|KP:North Korea|KR:South Korea|KW:Kuwait|KY:Cayman Islands|"
    "KZ:Kazakhstan|LA:Laos|LB:Lebanon|LC:Saint Lucia|LI:Liechtenstein|LK:Sri Lanka|LR:Liberia|"
    "LS:Lesotho|LT:Lithuania|LU:Luxembourg|LV:Latvia|LY:Libya|MA:Morocco|MC:Monaco|MD:Moldova|"
    "ME:Montenegro|MF:Saint Martin|MG:Madagascar|MH:Marshall Islands|MK:Macedonia|ML:Mali|"
    "MM:Myanmar|MN:Mongolia|MO:Macao|MP:Northern Mariana Islands|MQ:Martinique|MR:Mauritania|"
    "MS:Montserrat|MT:Malta|MU:Mauritius|MV:Maldives|MW:Malawi|MX:Mexico|MY:Malaysia|"
    "MZ:Mozambique|NA:Namibia|NC:New Caledonia|NE:Niger|NF:Norfolk Island|NG:Nigeria|"
    "NI:Nicaragua|NL:Netherlands|NO:Norway|NP:Nepal|NR:Nauru|NU:Niue|NZ:New Zealand|OM:Oman|"
    "PA:Panama|PE:Peru|PF:French Polynesia|PG:Papua New Guinea|PH:Philippines|PK:Pakistan|"
    "PL:Poland|PM:Saint Pierre And Miquelon|PN:Pitcairn|PR:Puerto Rico|PS:Palestine|"
    "PT:Portugal|PW:Palau|PY:Paraguay|QA:Qatar|RE:Reunion|RO:Romania|RS:Serbia|RU:Russia|"
    "RW:Rwanda|SA:Saudi Arabia|SB:Solomon Islands|SC:Seychelles|SD:Sudan|SE:Sweden|"
    "SG:Singapore|SH:Saint Helena|SI:Slovenia|SJ:Svalbard And Jan Mayen|SK:Slovakia|"
    "SL:Sierra Leone|SM:San Marino|SN:Senegal|SO:Somalia|SR:Suriname|SS:South Sudan|"
    "ST:Sao Tome And Principe|SV:El Salvador|SX:Sint Maarten (Dutch part)|SY:Syria|"
    "SZ:Swaziland|TC:Turks And Caicos Islands|TD:Chad|TF:French Southern Territories|TG:Togo|"
    "TH:Thailand|TJ:Tajikistan|TK:Tokelau|TL:Timor-Leste|TM:Turkmenistan|TN:Tunisia|TO:Tonga|"
    "TR:Turkey|TT:Trinidad and Tobago|TV:Tuvalu|TW:Taiwan|TZ:Tanzania|UA:Ukraine|UG:Uganda|"
    "UM:United States Minor Outlying Islands|US:United States|UY:Uruguay|UZ:Uzbekistan|"
    "VA:Vatican|VC:Saint Vincent And The Grenadines|VE:Venezuela|VG:British Virgin Islands|"
    "VI:U.S. Virgin Islands|VN:Vietnam|VU:Vanuatu|WF:Wallis And Futuna|WS:Samoa|YE:Yemen|"
    "YT:Mayotte|ZA:South Africa|ZM:Zambia|ZW:Zimbabwe|"
)
# Names in the languages of the main markets, as customers write them on addresses.
_NATIVE_NAMES = {
    "deutschland": "DE", "allemagne": "DE", "alemania": "DE", "germania": "DE",
    "osterreich": "AT", "autriche": "AT", "schweiz": "CH", "suisse": "CH", "svizzera": "CH",
    "espana": "ES", "espagne": "ES", "italia": "IT", "italie": "IT", "nederland": "NL",
    "pays bas": "NL", "belgie": "BE", "belgique": "BE", "belgien": "BE", "sverige": "SE",
    "norge": "NO", "danmark": "DK", "suomi": "FI", "polska": "PL", "cesko": "CZ",
    "ceska republika": "CZ", "magyarorszag": "HU", "portugal": "PT", "brasil": "BR",
    "mexico": "MX", "eire": "IE", "royaume uni": "GB", "vereinigtes konigreich": "GB",
    "etats unis": "US", "vereinigte staaten": "US", "estados unidos": "US", "nippon": "JP",
    "ellada": "GR", "hellas": "GR", "turkiye": "TR", "rossiya": "RU", "zhongguo": "CN",
}


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    table: dict[str, str] = {}
    for pair in "".join(_ENGLISH_NAMES).split("|"):
        if pair:
            code, name = pair.split(":", 1)
            table[_fold(name)] = code
    table.update(_NATIVE_NAMES)
    table.update({_fold(k): v for k, v in _COUNTRY_ALIASES.items()})
    return table


@lru_cache(maxsize=4096)
def region_for_country(country: str | None) -> str | None:
    """The ISO-2 region for an address country (code or name), or None when unknown or empty."""
    if country is None or not country.strip():
        return None
    text = country.strip()
    if len(text) == 2 and text.isalpha():
        code = text.upper()
        if code == "UK":
            return "GB"
        return code if code in _regions() else None
    named = _country_names().get(_fold(text))
    # Some named territories (Antarctica, Netherlands Antilles) have no numbering plan.
    return named if named in _regions() else None


# --------------------------------------------------------------------------------------------
# A port of libphonenumber's parse / possible / valid over a clean digit string
# --------------------------------------------------------------------------------------------


class _Length(IntEnum):
    POSSIBLE = 0
    INVALID_COUNTRY_CODE = 1
    TOO_SHORT = 2
    TOO_LONG = 3
    LOCAL_ONLY = 4
    INVALID_LENGTH = 5


class _ParseFailure(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Desc:
    lengths: frozenset[int]
    pattern: re.Pattern[str] | None

    def matches(self, nsn: str) -> bool:
        """libphonenumber's _is_number_matching_desc."""
        if self.lengths and len(nsn) not in self.lengths:
            return False
        return self.pattern is not None and self.pattern.fullmatch(nsn) is not None


@dataclass(frozen=True, slots=True)
class _Plan:
    """One region's metadata, compiled once."""

    code: str
    country_code: int
    # str(country_code), formatted once rather than per number.
    country_prefix: str
    idd: re.Pattern[str] | None
    national_prefix: re.Pattern[str] | None
    transform: str | None
    leading_digits: re.Pattern[str] | None
    general: re.Pattern[str] | None
    possible: tuple[int, ...]
    local_only: frozenset[int]
    types: tuple[_Desc, ...]
    # The type patterns that apply to each number length, joined into one pattern: validity
    # is "some type matches", one regex call instead of one per type.
    types_by_length: Mapping[int, re.Pattern[str] | None]
    types_any_length: re.Pattern[str] | None
    # test_length's verdict by number length, for lengths up to _VERDICT_LENGTHS: read per
    # number instead of the call (test_length answers longer ones).
    verdicts: tuple[_Length, ...] = ()

    def general_matches(self, nsn: str) -> bool:
        return self.general is not None and self.general.fullmatch(nsn) is not None

    def test_length(self, nsn: str) -> _Length:
        """libphonenumber's _test_number_length for the general description."""
        possible = self.possible
        actual = len(nsn)
        if actual in self.local_only:
            return _Length.LOCAL_ONLY
        if not possible or possible[0] == -1:
            return _Length.INVALID_LENGTH
        if possible[0] == actual:
            return _Length.POSSIBLE
        if possible[0] > actual:
            return _Length.TOO_SHORT
        if possible[-1] < actual:
            return _Length.TOO_LONG
        return _Length.POSSIBLE if actual in possible[1:] else _Length.INVALID_LENGTH

    def strip_national_prefix(self, number: str) -> str:
        """libphonenumber's _maybe_strip_national_prefix_carrier_code (number part only)."""
        prefix = self.national_prefix
        if not number or prefix is None:
            return number
        match = prefix.match(number)
        if match is None:
            return number
        # general_matches inline (a call fewer per number): no general pattern matches nothing.
        general = self.general
        viable_original = general is not None and general.fullmatch(number) is not None
        groups = match.groups()
        if not self.transform or not groups or groups[-1] is None:
            stripped = number[match.end():]
        else:
            stripped = prefix.sub(self.transform, number, count=1)
        if viable_original and general is not None and general.fullmatch(stripped) is None:
            return number
        return stripped

    def is_valid(self, nsn: str) -> bool:
        """libphonenumber's _number_type_helper(...) != UNKNOWN."""
        general = self.general  # general_matches inline: a call fewer per number
        if general is None or general.fullmatch(nsn) is None:
            return False
        types = self.types_by_length.get(len(nsn), self.types_any_length)
        return types is not None and types.fullmatch(nsn) is not None


def _compile(pattern: str | None) -> re.Pattern[str] | None:
    return re.compile(pattern) if pattern else None


def _any_of(types: Iterable[_Desc]) -> re.Pattern[str] | None:
    """One pattern that fully matches what any of these types' patterns fully matches."""
    # Types often share a pattern (fixed line and mobile in the US): a number that matches
    # neither would be tried against it twice, so each distinct pattern appears once.
    patterns = dict.fromkeys(desc.pattern.pattern for desc in types if desc.pattern is not None)
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


def _types_by_length(
    types: tuple[_Desc, ...]
) -> tuple[dict[int, re.Pattern[str] | None], re.Pattern[str] | None]:
    """_Desc.matches per length: a type with lengths applies only to those, one without to all."""
    lengths = {length for desc in types for length in desc.lengths}
    by_length = {
        length: _any_of(d for d in types if not d.lengths or length in d.lengths)
        for length in lengths
    }
    return by_length, _any_of(d for d in types if not d.lengths)


# Validity needs only "some type matches"; the common types go first.
_TYPE_FIELDS = (
    "fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "voip",
    "personal_number", "pager", "uan", "voicemail",
)


@lru_cache(maxsize=512)
def _plan(code: str, country_code: int = 0) -> _Plan | None:
    if code == "001":
        metadata = PhoneMetadata.metadata_for_nongeo_region(country_code, None)
    else:
        metadata = PhoneMetadata.metadata_for_region(code, None)
    if metadata is None:
        return None
    general = metadata.general_desc
    types = []
    for name in _TYPE_FIELDS:
        desc = getattr(metadata, name, None)
        if desc is not None:
            types.append(
                _Desc(frozenset(desc.possible_length or ()), _compile(desc.national_number_pattern))
            )
    by_length, any_length = _types_by_length(tuple(types))
    plan = _Plan(
        code=code,
        country_code=int(metadata.country_code or 0),
        country_prefix=str(int(metadata.country_code or 0)),
        idd=_compile(metadata.international_prefix),
        national_prefix=_compile(metadata.national_prefix_for_parsing),
        transform=metadata.national_prefix_transform_rule or None,
        leading_digits=_compile(metadata.leading_digits),
        general=_compile(general.national_number_pattern if general else None),
        possible=tuple(general.possible_length or ()) if general else (),
        local_only=frozenset(general.possible_length_local_only or ()) if general else frozenset(),
        types=tuple(types),
        types_by_length=by_length,
        types_any_length=any_length,
    )
    verdicts = tuple(plan.test_length("0" * length) for length in range(_VERDICT_LENGTHS))
    return dataclasses.replace(plan, verdicts=verdicts)


# test_length depends on the length alone; numbers are seldom longer than this.
_VERDICT_LENGTHS = 24


def _length(plan: _Plan, nsn: str) -> _Length:
    """plan.test_length(nsn), from the plan's table when the length is in it."""
    size = len(nsn)
    return plan.verdicts[size] if size < _VERDICT_LENGTHS else plan.test_length(nsn)


_MAIN_PLANS: dict[int, _Plan | None] = {}


def _main_plan(country_code: int) -> _Plan | None:
    # Once per country code (a few hundred exist): one dict lookup per number after that.
    if country_code in _MAIN_PLANS:
        return _MAIN_PLANS[country_code]
    regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    plan = _plan(regions[0], country_code) if regions else None
    _MAIN_PLANS[country_code] = plan
    return plan


def _extract_country_code(number: str) -> tuple[int, str]:
    if not number or number[0] == "0":
        return 0, number
    for size in range(1, min(len(number), 3) + 1):
        code = int(number[:size])
        if code in COUNTRY_CODE_TO_REGION_CODE:
            return code, number[size:]
    return 0, number


def _parse(digits: str, region: str | None) -> tuple[int, str]:
    """(country code, national significant number) as phonenumbers.parse would read them."""
    plan = _plan(region) if region else None
    from_idd = region is None
    number = digits
    if plan is not None and plan.idd is not None:
        match = plan.idd.match(number)
        if match is not None and number[match.end():match.end() + 1] != "0":
            from_idd, number = True, number[match.end():]
    country_code = 0
    nsn = ""
    if from_idd:
        if len(number) <= _MIN_NSN:
            raise _ParseFailure("is too short to be a phone number")
        country_code, nsn = _extract_country_code(number)
        if country_code == 0:
            raise _ParseFailure("starts with a country code that does not exist")
    elif plan is not None:
        prefix = plan.country_prefix
        if number.startswith(prefix):
            potential = plan.strip_national_prefix(number[len(prefix):])
            if (
                not plan.general_matches(number) and plan.general_matches(potential)
            ) or _length(plan, number) is _Length.TOO_LONG:
                country_code, nsn = plan.country_code, potential
    if country_code:
        main = COUNTRY_CODE_TO_REGION_CODE[country_code][0]
        if plan is None or main != plan.code:
            plan = _plan(main, country_code)
    else:
        assert plan is not None
        country_code, nsn = plan.country_code, number
    if len(nsn) < _MIN_NSN:
        raise _ParseFailure("is too short to be a phone number")
    if plan is not None:
        potential = plan.strip_national_prefix(nsn)
        size = len(potential)
        verdict = plan.verdicts[size] if size < _VERDICT_LENGTHS else plan.test_length(potential)
        if verdict is _POSSIBLE or verdict is _TOO_LONG:
            nsn = potential
    if len(nsn) > _MAX_NSN:
        raise _ParseFailure("is too long to be a phone number")
    # libphonenumber keeps every leading zero of an NSN as significant (Italy), so the digit
    # string is already the canonical national significant number.
    return country_code, nsn


@dataclass(frozen=True, slots=True)
class _Claim:
    """One step of region_code_for_number: a region that must validate the number, or a run
    of regions claiming numbers by leading digits, joined into one pattern (group rN = plans[N])."""

    leading: re.Pattern[str] | None
    plans: tuple[_Plan, ...]


@lru_cache(maxsize=512)
def _claims(country_code: int) -> tuple[_Claim, ...]:
    """The regions sharing a country code, in libphonenumber's order, compiled once."""
    steps: list[_Claim] = []
    run: list[_Plan] = []

    def close_run() -> None:
        if run:
            joined = "|".join(
                f"(?P<r{index}>{plan.leading_digits.pattern})"
                for index, plan in enumerate(run) if plan.leading_digits is not None
            )
            steps.append(_Claim(re.compile(joined), tuple(run)))
            run.clear()

    for code in COUNTRY_CODE_TO_REGION_CODE.get(country_code, ()):
        plan = _plan(code, country_code)
        if plan is None:
            continue
        if plan.leading_digits is not None:
            run.append(plan)
        else:
            close_run()
            steps.append(_Claim(None, (plan,)))
    close_run()
    return tuple(steps)


def _validate(country_code: int, nsn: str, preferred: str | None) -> tuple[_Plan | None, bool]:
    """The region libphonenumber assigns the number (region_code_for_number), and whether the
    number is valid there; the region the number was read in is tried first."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())
    if len(regions) == 1:
        plan = _plan(regions[0], country_code)
        return plan, plan is not None and plan.is_valid(nsn)
    rejected = None
    if preferred is not None and preferred in regions:
        # Regions sharing a country code claim disjoint number ranges, so a region that
        # validates the number is the one libphonenumber would pick (the port test checks it).
        plan = _plan(preferred, country_code)
        if plan is not None:
            if plan.is_valid(nsn):
                return plan, True
            rejected = plan.code
    for claim in _claims(country_code):
        if claim.leading is None:
            plan = claim.plans[0]
            if plan.code != rejected and plan.is_valid(nsn):
                return plan, True
            continue
        found = claim.leading.match(nsn)
        if found is not None and found.lastgroup is not None:
            plan = claim.plans[int(found.lastgroup[1:])]
            return plan, plan.code != rejected and plan.is_valid(nsn)
    return None, False


def _validity_region(country_code: int, nsn: str, preferred: str | None) -> _Plan | None:
    """libphonenumber's region_code_for_number, trying the region the number was read in first."""
    return _validate(country_code, nsn, preferred)[0]


_LENGTH_REASONS = {
    _Length.TOO_SHORT: "is too short to be a phone number",
    _Length.LOCAL_ONLY: "is a local number without an area code",
    _Length.TOO_LONG: "is too long to be a phone number",
    _Length.INVALID_LENGTH: "has a number of digits no phone number in that country has",
    _Length.INVALID_COUNTRY_CODE: "starts with a country code that does not exist",
}


_POSSIBLE, _TOO_LONG = _Length.POSSIBLE, _Length.TOO_LONG


@lru_cache(maxsize=8192)
def _normalize_digits(digits: str, region: str | None, text: str) -> PhoneResult:
    try:
        country_code, nsn = _parse(digits, region)
    except _ParseFailure as failure:
        return PhoneResult(None, False, f"{text!r} {failure}", region)
    # _main_plan's table read first: it holds every code once seen, and this runs per number.
    main = _MAIN_PLANS.get(country_code) or _main_plan(country_code)
    if main is None:
        reason = _LENGTH_REASONS[_Length.INVALID_COUNTRY_CODE]
        return PhoneResult(None, False, f"{text!r} {reason}", region)
    size = len(nsn)
    length = main.verdicts[size] if size < _VERDICT_LENGTHS else main.test_length(nsn)
    if length is not _POSSIBLE:
        where = f" in {region}" if region else ""
        return PhoneResult(None, False, f"{text!r} {_LENGTH_REASONS[length]}{where}", region)
    e164 = f"+{country_code}{nsn}"
    if len(COUNTRY_CODE_TO_REGION_CODE[country_code]) == 1:
        # _validate's one-region case inline: that region is the main plan (the same _plan),
        # and is_valid's two checks are read here.
        plan: _Plan | None = main
        general = main.general
        types = main.types_by_length.get(size, main.types_any_length)
        valid = (general is not None and general.fullmatch(nsn) is not None
                 and types is not None and types.fullmatch(nsn) is not None)
    else:
        plan, valid = _validate(country_code, nsn, region)
    if valid:
        return PhoneResult(e164, True, "", region)
    where = f" for {plan.code}" if plan is not None and plan.code != "001" else ""
    return PhoneResult(e164, False, f"{e164} is not a valid phone number{where}", region)
