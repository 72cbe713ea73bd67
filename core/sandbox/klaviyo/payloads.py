"""Request-body checks mirroring Klaviyo's strict JSON:API schemas, with precise pointers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import phonenumbers

from core.sandbox.klaviyo.errors import invalid, not_a_field

JSON = dict[str, Any]

PROFILE_STRINGS = (
    "email",
    "phone_number",
    "external_id",
    "first_name",
    "last_name",
    "organization",
    "locale",
    "title",
    "image",
)
PROFILE_FIELDS = frozenset((*PROFILE_STRINGS, "location", "properties"))
UPSERT_FIELDS = PROFILE_FIELDS | {"_kx"}
# In the order Klaviyo answers them.
LOCATION_ORDER = ("address1", "address2", "city", "country", "latitude", "longitude", "region",
                  "zip", "timezone", "ip")
LOCATION_FIELDS = frozenset(LOCATION_ORDER)
IDENTIFIERS = ("email", "phone_number", "external_id")
EMAIL_MAX = 100
PHONE_DETAIL = "Invalid phone number format (Example of a valid format: +12345678901)"
EMAIL_DETAIL = "Invalid email address"
_EMAIL = re.compile(
    r"^[^@\s\"(),:;<>\[\\\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_PHONE_CACHE: dict[str, bool] = {}


def email_is_valid(value: str) -> bool:
    """A plausible address of at most 100 characters."""
    return len(value) <= EMAIL_MAX and bool(_EMAIL.match(value))


def phone_is_valid(value: str) -> bool:
    """E.164 and a valid number according to libphonenumber."""
    known = _PHONE_CACHE.get(value)
    if known is not None:
        return known
    ok = bool(_E164.match(value))
    if ok:
        try:
            ok = bool(phonenumbers.is_valid_number(phonenumbers.parse(value, None)))
        except phonenumbers.NumberParseException:
            ok = False
    if len(_PHONE_CACHE) < 200_000:
        _PHONE_CACHE[value] = ok
    return ok


def document(body: Any) -> JSON:
    """The `data` object of a single-resource document."""
    if not isinstance(body, dict) or "data" not in body:
        raise invalid("The payload provided in the request is invalid.", pointer="/data")
    data = body["data"]
    if not isinstance(data, dict):
        raise invalid("The payload provided in the request is invalid.", pointer="/data")
    return data


def check_type(obj: Mapping[str, Any], expected: str, pointer: str) -> None:
    """`type` present and naming the expected resource."""
    kind = obj.get("type")
    if kind is None:
        raise invalid("'type' is a required field.", pointer=f"{pointer}/type")
    if kind != expected:
        raise invalid(
            f"The resource type '{kind}' does not match the expected type '{expected}'.",
            pointer=f"{pointer}/type",
        )


def check_keys(obj: Mapping[str, Any], allowed: Iterable[str], pointer: str, resource: str) -> None:
    """Reject any key outside the schema."""
    allowed_set = set(allowed)
    for key in obj:
        if key not in allowed_set:
            raise not_a_field(key, f"{pointer}/{key}", resource)


def require_object(obj: Mapping[str, Any], key: str, pointer: str) -> JSON:
    """A required member that must be an object."""
    if key not in obj:
        raise invalid(f"'{key}' is a required field.", pointer=f"{pointer}/{key}")
    value = obj[key]
    if not isinstance(value, dict):
        raise invalid(f"'{key}' must be an object.", pointer=f"{pointer}/{key}")
    return value


def profile_attributes(
    attrs: JSON, pointer: str, *, allowed: frozenset[str] = PROFILE_FIELDS
) -> None:
    """Types and formats of profile attributes; the phone number is left to the caller's policy."""
    check_keys(attrs, allowed, pointer, "profile")
    for key in (*PROFILE_STRINGS, "_kx"):
        value = attrs.get(key)
        if value is not None and not isinstance(value, str):
            raise invalid(f"'{key}' must be a string or null.", pointer=f"{pointer}/{key}")
    email = attrs.get("email")
    if email is not None and not email_is_valid(email):
        raise invalid(EMAIL_DETAIL, pointer=f"{pointer}/email")
    location = attrs.get("location")
    if location is not None:
        if not isinstance(location, dict):
            raise invalid("'location' must be an object or null.", pointer=f"{pointer}/location")
        check_keys(location, LOCATION_FIELDS, f"{pointer}/location", "profile")
        for key, value in location.items():
            numeric = key in {"latitude", "longitude"} and isinstance(value, int | float)
            if value is not None and not isinstance(value, str) and not numeric:
                raise invalid(
                    f"'{key}' must be a string or null.", pointer=f"{pointer}/location/{key}"
                )
    props = attrs.get("properties")
    if props is not None and not isinstance(props, dict):
        raise invalid("'properties' must be an object or null.", pointer=f"{pointer}/properties")


def profile_meta(meta: Any, pointer: str) -> JSON | None:
    """`meta.patch_properties` as Klaviyo accepts it (append, unappend, unset)."""
    if meta is None:
        return None
    if not isinstance(meta, dict):
        raise invalid("'meta' must be an object.", pointer=pointer)
    check_keys(meta, ("patch_properties", "patch_identifiers"), pointer, "profile")
    patch = meta.get("patch_properties")
    if patch is None:
        return None
    if not isinstance(patch, dict):
        raise invalid(
            "'patch_properties' must be an object.", pointer=f"{pointer}/patch_properties"
        )
    check_keys(patch, ("append", "unappend", "unset"), f"{pointer}/patch_properties", "profile")
    for key in ("append", "unappend"):
        value = patch.get(key)
        if value is not None and not isinstance(value, dict):
            raise invalid(
                f"'{key}' must be an object.", pointer=f"{pointer}/patch_properties/{key}"
            )
    unset = patch.get("unset")
    if unset is not None and not (
        isinstance(unset, str)
        or (isinstance(unset, list) and all(isinstance(u, str) for u in unset))
    ):
        # Klaviyo's real pointer for this error names attributes/meta, oddly; kept as it is.
        raise invalid(
            "Unset must be a string or an array of strings (the property keys to unset).",
            pointer="/data/attributes/meta/patch_properties/unset",
        )
    return patch


def has_identifier(attrs: Mapping[str, Any]) -> bool:
    """Whether any of email, phone_number, external_id is set."""
    return any(attrs.get(key) for key in IDENTIFIERS)
