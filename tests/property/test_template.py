"""Mapping templates: any file loads or says file:line and what to fix; apply never crashes."""

from __future__ import annotations

import json
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from core.mapping import Template, TemplateError, apply, load_template, parse_template
from core.model import Collection, Customer
from tests.property.strategies import BOUNDED, SMALL, VALID, awkward_text, customers

SOURCE = "custom.toml"
DEFAULT = resources.files("core.mapping").joinpath("default.toml").read_text(encoding="utf-8")
DEFAULT_LINES = DEFAULT.splitlines()


def _parse(text: str) -> Template | None:
    try:
        return parse_template(text, source=SOURCE)
    except TemplateError as error:
        message = str(error)
        assert message.startswith(f"{SOURCE}:"), message
        assert len(message) > len(SOURCE) + 10, message
        return None


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if value == value and abs(value) != float("inf") else "nan"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{_toml_string(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    if value is None:
        return '""'
    return _toml_string(str(value))


def _toml_string(text: str) -> str:
    """A TOML basic string; surrogates (which TOML cannot hold) become '?'."""
    out = []
    for char in text:
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            out.append("?")
        elif code < 0x20 or code == 0x7F or char in '"\\':
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


KNOWN_DESTINATIONS = [
    "Email", "PhoneNumber", "Phone Number", "email", "Type", "Id", "FirstName", "City",
    "Latitude", "SubscribeProfile", "LIST_Newsletter", "UCLIST_VIP", "UCLIST_ ",
    "My Custom", "Organization", "Zip", "Country", "ExternalId", "Locale",
]
destinations = st.one_of(
    *[st.sampled_from(KNOWN_DESTINATIONS)] * 6, st.sampled_from(["", " ", "LIST_"]), awkward_text
)
formula_tokens = st.sampled_from([
    "e164(", "primary_billing(", "primary_shipping(", "custom_field(", "coalesce(", "join(",
    "concat(", "lower(", "upper(", "trim(", "truncate(", "link(", "nope(", ")", ",", '"City"',
    "'x'", '"', "40", "-1", "CustomerNumber", "EmailAddress", "Id", "Bogus", " ", "+", "\\",
])
FIELDS = ["Id", "CustomerNumber", "FirstName", "LastName", "EmailAddress", "Company", "Comment"]
_leaf = st.one_of(
    st.sampled_from(FIELDS),
    st.sampled_from(['"x"', "''", '" "', "'SubscribeProfile'", "0", "40", "007"]),
)


def _call(args: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    literal = st.sampled_from(['"City"', '"Country"', '"PhoneNumber"', '"Newsletter"', '"Zip"',
                               '"Bogus"', "Id"])
    return st.one_of(
        st.builds(lambda f, a: f"{f}({a})",
                  st.sampled_from(["e164", "lower", "upper", "trim", "E164", "LOWER"]), args),
        st.builds(lambda f, a: f"{f}({a})",
                  st.sampled_from(["primary_billing", "primary_shipping", "custom_field"]),
                  literal),
        st.builds(lambda a: f"coalesce({', '.join(a)})", st.lists(args, min_size=1, max_size=3)),
        st.builds(lambda a: f"concat({', '.join(a)})", st.lists(args, min_size=1, max_size=3)),
        st.builds(lambda s, a: f"join({s}, {', '.join(a)})", st.sampled_from(['" "', '"-"', "Id"]),
                  st.lists(args, min_size=1, max_size=3)),
        st.builds(lambda a, n: f"truncate({a}, {n})", args, st.sampled_from(["0", "3", "x"])),
        st.just("link()"),
    )


well_formed = st.recursive(_leaf, _call, max_leaves=5)
formulas = st.one_of(
    well_formed, well_formed, well_formed,
    st.lists(formula_tokens, max_size=8).map("".join), awkward_text,
)
static_values = st.one_of(
    st.booleans(), st.integers(), st.sampled_from(["true", " False ", "yes", "", "profile"]),
    st.booleans(), st.sampled_from(["true", "false", "profile", "x"]), awkward_text, st.just([1]),
)
sources = st.one_of(*[st.sampled_from([*FIELDS, "Bogus"])] * 4, awkward_text)


@st.composite
def rows(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly well-formed rows (the matching key for the kind), sometimes with a wrong key."""
    kind = draw(st.sampled_from(["static", "field", "formula", "static", "field", "formula", "x"]))
    row: dict[str, Any] = {"destination": draw(destinations), "kind": kind}
    key = {"static": "value", "field": "source", "formula": "formula"}.get(kind, "value")
    if draw(st.integers(min_value=0, max_value=9)) > 0:
        values = {"value": static_values, "source": sources, "formula": formulas}
        row[key] = draw(values[key])
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        row[draw(st.sampled_from(["value", "source", "formula", "description", "colour"]))] = (
            draw(awkward_text)
        )
    return row


def _document(add: list[dict[str, Any]], update: list[dict[str, Any]], on_match: Any) -> str:
    out: list[str] = []
    for name, items in (("add", add), ("update", update)):
        out.append(f"[{name}]")
        if on_match is not None:
            out.append(f"on_match = {_toml_value(on_match)}")
        for row in items:
            out.append(f"[[{name}.mappings]]")
            out += [f"{key} = {_toml_value(value)}" for key, value in row.items()]
    return "\n".join(out) + "\n"


def _check_apply(template: Template, customer: Customer) -> None:
    for collection in Collection:
        mapped = apply(customer, template, collection, link="01HLINK")
        json.dumps(mapped.attributes)
        json.dumps(mapped.properties)
        assert all(isinstance(m, str) and m for m in (*mapped.errors, *mapped.warnings))
        assert mapped.subscribe in (None, True, False)


@BOUNDED
@given(st.text(max_size=200))
@example("[add\n")
@example("[add]\n[[add.mappings]]\n")
@example('add = 1\nupdate = "x"\n')
def test_any_text_loads_or_names_the_line(text: str) -> None:
    _parse(text)


IDENTITY = {"destination": "Email", "kind": "field", "source": "EmailAddress"}


@BOUNDED
@given(
    st.lists(rows(), max_size=4),
    st.lists(rows(), max_size=4),
    st.one_of(st.none(), st.sampled_from(["patch", "link-only", "merge", 1])),
    st.booleans(),
)
def test_generated_rows_load_or_name_the_line(
    add: list[dict[str, Any]], update: list[dict[str, Any]], on_match: Any, identified: bool
) -> None:
    if identified:
        add, update = [IDENTITY, *add], [IDENTITY, *update]
    template = _parse(_document(add, update, on_match))
    if template is not None:
        _check_apply(template, Customer.from_api(VALID))


@st.composite
def damaged_default(draw: st.DrawFn) -> str:
    lines = list(DEFAULT_LINES)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "replace", "append"]))
        if action == "delete":
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, lines[index])
        elif action == "replace":
            lines[index] = draw(st.one_of(
                awkward_text,
                st.builds(lambda k, v: f"{k} = {v}",
                          st.sampled_from(["value", "kind", "source", "formula", "destination",
                                           "on_match", "bogus"]),
                          st.sampled_from(['"static"', "true", "1", '"e164(Id"', "[1]",
                                           '"LIST_"', '"Email"', "{}", '"link-only"'])),
            ))
        else:
            lines[index] += draw(awkward_text)
    return "\n".join(lines)


@BOUNDED
@given(damaged_default())
def test_damaged_default_template_loads_or_names_the_line(text: str) -> None:
    template = _parse(text)
    if template is not None:
        _check_apply(template, Customer.from_api(VALID))


SHIPPED = load_template()


@SMALL
@given(customers, st.sampled_from(["US", "GB", "ZZ", "", "001"]))
def test_default_template_maps_any_readable_customer(customer: Customer, region: str) -> None:
    for collection in Collection:
        mapped = apply(customer, SHIPPED, collection, default_region=region)
        json.dumps(mapped.attributes)
        assert all(isinstance(m, str) and m for m in (*mapped.errors, *mapped.warnings))


@SMALL
@given(st.one_of(st.binary(max_size=64), st.text(max_size=64).map(str.encode)),
       st.sampled_from(["file", "missing", "folder"]))
def test_load_template_from_any_file_or_path(content: bytes, shape: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "template.toml"
        if shape == "file":
            path.write_bytes(content)
        elif shape == "folder":
            path.mkdir()
        try:
            load_template(path)
        except TemplateError as error:
            assert str(error).startswith(str(path)), error


@st.composite
def plausible_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Rows with distinct known destinations and the right key for their kind."""
    names = draw(st.lists(st.sampled_from([*KNOWN_DESTINATIONS[:-1], "LIST_VIP", "Score"]),
                          unique_by=lambda n: n.casefold().replace(" ", ""), max_size=8))
    out = [IDENTITY]
    for name in names:
        if name.casefold() == "email":
            continue
        kind = draw(st.sampled_from(["static", "field", "formula", "formula"]))
        content = {"static": static_values, "field": st.sampled_from(FIELDS),
                   "formula": well_formed}[kind]
        key = {"static": "value", "field": "source", "formula": "formula"}[kind]
        out.append({"destination": name, "kind": kind, key: draw(content)})
    return out


@SMALL
@given(plausible_rows(), customers)
def test_plausible_templates_map_any_customer(
    add: list[dict[str, Any]], customer: Customer
) -> None:
    template = _parse(_document(add, add, "link-only"))
    if template is not None:
        _check_apply(template, customer)
