"""The iPaaS.com side: a Customer with its addresses, custom fields and external ids."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# A JSON object as either API sends it.
JSON = dict[str, Any]


class CustomerDataError(ValueError):
    """A Customer record that cannot be read; the message names the customer and the field."""


@dataclass(frozen=True, slots=True)
class Address:
    """One address of a Customer (field names follow iPaaS.com's address model)."""

    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    phone_number: str | None = None
    address_1: str | None = None
    address_2: str | None = None
    address_3: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    postal_code: str | None = None
    is_primary_billing: bool = False
    is_primary_shipping: bool = False


@dataclass(frozen=True, slots=True)
class CustomField:
    name: str
    value: str | None


@dataclass(frozen=True, slots=True)
class ExternalId:
    system_id: int
    external_id: str
    internal_id: str | None = None


_ADDRESS_TEXT_FIELDS = (
    "first_name", "last_name", "company", "phone_number", "address_1", "address_2",
    "address_3", "city", "region", "country", "postal_code",
)
_CUSTOMER_TEXT_FIELDS = (
    "customer_number", "first_name", "last_name", "email_address", "company", "comment",
)


def _text(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if type(value) is str:  # nearly every value: the checks below are for the rest
        return value.strip() or None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise CustomerDataError(f"{where}{key} must be text, got {value!r}")
    text = str(value).strip()
    return text or None


def _flag(raw: Mapping[str, Any], key: str, where: str) -> bool:
    value = raw.get(key, False)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    raise CustomerDataError(f"{where}{key} must be true or false, got {value!r}")


def _items(raw: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise CustomerDataError(f"{where}{key} must be a list, got {type(value).__name__}")
    for index, item in enumerate(value):
        # A decoded item is a dict: asking that first spares the Mapping ABC's slower check.
        if not isinstance(item, dict) and not isinstance(item, Mapping):
            raise CustomerDataError(f"{where}{key}[{index}] must be an object, got {item!r}")
    return value


def _api_id(ident: str) -> int | str:
    # Only an id that reads back as the same text may become a number: "²" and "٣٤" are
    # digits to str.isdigit but int() refuses or rewrites them, and "007" would lose its zeros.
    if ident.isascii() and ident.isdigit() and str(int(ident)) == ident:
        return int(ident)
    return ident


@dataclass(frozen=True, slots=True)
class Customer:
    """An iPaaS.com Customer as `GET /customers/v2/Customer/{id}` returns it."""

    id: str
    customer_number: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email_address: str | None = None
    company: str | None = None
    comment: str | None = None
    addresses: tuple[Address, ...] = ()
    custom_fields: tuple[CustomField, ...] = ()
    external_ids: tuple[ExternalId, ...] = ()

    @classmethod
    def from_api(cls, raw: Any) -> Customer:
        """Build from the API's snake_case JSON; a malformed record raises CustomerDataError."""
        if not isinstance(raw, Mapping):
            raise CustomerDataError(f"customer record must be an object, got {type(raw).__name__}")
        ident = raw.get("id")
        if isinstance(ident, bool) or not isinstance(ident, int | str) or not str(ident).strip():
            raise CustomerDataError(f"customer record: id must be a number or text, got {ident!r}")
        cid = str(ident).strip()
        where = f"customer {cid}: "
        texts = {key: _text(raw, key, where) for key in _CUSTOMER_TEXT_FIELDS}
        addresses = []
        for index, item in enumerate(_items(raw, "addresses", where)):
            at = f"{where}addresses[{index}]."
            addresses.append(
                Address(
                    **{key: _text(item, key, at) for key in _ADDRESS_TEXT_FIELDS},
                    is_primary_billing=_flag(item, "is_primary_billing", at),
                    is_primary_shipping=_flag(item, "is_primary_shipping", at),
                )
            )
        fields = []
        for index, item in enumerate(_items(raw, "custom_fields", where)):
            at = f"{where}custom_fields[{index}]."
            name = _text(item, "custom_field_name", at)
            if name is None:
                raise CustomerDataError(f"{at}custom_field_name is missing")
            fields.append(CustomField(name=name, value=_text(item, "value", at)))
        external = []
        for index, item in enumerate(_items(raw, "external_ids", where)):
            at = f"{where}external_ids[{index}]."
            system = item.get("system_id")
            try:
                if isinstance(system, bool):
                    raise TypeError
                system_id = int(system)  # type: ignore[arg-type]
            except (TypeError, ValueError, OverflowError):
                raise CustomerDataError(f"{at}system_id must be a number, got {system!r}") from None
            value = _text(item, "external_id", at)
            if value is None:
                raise CustomerDataError(f"{at}external_id is missing")
            external.append(ExternalId(system_id, value, _text(item, "internal_id", at)))
        return cls(
            id=cid,
            addresses=tuple(addresses),
            custom_fields=tuple(fields),
            external_ids=tuple(external),
            **texts,
        )

    def to_api(self) -> JSON:
        """The snake_case JSON iPaaS.com serves (used by the emulator and fixtures)."""
        return {
            "id": _api_id(self.id),
            **{key: getattr(self, key) for key in _CUSTOMER_TEXT_FIELDS},
            "addresses": [
                {
                    **{key: getattr(a, key) for key in _ADDRESS_TEXT_FIELDS},
                    "is_primary_billing": a.is_primary_billing,
                    "is_primary_shipping": a.is_primary_shipping,
                }
                for a in self.addresses
            ],
            "custom_fields": [
                {"custom_field_name": f.name, "value": f.value} for f in self.custom_fields
            ],
            "external_ids": [
                {"system_id": e.system_id, "external_id": e.external_id,
                 "internal_id": e.internal_id}
                for e in self.external_ids
            ],
        }

    @property
    def primary_billing(self) -> Address | None:
        """The first address, in order, marked primary billing."""
        for address in self.addresses:
            if address.is_primary_billing:
                return address
        return None

    def custom_field(self, name: str) -> str | None:
        """The value of the first custom field with this name (case-insensitive)."""
        wanted = name.casefold()
        return next((f.value for f in self.custom_fields if f.name.casefold() == wanted), None)

    @property
    def display_name(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or self.email_address or f"customer {self.id}"
