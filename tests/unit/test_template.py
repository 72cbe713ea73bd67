"""Template loading: line-numbered errors at load time, and the formula language."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.mapping import TemplateError, apply, load_template, parse_template
from core.model import Collection, Customer

EMAIL_ROW = '[[{c}.mappings]]\ndestination = "Email"\nkind = "field"\nsource = "EmailAddress"\n'


def both(rows: str = "", *, header: str = "") -> str:
    """A template whose two collections have the Email row and then `rows`."""
    return "".join(
        f"[{c}]\n{header}" + EMAIL_ROW.replace("{c}", c) + rows.replace("{c}", c)
        for c in ("add", "update")
    )


def error_of(text: str) -> str:
    with pytest.raises(TemplateError) as caught:
        parse_template(text, source="my.toml")
    return str(caught.value)


def test_the_shipped_default_loads() -> None:
    template = load_template()
    assert template.source.endswith("default.toml")


def test_a_file_template_loads_and_names_its_file_in_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(both(), encoding="utf-8")
    assert load_template(good).rows(Collection.ADD)[0].destination == "Email"
    bad = tmp_path / "bad.toml"
    bad.write_text("[add\n", encoding="utf-8")
    with pytest.raises(TemplateError) as caught:
        load_template(bad)
    message = str(caught.value)
    assert message.startswith(f"{bad}:1: not valid TOML")


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as caught:
        load_template(tmp_path / "nope.toml")
    message = str(caught.value)
    assert message == f"{tmp_path / 'nope.toml'}: template file not found"


def test_toml_syntax_errors_name_the_line() -> None:
    text = both() + 'oops = "unclosed\n'
    assert error_of(text).startswith("my.toml:11: not valid TOML")


def row(destination: str, kind: str, key: str, value: str) -> str:
    return f'[[{{c}}.mappings]]\ndestination = "{destination}"\nkind = "{kind}"\n{key} = {value}\n'


@pytest.mark.parametrize(
    ("rows", "line", "fragment"),
    [
        (row("PhoneNumber", "formula", "formula", '"e165(CustomerNumber)"'), 9,
         "unknown function 'e165' (did you mean e164?)"),
        (row("PhoneNumber", "formula", "formula", '"e164(CustomerNumbr)"'), 9,
         "unknown Customer field 'CustomerNumbr' (did you mean CustomerNumber?)"),
        (row("PhoneNumber", "formula", "formula", '"e164(CustomerNumber, Id)"'), 9,
         "e164() takes 1 argument, got 2"),
        (row("Id", "formula", "formula", '"link(Id)"'), 9, "link() takes 0 arguments, got 1"),
        (row("Nick", "formula", "formula", '"coalesce()"'), 9,
         "coalesce() takes at least 1 argument, got 0"),
        (row("City", "formula", "formula", '"primary_billing(City)"'), 9,
         'primary_billing() takes Address1 in quotes'),
        (row("City", "formula", "formula", """'primary_billing("Town")'"""), 9,
         "unknown address field 'Town'"),
        (row("Note", "formula", "formula", '"truncate(Comment, Id)"'), 9,
         "truncate(value, n) takes a whole number n"),
        (row("Note", "formula", "formula", '"FirstName + LastName"'), 9,
         "formulas have no operators"),
        (row("Note", "formula", "formula", '"lower(FirstName"'), 9, "is not closed"),
        (row("Note", "formula", "formula", """'"open'"""), 9, "a quoted text is not closed"),
        (row("Note", "formula", "formula", '"FirstName LastName"'), 9,
         "unexpected 'LastName' after a complete expression"),
        (row("Note", "field", "source", '"Phone"'), 9, "unknown Customer field 'Phone'"),
        (row("Note", "guess", "value", '"x"'), 8, "kind must be static, field or formula"),
        (row("Note", "static", "formula", '"x"'), 9, "a static row takes value, not formula"),
        (row("Note", "static", "value", "[1, 2]"), 9, "a static value must be text"),
        (row("SubscribeProfile", "static", "value", '"yes"'), 9,
         "value must be true or false, got 'yes'"),
        (row("LIST_", "static", "value", "true"), 6, "LIST_ needs a Klaviyo list name"),
        (row("Type", "static", "value", '"person"'), 6, 'Type must be the static value "profile"'),
        (row("Email", "field", "source", '"EmailAddress"'), 6,
         "sets the same field as 'Email' on line 2"),
        ('[[{c}.mappings]]\ndestination = "X"\nkind = "static"\nvalue = "v"\nsorce = "Id"\n', 10,
         "unknown key 'sorce'"),
        ('[[{c}.mappings]]\nkind = "static"\nvalue = "v"\n', 6, "destination is missing"),
        ('[[{c}.mappings]]\ndestination = "X"\nkind = "field"\n', 6, "a field row needs source"),
    ],
)
def test_semantic_errors_name_the_file_line_and_row(rows: str, line: int, fragment: str) -> None:
    message = error_of(both(rows))
    assert message.startswith(f"my.toml:{line}: "), message
    assert fragment in message, message


def test_errors_point_into_the_update_collection_too() -> None:
    text = "[add]\n" + EMAIL_ROW.replace("{c}", "add") + "[update]\n" + EMAIL_ROW.replace(
        "{c}", "update"
    ) + row("Nick", "formula", "formula", '"nope()"').replace("{c}", "update")
    message = error_of(text)
    assert message.startswith("my.toml:14: update mapping 'Nick': unknown function 'nope'")


def test_inline_rows_are_located_by_destination() -> None:
    text = (
        '[add]\nmappings = [\n  {destination = "Email", kind = "field", source = "EmailAddress"},\n'
        '  {destination = "Bad", kind = "formula", formula = "nope()"},\n]\n'
        "[update]\n" + EMAIL_ROW.replace("{c}", "update")
    )
    assert error_of(text).startswith("my.toml:4: add mapping 'Bad'")


def test_collection_level_errors() -> None:
    assert error_of("[add]\n" + EMAIL_ROW.replace("{c}", "add")).startswith(
        "my.toml:1: the template has no [update] collection"
    )
    assert "on_match must be" in error_of(both(header='on_match = "merge"\n'))
    assert error_of(both(header='on_match = "merge"\n')).startswith("my.toml:2:")
    no_id = "[add]\n[update]\n"
    assert "maps neither Email nor PhoneNumber" in error_of(no_id)
    assert "unknown section 'delete'" in error_of(both() + "[delete]\n")


def test_link_only_is_read_per_collection() -> None:
    text = "[add]\non_match = \"link-only\"\n" + EMAIL_ROW.replace("{c}", "add") + (
        "[update]\n" + EMAIL_ROW.replace("{c}", "update")
    )
    template = parse_template(text)
    assert template.on_match(Collection.ADD) == "link-only"
    assert template.on_match(Collection.UPDATE) == "patch"


# ---------------------------------------------------------------------------------------------
# Formulas
# ---------------------------------------------------------------------------------------------

PERSON = Customer.from_api({
    "id": 7, "customer_number": " 42 ", "first_name": "Ann", "last_name": "Lee",
    "email_address": "Ann@Example.com", "company": None, "comment": "  long comment text  ",
    "addresses": [
        {"city": "Ship Town", "is_primary_shipping": True},
        {"city": "Bill Town", "postal_code": "62701", "phone_number": "020 7946 0958",
         "country": "GB", "is_primary_billing": True},
    ],
    "custom_fields": [{"custom_field_name": "Tier", "value": "Gold"}],
})


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ('"plain text"', "plain text"),
        ("FirstName", "Ann"),
        ("Id", "7"),
        ("link()", "01JLINK"),
        ('primary_billing("City")', "Bill Town"),
        ('primary_billing("Zip")', "62701"),
        ('primary_billing("PostalCode")', "62701"),
        ('primary_shipping("City")', "Ship Town"),
        ('primary_billing("Address1")', None),
        ('custom_field("tier")', "Gold"),
        ('custom_field("Missing")', None),
        ('coalesce(Company, custom_field("Missing"), "fallback")', "fallback"),
        ('Coalesce(Company, LastName)', "Lee"),
        ("lower(EmailAddress)", "ann@example.com"),
        ("upper(LastName)", "LEE"),
        ("trim(Comment)", "long comment text"),
        ("truncate(trim(Comment), 4)", "long"),
        ('join(" ", FirstName, Company, LastName)', "Ann Lee"),
        ('concat(FirstName, "-", Id)', "Ann-7"),
        ('e164(primary_billing("PhoneNumber"))', "+442079460958"),
        ("  e164 ( '020 7946 0958' )  ", "+442079460958"),
        (r'"say \"hi\""', 'say "hi"'),
    ],
)
def test_formulas(formula: str, expected: str | None) -> None:
    text = both(row("Out", "formula", "formula", repr(formula).replace("\\\\", "\\")))
    template = parse_template(text)
    mapped = apply(PERSON, template, Collection.ADD, link="01JLINK")
    assert mapped.properties.get("Out") == expected


def test_a_template_compiles_once_and_is_reused() -> None:
    template = parse_template(both(row("Out", "formula", "formula", '"upper(FirstName)"')))
    first = apply(PERSON, template, Collection.ADD)
    second = apply(PERSON, template, Collection.UPDATE)
    assert first.properties == second.properties == {"Out": "ANN"}
