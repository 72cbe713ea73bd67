"""A plan's field diff is worked out when first read, and reads as field_diff would answer."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

import core.plan.diff as diff_module
from core.mapping import load_template
from core.model import Customer, FieldDiff, KlaviyoList, OptIn, Profile, Route, Subscriptions
from core.plan import Resolution, field_diff, plan_push
from core.plan.diff import LazyFieldDiff

TEMPLATE = load_template()
ANN = Customer(id="55260", first_name="Ann", last_name="Lee", email_address="ann@example.com",
               company="Acme")
CURRENT = Profile(id="01JLINKED0000000000000000A",
                  attributes={"email": "ANN@example.com", "first_name": "Annie", "title": "CEO",
                              "location": {"city": "Boston", "zip": None}},
                  subscriptions=Subscriptions(), list_ids=frozenset())
LISTS = {name: KlaviyoList(id=f"L{n}", name=name, opt_in_process=OptIn.SINGLE)
         for n, name in enumerate(("Sms Subscribers", "Preview List"))}
LINKED = Resolution(link=CURRENT.id, linked_profile=CURRENT, lists=LISTS)

PAIRS: list[tuple[dict[str, Any] | None, dict[str, Any] | None]] = [
    (None, {"email": "a@b.co", "location": {"city": "Oslo"}}),
    (dict(CURRENT.attributes), {"email": "ann@example.com", "first_name": "Ann"}),
    (dict(CURRENT.attributes), {}),
    (None, None),
]


@pytest.mark.parametrize(("current", "sent"), PAIRS)
def test_it_reads_as_the_diff_worked_out_at_once(current: dict[str, Any] | None,
                                                 sent: dict[str, Any] | None) -> None:
    eager = field_diff(current, sent)
    lazy = LazyFieldDiff(current, sent)
    assert lazy == eager and eager == lazy
    assert list(lazy) == list(eager) and len(lazy) == len(eager) and bool(lazy) == bool(eager)
    assert lazy[:] == eager and repr(lazy) == repr(eager)
    if eager:
        assert lazy[0] == eager[0] and lazy[-1] == eager[-1]
    assert lazy != (*eager, FieldDiff("x", None, 1, eager[0].change if eager else None))


def test_planning_works_the_diff_out_only_when_it_is_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = diff_module.field_diff

    def counted(current: Any, sent: Any) -> tuple[FieldDiff, ...]:
        calls.append(1)
        return real(current, sent)

    monkeypatch.setattr(diff_module, "field_diff", counted)
    plan = plan_push(ANN, TEMPLATE, LINKED)
    assert plan.route is Route.UPDATE and calls == []
    changed = {d.field: d.change.value for d in plan.diff}
    assert changed["first_name"] == "changed" and changed["title"] == "kept"
    assert len(plan.diff) == len(changed) and calls == [1]


def test_a_plan_with_its_diff_worked_out_equals_the_same_plan_with_it_given() -> None:
    plan = plan_push(ANN, TEMPLATE, LINKED)
    again = plan_push(ANN, TEMPLATE, LINKED)
    given = replace(plan, diff=tuple(field_diff(CURRENT.attributes, plan.payload["data"][
        "attributes"] if plan.payload else {})))
    assert plan == again == given
    assert plan != replace(plan, diff=given.diff[1:])
