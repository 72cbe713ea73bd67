"""A mapping row as written, and the step it compiles to: what the row writes for one customer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.mapping.formula import (
    Compiled,
    Evaluation,
    FieldRef,
    FormulaError,
    Value,
    as_text,
    compile_formula,
    field_getter,
    is_empty,
    literals,
    parse,
    phone_of,
    reads_customer,
    source_label,
)
from core.model import ListIntent

Step = Callable[[Evaluation], None]

# The key that holds a row's value, source or formula, by its kind.
KIND_KEYS = {"static": "value", "field": "source", "formula": "formula"}

ATTRIBUTES = {
    "email": "email", "phonenumber": "phone_number", "externalid": "external_id",
    "firstname": "first_name", "lastname": "last_name", "organization": "organization",
    "title": "title", "image": "image", "locale": "locale",
}
LOCATION = {
    "address1": "address1", "address2": "address2", "city": "city", "region": "region",
    "zip": "zip", "country": "country", "latitude": "latitude", "longitude": "longitude",
    "timezone": "timezone", "ip": "ip",
}
_NUMERIC_LOCATION = frozenset({"latitude", "longitude"})


@dataclass(frozen=True, slots=True)
class Row:
    """One mapping row as written: destination, kind, the value/source/formula text, its line."""

    destination: str
    kind: str
    text: str
    line: int


class RowError(ValueError):
    """A row that cannot be compiled; `key` names the row key at fault (None: the row itself)."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def compile_row(row: Row, value: Any, collection: str) -> Step | None:
    """The step that applies this row to one customer; None for the Type row, which sets nothing.

    `value` is the row's value, source or formula as the TOML file holds it.
    """
    folded = row.destination.casefold().replace(" ", "")
    label = f"{collection} mapping {row.destination!r}"
    if folded == "type":
        if row.kind != "static" or value != "profile":
            raise RowError(f'{label}: Type must be the static value "profile"')
        return None
    expression = _expression(row, value, label)
    if folded == "id":
        return _profile_id_step(expression)
    if folded in ATTRIBUTES:
        key = ATTRIBUTES[folded]
        if key == "phone_number":
            return _phone_step(row, expression)
        if key == "email":
            return _email_step(expression)
        return _attribute_step(key, expression)
    if folded in LOCATION:
        return _location_step(LOCATION[folded], expression)
    if folded == "subscribeprofile":
        _check_static_flag(row, value, label)
        return _subscribe_step(row.destination, expression, _customer_opt_out(row))
    if row.destination.startswith(("LIST_", "UCLIST_")):
        _check_static_flag(row, value, label)
        consent = row.destination.startswith("LIST_")
        name = row.destination.split("_", 1)[1].strip()
        if row.kind == "static" and (flag := parse_flag(value)) is not None:
            return _static_list_step(ListIntent(name, consent=consent, member=bool(flag)))
        return _list_step(row.destination, name, consent, expression)
    return _property_step(row.destination, expression)


def _expression(row: Row, value: Any, label: str) -> Compiled:
    try:
        if row.kind == "static":
            constant: Value = value

            def static(evaluation: Evaluation) -> Value:
                return constant

            return static
        if row.kind == "field":
            return field_getter(row.text)
        _, compiled = compile_formula(row.text)
    except FormulaError as exc:
        key = KIND_KEYS[row.kind]
        where = f" at column {exc.column}" if exc.column else ""
        raise RowError(f"{label}: {exc} (in {key} {row.text!r}{where})", key) from None
    return compiled


def _check_static_flag(row: Row, value: Any, label: str) -> None:
    if row.kind == "static" and parse_flag(value) is _BAD:
        raise RowError(f"{label}: value must be true or false, got {value!r}", "value")


_BAD = object()


def parse_flag(value: Value) -> object:
    """True/False for true/false (any case, spaces ignored), None when empty, else _BAD."""
    if isinstance(value, bool):
        return value
    if value is None:
        return None
    if isinstance(value, str):
        folded = value.strip().casefold()
        if folded == "true":
            return True
        if folded == "false":
            return False
        if not folded:
            return None
    return _BAD


def _profile_id_step(expression: Compiled) -> Step:
    def profile_id(evaluation: Evaluation) -> None:
        evaluation.profile_id = as_text(expression(evaluation))

    return profile_id


def _attribute_step(key: str, expression: Compiled) -> Step:
    def attribute(evaluation: Evaluation) -> None:
        value = as_text(expression(evaluation))
        if value is not None:
            evaluation.attributes[key] = value

    return attribute


def _email_step(expression: Compiled) -> Step:
    def email(evaluation: Evaluation) -> None:
        value = as_text(expression(evaluation))
        if value is None:
            return
        value = value.strip()
        evaluation.attributes["email"] = value
        if "@" not in value or " " in value or len(value) > 100:
            evaluation.warnings.append(
                f"email {value!r} does not look like an email address; "
                "Klaviyo will probably reject it"
            )

    return email


def _phone_step(row: Row, expression: Compiled) -> Step:
    # A PhoneNumber row always yields E.164: e164(...) already does; anything else is wrapped.
    if row.kind == "formula" and row.text.lower().startswith("e164("):
        phone = expression
    else:
        label = source_label(FieldRef(row.text, 0)) if row.kind == "field" else "phone value"
        phone = phone_of(expression, label)

    def phone_number(evaluation: Evaluation) -> None:
        value = phone(evaluation)
        if is_empty(value):
            return
        evaluation.attributes["phone_number"] = value
        result = evaluation.phone
        same = result is not None and result.e164 == value
        evaluation.phone_valid = result.valid if same and result is not None else None

    return phone_number


def _location_step(key: str, expression: Compiled) -> Step:
    keep_numbers = key in _NUMERIC_LOCATION

    def location(evaluation: Evaluation) -> None:
        value = expression(evaluation)
        if keep_numbers and isinstance(value, int | float) and not isinstance(value, bool):
            evaluation.location[key] = value
            return
        text = as_text(value)  # None when empty, as a number never is
        if text is not None:
            evaluation.location[key] = text

    return location


def _customer_opt_out(row: Row) -> bool:
    """True when a false value of this row can only be the customer's own (design §6).

    A formula holding a literal false (coalesce(custom_field("News"), "false")) may answer with
    the template's default instead, so its false is not taken as the customer's opt-out.
    """
    if row.kind == "field":
        return True
    if row.kind != "formula":
        return False
    node = parse(row.text)
    return reads_customer(node) and not any(
        parse_flag(value) is False for value in literals(node))


def _subscribe_step(destination: str, expression: Compiled, from_customer: bool) -> Step:
    def subscribe(evaluation: Evaluation) -> None:
        value = expression(evaluation)
        flag = parse_flag(value)
        if flag is _BAD:
            evaluation.errors.append(f"{destination} must be true or false, got {value!r}")
        elif flag is None:
            evaluation.warnings.append(
                f"{destination} is mapped but empty for this customer, which counts as "
                "unmapped: the profile will be unsubscribed"
            )
        else:
            evaluation.subscribe = bool(flag)
            evaluation.subscribe_from_customer = from_customer

    return subscribe


def _list_step(destination: str, name: str, consent: bool, expression: Compiled) -> Step:
    def list_intent(evaluation: Evaluation) -> None:
        value = expression(evaluation)
        flag = parse_flag(value)
        if flag is _BAD:
            evaluation.errors.append(f"{destination} must be true or false, got {value!r}")
        elif flag is not None:
            evaluation.list_intents.append(ListIntent(name, consent=consent, member=bool(flag)))

    return list_intent


def _static_list_step(intent: ListIntent) -> Step:
    # A static row names the same intent for every customer: built once, not per customer.
    def static_list_intent(evaluation: Evaluation) -> None:
        evaluation.list_intents.append(intent)

    return static_list_intent


def _property_step(name: str, expression: Compiled) -> Step:
    def prop(evaluation: Evaluation) -> None:
        value = expression(evaluation)
        if not is_empty(value):
            evaluation.properties[name] = value

    return prop
