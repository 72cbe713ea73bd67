"""The planner's shortcuts answer what the general path answers: a static list row's intent
built once, and the guard of a plan without consent changes."""

from __future__ import annotations

import pytest

from core.mapping import apply, parse_template
from core.model import Collection, Customer, Guard, GuardKind, MappedProfile
from core.plan import ConsentPolicy
from core.plan.consent import judge

ROW = """
[[{collection}.mappings]]
destination = "{destination}"
kind = "{kind}"
{key} = {value}
"""


def _template(kind: str, values: list[tuple[str, str]]) -> str:
    text = ""
    for collection in ("add", "update"):
        text += f"[{collection}]\n"
        text += ROW.format(collection=collection, destination="Email", kind="field",
                           key="source", value='"EmailAddress"')
        for destination, value in values:
            if kind == "static":
                text += ROW.format(collection=collection, destination=destination,
                                   kind="static", key="value", value=value)
            else:
                # The same value from a formula: a literal the row evaluates per customer.
                literal = value if value.startswith('"') else f'"{value}"'
                text += ROW.format(collection=collection, destination=destination,
                                   kind="formula", key="formula",
                                   value="'" + literal + "'")
    return text


LIST_ROWS = [
    ("LIST_Sms Subscribers", "true"), ("UCLIST_Preview List", "false"),
    ("LIST_Weekly", '"TRUE"'), ("UCLIST_VIP", '" false "'), ("LIST_Empty", '""'),
    ("UCLIST_Blank", '"  "'),
]


@pytest.mark.parametrize("collection", [Collection.ADD, Collection.UPDATE])
def test_static_list_rows_give_the_intents_a_formula_row_gives(collection: Collection) -> None:
    static = parse_template(_template("static", LIST_ROWS))
    formula = parse_template(_template("formula", LIST_ROWS))
    customers = [Customer(id=str(n), email_address=f"c{n}@example.com") for n in range(3)]
    for customer in customers:
        by_static = apply(customer, static, collection, link="01J")
        by_formula = apply(customer, formula, collection, link="01J")
        assert by_static == by_formula
    intents = apply(customers[0], static, collection).list_intents
    assert [(i.list_name, i.consent, i.member) for i in intents] == [
        ("Sms Subscribers", True, True), ("Preview List", False, False),
        ("Weekly", True, True), ("VIP", False, False)]


@pytest.mark.parametrize("hold", [frozenset(), frozenset(GuardKind), frozenset(
    {GuardKind.UNSUBSCRIBE})])
def test_a_plan_without_consent_changes_has_the_guard_the_general_path_builds(
        hold: frozenset[GuardKind]) -> None:
    mapped = MappedProfile(customer_id="1", collection=Collection.ADD, attributes={},
                           properties={}, subscribe=None)
    general = Guard(reasons=(), held=frozenset() & hold, operations=())
    assert judge((), mapped, ConsentPolicy(hold=hold)) == general
