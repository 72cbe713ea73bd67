"""The faster ways of writing records store what the plain ways stored, word for word."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from core.model import Customer
from core.store import History
from core.store.customers import TERM_MAX, IndexedCustomer, fold, search_key, word_suffixes
from core.store.database import FILE_NAME
from core.store.schema import dumps

from .conftest import entry

# The definitions the store used before: a word starts at a letter or digit that follows none.
_WORD_START = re.compile(r"(?<![^\W_])[^\W_]")


def _suffixes_before(text: str) -> set[str]:
    folded = fold(text)
    return {folded[m.start():m.start() + TERM_MAX] for m in _WORD_START.finditer(folded)}


def _terms_before(customer: IndexedCustomer) -> set[str]:
    return {term for text in customer.values().values() for term in _suffixes_before(text)}


# Letters, digits, marks, "_", punctuation and spaces: what word starts are made of.
_TEXT = st.text(st.sampled_from("aZé9_ .-@'\t\u0301ß٣山"), max_size=90)


@given(_TEXT)
def test_word_suffixes_are_the_lookbehind_definition(text: str) -> None:
    assert word_suffixes(text) == _suffixes_before(text)
    found = _WORD_START.search(fold(text))
    assert search_key(text) == (fold(text)[found.start():found.start() + TERM_MAX]
                                if found else "")


@given(st.none() | _TEXT, st.none() | _TEXT, st.none() | _TEXT, st.none() | _TEXT)
def test_a_customers_terms_are_those_of_its_searched_values(
        email: str | None, first: str | None, last: str | None, company: str | None) -> None:
    customer = IndexedCustomer.of(Customer(id="1", email_address=email, first_name=first,
                                           last_name=last, company=company), "")
    assert customer.terms() == _terms_before(customer)


def test_a_history_row_is_the_json_it_always_was(tmp_path: Path) -> None:
    history = History(tmp_path)
    item = entry(history.new_id(), before={"first_name": "Zoë", "note": 'a "quoted" \\ 山'},
                 consent=({"channel": "email", "action": "subscribe", "list": None},))
    history.add(item)
    with sqlite3.connect(tmp_path / FILE_NAME) as connection:
        [(stored,)] = connection.execute("SELECT entry FROM history").fetchall()
    assert stored == json.dumps(item.to_json(), ensure_ascii=False, separators=(",", ":"))
    assert stored == dumps(item.to_json())
    assert history.get(item.id) == item
