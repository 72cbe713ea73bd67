"""E.164 normalization of a Customer number (design §5): our clean-up rules, then phonenumbers.

Rules, in order:
- empty or whitespace: no phone ("no number given").
- a trailing extension ("x123", "ext. 5", "extension 12", "#7") is dropped: Klaviyo has no
  place for it.
- "+44 (0)20 ..." loses the "(0)" trunk marker that UK/EU writers put inside international numbers.
- any remaining letter makes the number unusable ("1-800-FLOWERS", "N/A", "call me"): no phone.
- every other non-digit (spaces, dots, dashes, parentheses, slashes) is removed.
- a leading "+" or "00" means the number carries its own country code; otherwise the country
  comes from the primary billing address (ISO-2 code, a few ISO-3 codes, or the country's name
  in English and a few other languages), else the configured default region.
- the digits are then read by `phonenumbers.parse`, which understands the region's own
  international prefix (011 in the US) and trunk prefix (0 in most of Europe).
- a number whose length is impossible for its country (too short, too long) cannot be
  normalized: no phone, with the reason.
- a number of possible length that `phonenumbers` does not consider valid is still returned,
  with valid=False, so the preview can warn that Klaviyo will probably reject it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult


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
# Every form of extension above has an x or a #: a text with neither skips that pattern, which
# costs a microsecond a number.
_EXTENSION_MARK = re.compile(r"[x#]", re.IGNORECASE)
_TRUNK_IN_INTERNATIONAL = re.compile(r"\(\s*0\s*\)")
_DIGIT = re.compile(r"\d")
_NON_DIGITS = re.compile(r"[^0-9]")
_LETTER = re.compile(r"[^\W\d_]")

# Our digits reach parse already clean, so "not a number" can only mean too few of them.
_PARSE_REASONS = {
    NumberParseException.NOT_A_NUMBER: "is too short to be a phone number",
    NumberParseException.TOO_SHORT_NSN: "is too short to be a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "is too short to be a phone number",
    NumberParseException.TOO_LONG: "is too long to be a phone number",
    NumberParseException.INVALID_COUNTRY_CODE: "starts with a country code that does not exist",
}
_LENGTH_REASONS = {
    ValidationResult.TOO_SHORT: "is too short to be a phone number",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "is a local number without an area code",
    ValidationResult.TOO_LONG: "is too long to be a phone number",
    ValidationResult.INVALID_LENGTH: "has a number of digits no phone number in that country has",
    ValidationResult.INVALID_COUNTRY_CODE: "starts with a country code that does not exist",
}


def normalize_phone(
    raw: str | None, *, country: str | None = None, default_region: str = "US"
) -> PhoneResult:
    """Normalize a raw phone text to E.164, reading national numbers in the country's region."""
    text = raw.strip() if raw is not None else ""
    if not text:
        return PhoneResult(None, False, "no number given")
    return _normalize(text, country, default_region)


@lru_cache(maxsize=8192)
def _normalize(text: str, country: str | None, default_region: str) -> PhoneResult:
    cleaned = _digits(text)
    if isinstance(cleaned, PhoneResult):
        return cleaned
    digits, international = cleaned
    if not international and digits.startswith("00"):
        international, digits = True, digits[2:]
    if international:
        return _parsed("+" + digits, None, text)
    region = region_for_country(country) or _region(default_region)
    if region is None:
        return PhoneResult(None, False, f"default region {default_region!r} is not a known region")
    return _parsed(digits, region, text)


def _digits(text: str) -> tuple[str, bool] | PhoneResult:
    """(digits, international) of stripped text, or why it has no usable number."""
    body = _EXTENSION.sub("", text) if _EXTENSION_MARK.search(text) else text
    if _DIGIT.search(body) is None:
        return PhoneResult(None, False, f"{text!r} has no digits")
    if _LETTER.search(body) is not None:
        return PhoneResult(
            None, False, f"{text!r} contains letters; only digits and + ( ) . - are usable"
        )
    international = body.startswith("+")
    if international:
        body = _TRUNK_IN_INTERNATIONAL.sub("", body)
    if body.isascii():
        # The same digits phonenumbers.normalize_digits_only keeps, at a fifth of its cost.
        return _NON_DIGITS.sub("", body), international
    return phonenumbers.normalize_digits_only(body), international


def _parsed(number: str, region: str | None, text: str) -> PhoneResult:
    """The E.164 form of clean digits read in `region` (None: they start with "+")."""
    try:
        parsed = phonenumbers.parse(number, region)
    except NumberParseException as failure:
        return PhoneResult(None, False, f"{text!r} {_PARSE_REASONS[failure.error_type]}", region)
    possible = phonenumbers.is_possible_number_with_reason(parsed)
    if possible != ValidationResult.IS_POSSIBLE:
        where = f" in {region}" if region else ""
        return PhoneResult(None, False, f"{text!r} {_LENGTH_REASONS[possible]}{where}", region)
    e164 = phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    # A number read in a region is most often that region's: asking that region first spares
    # is_valid_number finding the number's region (testing the regions of its country code in
    # turn) before it tests the number again; a no still gets that search (a CA number read in
    # US is valid).
    if (region is not None and phonenumbers.is_valid_number_for_region(parsed, region)) or (
            phonenumbers.is_valid_number(parsed)):
        return PhoneResult(e164, True, "", region)
    claimed = phonenumbers.region_code_for_number(parsed)
    where = f" for {claimed}" if claimed in phonenumbers.SUPPORTED_REGIONS else ""
    return PhoneResult(e164, False, f"{e164} is not a valid phone number{where}", region)


def _region(code: str) -> str | None:
    code = code.strip().upper()
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


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


_PUNCTUATION = re.compile(r"[\W_]+")


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
    for pair in _ENGLISH_NAMES.split("|"):
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
        return code if code in phonenumbers.SUPPORTED_REGIONS else None
    named = _country_names().get(_fold(text))
    # Some named territories (Antarctica, Netherlands Antilles) have no numbering plan.
    return named if named in phonenumbers.SUPPORTED_REGIONS else None
