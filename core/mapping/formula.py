"""The safe formula language of mapping rows: literals, Customer fields, a few functions; no eval.

Grammar:  expr := NAME "(" [expr ("," expr)*] ")" | NAME | "text" | 'text' | INTEGER
A bare NAME is a Customer field (Id, CustomerNumber, FirstName, LastName, EmailAddress, Company,
Comment). Function names are case-insensitive. Each formula is compiled once, when the template
loads, into a closure over an `Evaluation`; nothing is parsed per customer.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.model import Address, Customer, ListIntent
from core.phone import PhoneResult, normalize_phone, region_for_country

Value = str | bool | int | float | None

CUSTOMER_FIELDS: dict[str, str] = {
    "Id": "id",
    "CustomerNumber": "customer_number",
    "FirstName": "first_name",
    "LastName": "last_name",
    "EmailAddress": "email_address",
    "Company": "company",
    "Comment": "comment",
}

ADDRESS_FIELDS: dict[str, str] = {
    "FirstName": "first_name",
    "LastName": "last_name",
    "Company": "company",
    "PhoneNumber": "phone_number",
    "Address1": "address_1",
    "Address2": "address_2",
    "Address3": "address_3",
    "City": "city",
    "Region": "region",
    "Country": "country",
    "PostalCode": "postal_code",
    "Zip": "postal_code",
}


class FormulaError(ValueError):
    """A formula that cannot be compiled; `column` is 1-based within the formula text."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.column = column


class Evaluation:
    """One customer's mapping run: what it reads, and what the rows write."""

    __slots__ = (
        "attributes", "billing", "customer", "default_region", "errors", "link", "list_intents",
        "location", "phone", "phone_valid", "profile_id", "properties", "subscribe",
        "subscribe_from_customer", "warnings",
    )

    def __init__(self, customer: Customer, link: str | None, default_region: str) -> None:
        self.customer = customer
        self.link = link
        self.default_region = default_region
        self.warnings: list[str] = []
        self.errors: list[str] = []
        self.phone: PhoneResult | None = None
        # The default template reads it seven times (phone country, location): looked up once.
        self.billing: Address | None = customer.primary_billing
        self.attributes: dict[str, Any] = {}
        self.location: dict[str, Value] = {}
        self.properties: dict[str, Value] = {}
        self.subscribe: bool | None = None
        self.subscribe_from_customer = False
        self.list_intents: list[ListIntent] = []
        self.profile_id: str | None = None
        self.phone_valid: bool | None = None


Compiled = Callable[[Evaluation], Value]


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    value: str | int
    column: int


@dataclass(frozen=True, slots=True)
class FieldRef:
    name: str
    column: int


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Node, ...]
    column: int


Node = Literal | FieldRef | Call

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<number>\d+)
      | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)
_ESCAPE = re.compile(r"\\(.)")


def _tokens(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            column = position + len(text[position:]) - len(text[position:].lstrip()) + 1
            char = text[column - 1]
            hint = ""
            if char in "+-*/&":
                hint = " (formulas have no operators; use join() or concat())"
            if char in "\"'":
                raise FormulaError("a quoted text is not closed", column)
            raise FormulaError(f"unexpected character {char!r}{hint}", column)
        kind = match.lastgroup
        tokens.append((kind, match.group(kind), match.start(kind) + 1))
        position = match.end()
    return tokens


def parse(text: str) -> Node:
    """Parse one formula into its syntax tree, or raise FormulaError saying where it breaks."""
    tokens = _tokens(text)
    if not tokens:
        raise FormulaError("the formula is empty", 1)
    node, index = _expression(tokens, 0)
    if index != len(tokens):
        _, value, column = tokens[index]
        raise FormulaError(f"unexpected {value!r} after a complete expression", column)
    return node


def _expression(tokens: list[tuple[str, str, int]], index: int) -> tuple[Node, int]:
    if index >= len(tokens):
        raise FormulaError("the formula ends where a value was expected")
    kind, value, column = tokens[index]
    if kind == "string":
        return Literal(_ESCAPE.sub(r"\1", value[1:-1]), column), index + 1
    if kind == "number":
        return Literal(int(value), column), index + 1
    if kind != "name":
        raise FormulaError(f"expected a value, got {value!r}", column)
    if index + 1 < len(tokens) and tokens[index + 1][1] == "(":
        args: list[Node] = []
        index += 2
        if index < len(tokens) and tokens[index][1] == ")":
            return Call(value, (), column), index + 1
        while True:
            arg, index = _expression(tokens, index)
            args.append(arg)
            if index >= len(tokens):
                raise FormulaError(f"{value}( is not closed with )", column)
            separator = tokens[index][1]
            if separator == ")":
                return Call(value, tuple(args), column), index + 1
            if separator != ",":
                raise FormulaError(f"expected , or ) in {value}(...), got {separator!r}",
                                   tokens[index][2])
            index += 1
    return FieldRef(value, column), index + 1


# --------------------------------------------------------------------------------------------
# Compiling
# --------------------------------------------------------------------------------------------


def is_empty(value: Value) -> bool:
    """Empty source values are omitted, never sent as null."""
    if value is None:
        return True
    return isinstance(value, str) and (not value or value.isspace())


def as_text(value: Value) -> str | None:
    """A value as the text a profile field takes; None when empty."""
    if is_empty(value):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def field_getter(name: str, column: int | None = None) -> Compiled:
    """A Customer field by its PascalCase name."""
    attribute = CUSTOMER_FIELDS.get(name)
    if attribute is None:
        raise FormulaError(
            f"unknown Customer field {name!r}{_suggest(name, CUSTOMER_FIELDS)}; "
            f"fields are {', '.join(CUSTOMER_FIELDS)}",
            column,
        )

    def get(evaluation: Evaluation) -> Value:
        value: Value = getattr(evaluation.customer, attribute)
        return value

    return get


def _suggest(name: str, known: Sequence[str] | Mapping[str, object]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    if not close:
        folded = {k.casefold(): k for k in known}
        close = [folded[name.casefold()]] if name.casefold() in folded else []
    return f" (did you mean {close[0]}?)" if close else ""


def source_label(node: Node) -> str:
    """How a phone's source is named in warnings: CustomerNumber -> 'customer number'."""
    if isinstance(node, FieldRef):
        return re.sub(r"(?<!^)(?=[A-Z])", " ", node.name).lower()
    if isinstance(node, Call) and node.name.lower() in {"primary_billing", "primary_shipping"}:
        return "address phone number"
    return "phone value"


def phone_of(source: Compiled, label: str) -> Compiled:
    """E.164 of the source value, read in the billing country; warnings say what was dropped."""

    def e164(evaluation: Evaluation) -> Value:
        raw = as_text(source(evaluation))
        if raw is None:
            return None
        billing = evaluation.billing
        country = billing.country if billing is not None else None
        result = normalize_phone(raw, country=country, default_region=evaluation.default_region)
        evaluation.phone = result
        if result.e164 is None:
            evaluation.warnings.append(f"{label} {result.reason}; no phone sent")
            return None
        if not result.valid:
            evaluation.warnings.append(
                f"phone {result.e164} (from {label} {raw!r}) is not a valid number; "
                "Klaviyo will probably reject it"
            )
        if country and result.region is not None and region_for_country(country) is None:
            evaluation.warnings.append(
                f"billing country {country!r} is not a country this console knows; "
                f"{label} {raw!r} was read as a {result.region} number"
            )
        return result.e164

    return e164


def _literal_text(node: Node, function: str, what: str) -> str:
    if not isinstance(node, Literal) or not isinstance(node.value, str):
        raise FormulaError(f'{function}() takes {what} in quotes, e.g. {function}("{what}")',
                           getattr(node, "column", None))
    return node.value


def _address(node: Call, args: list[Compiled], primary: str) -> Compiled:
    name = _literal_text(node.args[0], node.name, "Address1")
    attribute = ADDRESS_FIELDS.get(name)
    if attribute is None:
        raise FormulaError(
            f"unknown address field {name!r}{_suggest(name, ADDRESS_FIELDS)}; "
            f"fields are {', '.join(ADDRESS_FIELDS)}",
            node.args[0].column,
        )
    if primary == "billing":

        def billing(evaluation: Evaluation) -> Value:
            address = evaluation.billing
            return None if address is None else getattr(address, attribute)

        return billing

    def shipping(evaluation: Evaluation) -> Value:
        address = next((a for a in evaluation.customer.addresses if a.is_primary_shipping), None)
        return None if address is None else getattr(address, attribute)

    return shipping


def _custom_field(node: Call, args: list[Compiled]) -> Compiled:
    name = _literal_text(node.args[0], node.name, "Newsletter")

    def custom(evaluation: Evaluation) -> Value:
        return evaluation.customer.custom_field(name)

    return custom


def _coalesce(node: Call, args: list[Compiled]) -> Compiled:
    def coalesce(evaluation: Evaluation) -> Value:
        for arg in args:
            value = arg(evaluation)
            if not is_empty(value):
                return value
        return None

    return coalesce


def _join(node: Call, args: list[Compiled]) -> Compiled:
    separator = _literal_text(node.args[0], node.name, " ")
    parts = args[1:]

    def join(evaluation: Evaluation) -> Value:
        texts = [t for t in (as_text(p(evaluation)) for p in parts) if t is not None]
        return separator.join(texts) or None

    return join


def _concat(node: Call, args: list[Compiled]) -> Compiled:
    def concat(evaluation: Evaluation) -> Value:
        return "".join(t for t in (as_text(a(evaluation)) for a in args) if t is not None) or None

    return concat


def _text_function(transform: Callable[[str], str]) -> Callable[[Call, list[Compiled]], Compiled]:
    def build(node: Call, args: list[Compiled]) -> Compiled:
        source = args[0]

        def apply(evaluation: Evaluation) -> Value:
            text = as_text(source(evaluation))
            return None if text is None else transform(text)

        return apply

    return build


def _truncate(node: Call, args: list[Compiled]) -> Compiled:
    limit = node.args[1]
    if not isinstance(limit, Literal) or not isinstance(limit.value, int):
        raise FormulaError("truncate(value, n) takes a whole number n, e.g. truncate(Comment, 40)",
                           getattr(limit, "column", None))
    size = limit.value
    source = args[0]

    def truncate(evaluation: Evaluation) -> Value:
        text = as_text(source(evaluation))
        return None if text is None else text[:size]

    return truncate


def _link(node: Call, args: list[Compiled]) -> Compiled:
    def link(evaluation: Evaluation) -> Value:
        return evaluation.link

    return link


def _e164(node: Call, args: list[Compiled]) -> Compiled:
    return phone_of(args[0], source_label(node.args[0]))


@dataclass(frozen=True, slots=True)
class Function:
    minimum: int
    maximum: int | None
    build: Callable[[Call, list[Compiled]], Compiled]
    usage: str
    # Argument positions that must be written as literals; the builder reads them itself.
    literal: frozenset[int] = frozenset()


FUNCTIONS: dict[str, Function] = {
    "link": Function(0, 0, _link, "link()"),
    "e164": Function(1, 1, _e164, "e164(CustomerNumber)"),
    "primary_billing": Function(
        1, 1, lambda node, args: _address(node, args, "billing"), 'primary_billing("City")',
        frozenset({0}),
    ),
    "primary_shipping": Function(
        1, 1, lambda node, args: _address(node, args, "shipping"), 'primary_shipping("City")',
        frozenset({0}),
    ),
    "custom_field": Function(1, 1, _custom_field, 'custom_field("Newsletter")', frozenset({0})),
    "coalesce": Function(1, None, _coalesce, 'coalesce(Company, "none")'),
    "join": Function(2, None, _join, 'join(" ", FirstName, LastName)', frozenset({0})),
    "concat": Function(1, None, _concat, 'concat(FirstName, "-", Id)'),
    "lower": Function(1, 1, _text_function(str.lower), "lower(EmailAddress)"),
    "upper": Function(1, 1, _text_function(str.upper), "upper(Company)"),
    "trim": Function(1, 1, _text_function(str.strip), "trim(Comment)"),
    "truncate": Function(2, 2, _truncate, "truncate(Comment, 40)", frozenset({1})),
}


def compile_node(node: Node) -> Compiled:
    """Turn a syntax tree into one closure; every name and arity is checked here, once."""
    if isinstance(node, Literal):
        constant: Value = node.value

        def literal(evaluation: Evaluation) -> Value:
            return constant

        return literal
    if isinstance(node, FieldRef):
        return field_getter(node.name, node.column)
    function = FUNCTIONS.get(node.name.lower())
    if function is None:
        raise FormulaError(
            f"unknown function {node.name!r}{_suggest(node.name.lower(), FUNCTIONS)}; "
            f"functions are {', '.join(FUNCTIONS)}",
            node.column,
        )
    count = len(node.args)
    if count < function.minimum or (function.maximum is not None and count > function.maximum):
        wanted = (
            f"{function.minimum}" if function.maximum == function.minimum
            else f"at least {function.minimum}" if function.maximum is None
            else f"{function.minimum} to {function.maximum}"
        )
        plural = "" if wanted.endswith(" 1") or wanted == "1" else "s"
        raise FormulaError(
            f"{node.name}() takes {wanted} argument{plural}, got {count}; "
            f"e.g. {function.usage}",
            node.column,
        )
    args = [
        _literal_placeholder if index in function.literal else compile_node(arg)
        for index, arg in enumerate(node.args)
    ]
    return function.build(node, args)


def _literal_placeholder(evaluation: Evaluation) -> Value:
    return None


# Functions whose value is read from the Customer record itself.
_CUSTOMER_READERS = frozenset({"custom_field", "primary_billing", "primary_shipping"})


def reads_customer(node: Node) -> bool:
    """True when the formula's value can come from the Customer's own fields."""
    if isinstance(node, FieldRef):
        return True
    if isinstance(node, Call):
        return node.name.lower() in _CUSTOMER_READERS or any(map(reads_customer, node.args))
    return False


def literals(node: Node) -> list[str | int]:
    """Every literal value the formula may answer with (a field's name, as in
    custom_field("Newsletter"), is not one)."""
    if isinstance(node, Literal):
        return [node.value]
    if isinstance(node, Call) and node.name.lower() not in _CUSTOMER_READERS:
        return [value for arg in node.args for value in literals(arg)]
    return []


def compile_formula(text: str) -> tuple[Node, Compiled]:
    """Parse and compile one formula text."""
    node = parse(text)
    return node, compile_node(node)
