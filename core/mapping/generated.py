"""One Python function per template collection, built at load, that maps as its rows' steps do."""

# The rows of the shapes the shipped template uses (a Customer or billing-address field, a static
# value, link(), e164 of a Customer field) become inline code over local variables; any other row
# calls its step closure, compiled by the safe formula parser, with an Evaluation that shares
# those locals. The source text is built only from this module's fragments and from attribute
# names in core.mapping.formula's own tables; every value that came from the template (keys,
# constants, labels, step closures) is passed in the function's globals, never written into the
# source. `core.mapping.apply.apply_steps` is the plain definition the tests hold it to.

from __future__ import annotations

import itertools
import linecache
from collections.abc import Callable
from typing import Any

from core.mapping.formula import ADDRESS_FIELDS, CUSTOMER_FIELDS, Evaluation, Value, _text
from core.model import Collection, Customer, MappedProfile, draft_of
from core.phone import normalize_phone, region_for_country

NO_IDENTIFIER = (
    "no valid identifier: the customer has no email address and no phone number that "
    "normalizes to E.164; add one in iPaaS.com"
)

# (customer, collection, link, default_region) -> the mapped profile.
CollectionFunction = Callable[[Customer, Collection, "str | None", str], MappedProfile]

# Row shapes (template.py records one per step it builds):
#   ("customer", key, attribute)       an attribute row reading one Customer field
#   ("billing", key, attribute)        a location row reading one billing-address field
#   ("email", attribute)               the Email row reading one Customer field
#   ("phone", attribute, label)        PhoneNumber = e164 of one Customer field
#   ("link",)                          Id = link()
#   ("property", name, constant) / ("list", intent) / ("subscribe", flag)   static rows
Shape = tuple[Any, ...]

_ATTRIBUTES = frozenset(CUSTOMER_FIELDS.values()) | frozenset(ADDRESS_FIELDS.values())
_MAPPED_DRAFT = draft_of(MappedProfile)
_NUMERIC_LOCATION = frozenset({"latitude", "longitude"})
_BUILT = itertools.count()  # numbers the generated functions' file names


def _store_location(location: dict[str, Value], key: str, value: Value) -> None:
    """A billing field that is not text (Address fields are text), stored as the step would."""
    if value is None or (type(value) is str and (not value or value.isspace())):
        return
    if key in _NUMERIC_LOCATION and isinstance(value, int | float) and not isinstance(value, bool):
        location[key] = value
    else:
        location[key] = _text(value)


class _Source:
    """The function's lines and the globals its constants live in."""

    def __init__(self, evaluated: bool) -> None:
        self.lines: list[str] = []
        self.scope: dict[str, Any] = {
            "_text": _text, "_store_location": _store_location,
            "normalize_phone": normalize_phone, "region_for_country": region_for_country,
            "_Evaluation": Evaluation, "_Draft": _MAPPED_DRAFT,
            "_MappedProfile": MappedProfile, "_NO_IDENTIFIER": NO_IDENTIFIER,
        }
        # With a general step among the rows, the scalars live on the Evaluation it reads.
        self.evaluated = evaluated

    def constant(self, value: Any) -> str:
        name = f"_k{len(self.scope)}"
        self.scope[name] = value
        return name

    def scalar(self, name: str) -> str:
        return f"evaluation.{name}" if self.evaluated else name

    def add(self, indent: int, *lines: str) -> None:
        self.lines.extend("    " * indent + line for line in lines)


def _attribute(attribute: str) -> str:
    # Only our own tables' attribute names reach the source text.
    if attribute not in _ATTRIBUTES or not attribute.isidentifier():
        raise ValueError(f"not a Customer or address attribute: {attribute!r}")
    return attribute


def _text_into(src: _Source, indent: int, read: str, target: str) -> None:
    """target = the read value as _text gives it, set only when not empty."""
    src.add(indent, f"value = {read}",
            "if type(value) is str:",
            f"    if value and not value.isspace(): {target} = value",
            "elif value is not None:",
            "    value = _text(value)",
            f"    if value is not None: {target} = value")


def _read_text(attribute: str) -> tuple[str, ...]:
    """value = the Customer field as _text gives it (None when empty), then `if value is not
    None:` for the lines that use it."""
    return (f"value = customer.{attribute}",
            "if type(value) is not str:",
            "    value = _text(value)",
            "elif not value or value.isspace():",
            "    value = None",
            "if value is not None:")


def _emit(src: _Source, shape: Shape | None, step: Callable[[Evaluation], None]) -> None:
    if shape is None:
        src.add(1, f"{src.constant(step)}(evaluation)")
        return
    kind = shape[0]
    if kind == "customer":
        key, attribute = src.constant(shape[1]), _attribute(shape[2])
        _text_into(src, 1, f"customer.{attribute}", f"attributes[{key}]")
    elif kind == "billing":
        # Neighbouring billing rows share one "if billing is not None:" (see collection_function).
        key, attribute = src.constant(shape[1]), _attribute(shape[2])
        src.add(2, f"value = billing.{attribute}",
                "if type(value) is str:",
                f"    if value and not value.isspace(): location[{key}] = value",
                f"elif value is not None: _store_location(location, {key}, value)")
    elif kind == "email":
        attribute = _attribute(shape[1])
        src.add(1, *_read_text(attribute),
                "    value = value.strip()",
                "    attributes['email'] = value",
                "    if '@' not in value or ' ' in value or len(value) > 100:",
                "        warnings.append(f'email {value!r} does not look like an email address; '",
                "                        'Klaviyo will probably reject it')")
    elif kind == "phone":
        attribute, label = _attribute(shape[1]), src.constant(shape[2])
        phone, phone_valid = src.scalar("phone"), src.scalar("phone_valid")
        # formula.phone_of's e164 and template._phone_step's phone_number, one after the other.
        src.add(1, *_read_text(attribute),
                "    country = billing.country if billing is not None else None",
                "    result = normalize_phone(value, country=country, "
                "default_region=default_region)",
                # Only other formulas read the phone result (from the Evaluation).
                *([f"    {phone} = result"] if src.evaluated else []),
                "    e164 = result.e164",
                "    if e164 is None:",
                f"        warnings.append(f'{{{label}}} {{result.reason}}; no phone sent')",
                "    else:",
                "        if not result.valid:",
                "            warnings.append(",
                f"                f'phone {{e164}} (from {{{label}}} {{value!r}}) is not a valid "
                "number; '",
                "                'Klaviyo will probably reject it')",
                "        if country and result.region is not None and "
                "region_for_country(country) is None:",
                "            warnings.append(",
                "                f'billing country {country!r} is not a country this console "
                "knows; '",
                f"                f'{{{label}}} {{value!r}} was read as a {{result.region}} "
                "number')",
                "        attributes['phone_number'] = e164",
                f"        {phone_valid} = result.valid")
    elif kind == "link":
        target = src.scalar("profile_id")
        src.add(1, "value = link",
                "if type(value) is str:",
                f"    {target} = value if value and not value.isspace() else None",
                "else:",
                f"    {target} = _text(value)")
    elif kind == "property":
        src.add(1, f"properties[{src.constant(shape[1])}] = {src.constant(shape[2])}")
    elif kind == "list":
        src.add(1, f"list_intents.append({src.constant(shape[1])})")
    elif kind == "subscribe":
        src.add(1, f"{src.scalar('subscribe')} = {src.constant(shape[1])}")
    else:
        raise ValueError(f"unknown row shape {kind!r}")


def collection_function(
    steps: tuple[Callable[[Evaluation], None], ...], shapes: tuple[Shape | None, ...]
) -> CollectionFunction:
    """The collection's rows (steps, in order, and the shape of each, None = general) as one
    function that maps a Customer as running the steps on one Evaluation does."""
    evaluated = any(shape is None for shape in shapes)
    src = _Source(evaluated)
    src.add(0, "def run(customer, collection, link, default_region):")
    if evaluated:
        src.add(1, "evaluation = _Evaluation(customer, link, default_region)",
                "attributes = evaluation.attributes",
                "location = evaluation.location",
                "properties = evaluation.properties",
                "warnings = evaluation.warnings",
                "errors = evaluation.errors",
                "list_intents = evaluation.list_intents",
                "billing = evaluation.billing")
    else:
        src.add(1, "attributes = {}", "location = {}", "properties = {}", "warnings = []",
                "errors = []", "list_intents = []",
                "subscribe = profile_id = phone_valid = None",
                # Customer.primary_billing, without the property call.
                "billing = None",
                "for address in customer.addresses:",
                "    if address.is_primary_billing:",
                "        billing = address",
                "        break")
    previous: str | None = None
    for step, shape in zip(steps, shapes, strict=True):
        kind = shape[0] if shape is not None else None
        if kind == "billing" and previous != "billing":
            src.add(1, "if billing is not None:")
        _emit(src, shape, step)
        previous = kind
    # apply's ending: location nested when set, the missing-identifier error, the profile.
    src.add(1, "if location: attributes['location'] = location",
            "if 'email' not in attributes and 'phone_number' not in attributes:",
            "    errors.insert(0, _NO_IDENTIFIER)",
            "mapped = _Draft()",
            "mapped.customer_id = customer.id",
            "mapped.collection = collection",
            "mapped.attributes = attributes",
            "mapped.properties = properties",
            f"mapped.subscribe = {src.scalar('subscribe')}",
            "mapped.list_intents = tuple(list_intents)",
            f"mapped.phone_valid = {src.scalar('phone_valid')}",
            "mapped.warnings = tuple(warnings) if warnings else ()",
            "mapped.errors = tuple(errors) if errors else ()",
            f"mapped.profile_id = {src.scalar('profile_id')}",
            "mapped.__class__ = _MappedProfile",
            "return mapped")
    scope = src.scope
    # Built from this module's fragments only (see the module docstring): no template text.
    source = "\n".join(src.lines) + "\n"
    # A named, cached source, so a traceback through the function shows its lines.
    filename = f"<mapping function {next(_BUILT)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), scope)
    built: CollectionFunction = scope["run"]
    return built
