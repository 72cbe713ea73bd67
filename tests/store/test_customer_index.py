"""The customer index finds customers by the start of any word of their email, name or company."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.model import Customer
from core.store import History
from core.store.customers import COUNT_MAX, CustomerIndex, IndexedCustomer, search_key
from core.store.database import FILE_NAME

SEEN = "2026-12-07T09:00:00+00:00"
KEIKO = Customer(id="55264", first_name="Keiko", last_name="Tanaka",
                 email_address="keiko.tanaka@example.jp")
ZOE = Customer(id="55301", first_name="Zoë", last_name="Müller-Lüdenscheidt",
               email_address="zoe.mueller@example.de")
BAKERY = Customer(id="55311", email_address="orders@example-bakery.com", company="Example Bakery")
TARO = Customer(id="55302", first_name="山田", last_name="太郎", email_address="taro@example.jp")


@pytest.fixture
def index(tmp_path: Path) -> CustomerIndex:
    found = CustomerIndex(tmp_path)
    found.remember([KEIKO, ZOE, BAKERY, TARO], SEEN)
    return found


def ids(index: CustomerIndex, query: str) -> list[str]:
    return [c.id for c in index.find(query).customers]


@pytest.mark.parametrize(("query", "expected"), [
    ("keiko.tanaka@", ["55264"]),          # an email's start, up to the @
    ("tanaka@exa", ["55264"]),             # from a word inside the address
    ("example.jp", ["55264", "55302"]),
    ("@example-bakery", ["55311"]),        # a leading @ is not part of any word
    ("tan", ["55264"]),
    ("keiko tan", ["55264"]),              # first and last name together
    ("bakery", ["55311"]),                 # a company's word
    ("太郎", ["55302"]),
])
def test_a_word_start_of_email_name_or_company_finds_the_customer(
        index: CustomerIndex, query: str, expected: list[str]) -> None:
    assert sorted(ids(index, query)) == expected


def test_case_and_accents_do_not_matter(index: CustomerIndex) -> None:
    assert ids(index, "KEIKO.TANAKA@EXAMPLE.JP") == ["55264"]
    assert ids(index, "muller") == ids(index, "MÜLLER") == ["55301"]
    assert ids(index, "ludensch") == ["55301"]


def test_the_middle_of_a_word_and_unknown_text_find_nothing(index: CustomerIndex) -> None:
    assert ids(index, "naka") == []
    assert ids(index, "nobody") == []
    assert index.find("  @. ").total == 0


def test_each_hit_says_which_fields_matched(index: CustomerIndex) -> None:
    [keiko] = index.find("tanaka").customers
    assert keiko.matched_on("tanaka") == ("email", "name")
    [bakery] = index.find("example-bak").customers
    assert bakery.matched_on("example-bak") == ("email",)
    assert bakery.matched_on("example") == ("email", "company")
    assert keiko.display_name == "Keiko Tanaka" and bakery.display_name == BAKERY.email_address


def test_many_matches_are_capped_and_counted(tmp_path: Path) -> None:
    index = CustomerIndex(tmp_path)
    index.remember([Customer(id=str(n), first_name="Ann", last_name=f"Lee{n}")
                    for n in range(120)], SEEN)
    found = index.find("ann", limit=50)
    assert len(found.customers) == 50 and len({c.id for c in found.customers}) == 50
    assert found.total == 120


def test_counting_stops_past_its_maximum(tmp_path: Path) -> None:
    index = CustomerIndex(tmp_path)
    index.remember([Customer(id=str(n), last_name="Smith") for n in range(COUNT_MAX + 5)], SEEN)
    found = index.find("smith", limit=10)
    assert len(found.customers) == 10 and found.total == COUNT_MAX + 1


def test_a_changed_customer_is_found_by_its_new_values_only(index: CustomerIndex) -> None:
    index.remember([Customer(id="55264", first_name="Keiko", last_name="Sato",
                             email_address="keiko.sato@example.jp")], "2026-12-08T09:00:00+00:00")
    assert ids(index, "tanaka") == []
    assert ids(index, "sato") == ["55264"]
    assert index.get("55264") == IndexedCustomer("55264", "keiko.sato@example.jp", "Keiko", "Sato",
                                                 None, "2026-12-08T09:00:00+00:00")
    assert index.count() == 4


def test_a_refresh_drops_customers_it_no_longer_listed(index: CustomerIndex) -> None:
    assert index.refreshed_at() is None
    later = "2026-12-08T09:00:00+00:00"
    index.remember([KEIKO, ZOE], later)  # what the refresh listed
    assert index.finish_refresh(later, "2026-12-08T09:05:00+00:00") == 2
    assert index.refreshed_at() == "2026-12-08T09:05:00+00:00"
    assert index.count() == 2 and ids(index, "example-bakery") == [] and ids(index, "太郎") == []


def test_the_index_is_kept_across_opens_beside_the_history(tmp_path: Path) -> None:
    History(tmp_path, durable=False).close()  # a store written before the index existed
    index = CustomerIndex(tmp_path)
    index.remember([KEIKO], SEEN)
    index.close()
    assert ids(CustomerIndex(tmp_path), "keiko") == ["55264"]
    with sqlite3.connect(tmp_path / FILE_NAME) as connection:
        terms = {t for (t,) in connection.execute("SELECT term FROM customer_terms")}
    assert terms == {"keiko.tanaka@example.jp", "tanaka@example.jp", "example.jp", "jp",
                     "keiko tanaka", "tanaka"}


def test_the_search_key_starts_at_a_letter_or_digit() -> None:
    assert search_key("  @Example.COM ") == "example.com"
    assert search_key("Zoë") == "zoe"
    assert search_key("--") == ""
