"""The faster ways of writing records store what the plain ways stored, word for word."""

from __future__ import annotations

import json
import re
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.model import Customer
from core.store import History
from core.store.customers import (
    TERM_MAX,
    CustomerIndex,
    IndexedCustomer,
    fold,
    search_key,
    word_suffixes,
)
from core.store.database import FILE_NAME, ROWS_PER_INSERT, insert_rows
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


@pytest.mark.parametrize("variables", [999, 7, 3])
def test_insert_rows_stores_what_executemany_stored(variables: int) -> None:
    rows = [(f"t{n % 37}", str(n), None if n % 5 else "x") for n in range(ROWS_PER_INSERT * 2 + 3)]
    stored = []
    for many in (True, False):
        connection = sqlite3.connect(":memory:")
        # A low limit of bound values, as older SQLite builds have, splits the rows further.
        connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, variables)
        connection.execute("CREATE TABLE t (a TEXT, b TEXT PRIMARY KEY, c TEXT)")
        if many:
            connection.executemany("INSERT INTO t (a, b, c) VALUES (?, ?, ?)", rows)
        else:
            insert_rows(connection, "INSERT INTO t (a, b, c)", rows)
        stored.append(connection.execute("SELECT rowid, a, b, c FROM t").fetchall())
    assert stored[0] == stored[1] and len(stored[0]) == len(rows)


def test_a_taken_id_in_a_later_statement_is_named_and_nothing_is_stored(tmp_path: Path) -> None:
    history = History(tmp_path)
    taken = entry(history.new_id())
    history.add(taken)
    group = [entry(history.new_id(), str(n)) for n in range(ROWS_PER_INSERT + 10)]
    group.insert(ROWS_PER_INSERT + 5, taken)
    with pytest.raises(ValueError, match=f"history entry {taken.id} already exists"):
        history.add_many(group)
    assert history.count() == 1 and history.verify() == []
    fresh = [item for item in group if item is not taken]
    history.add_many(fresh)
    assert history.recent(1000) == [*reversed(fresh), taken]


_FIELD = st.sampled_from([None, "", "Ann", "Lee", "Ann Lee", "ann@example.com", "Acme Co"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("123"), _FIELD, _FIELD, _FIELD, _FIELD), max_size=12))
def test_the_stored_terms_are_always_those_of_the_stored_customers(
        changes: list[tuple[str, str | None, str | None, str | None, str | None]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        index = CustomerIndex(Path(folder))
        for n, (cid, email, first, last, company) in enumerate(changes):
            index.remember([Customer(id=cid, email_address=email, first_name=first,
                                     last_name=last, company=company)], f"2026-12-07T10:00:{n:02d}")
        with sqlite3.connect(Path(folder) / FILE_NAME) as connection:
            stored = set(connection.execute("SELECT term, customer_id FROM customer_terms"))
            customers = [IndexedCustomer(*row) for row in connection.execute(
                "SELECT id, email, first_name, last_name, company, seen_at FROM customers")]
        index.close()
    assert stored == {(term, c.id) for c in customers for term in _terms_before(c)}
