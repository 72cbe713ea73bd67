"""The local customer index: emails, names and companies found from the start of any word.

iPaaS.com only matches a whole value (`action=equals`), so partial matches come from here. Each
customer's folded values are stored once more as the suffixes that start at a word, so "example"
finds "keiko.tanaka@example.jp" and "tanaka" finds "Keiko Tanaka" with one range read of an
index, however many customers there are.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.model import Customer
from core.store.database import Database, insert_rows

# Longer terms cost index room and no one types that far into a search field.
TERM_MAX = 64
# Counting stops here: past it the operator only needs to know "many".
COUNT_MAX = 1000
# Above every character a folded term can hold, so [prefix, prefix + END) is "starts with".
_END = "\U0010ffff"
# A run of letters and digits; each run's start is a word start. (A run, not a lookbehind for
# a single character: fewer regex steps per term, the same starts.)
_WORD = re.compile(r"[^\W_]+")
_SLICE = 500

FIELDS = ("email", "name", "company")


def fold(text: str) -> str:
    """Text as the index compares it: no case, no accents, single spaces."""
    if not text.isascii():  # most emails and many names: nothing to decompose
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(text.casefold().split())


def word_suffixes(text: str) -> set[str]:
    """The folded text from each word start on, cut at TERM_MAX characters."""
    folded = fold(text)
    return {folded[m.start():m.start() + TERM_MAX] for m in _WORD.finditer(folded)}


def search_key(query: str) -> str:
    """The folded query from its first letter or digit on ("@example" looks for "example")."""
    folded = fold(query)
    found = _WORD.search(folded)
    return folded[found.start():found.start() + TERM_MAX] if found else ""


@dataclass(frozen=True, slots=True)
class IndexedCustomer:
    """One customer as the index last saw it; a suggestion, fetched fresh when opened."""

    id: str
    email_address: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    seen_at: str

    @classmethod
    def of(cls, customer: Customer, seen_at: str) -> IndexedCustomer:
        return cls(customer.id, customer.email_address, customer.first_name,
                   customer.last_name, customer.company, seen_at)

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    @property
    def display_name(self) -> str:
        return self.name or self.email_address or f"customer {self.id}"

    def values(self) -> dict[str, str]:
        """Field -> text, for the fields the index searches."""
        found = {"email": self.email_address or "", "name": self.name,
                 "company": self.company or ""}
        return {k: v for k, v in found.items() if v.strip()}

    def stored_text(self) -> tuple[str | None, ...]:
        """The columns the terms come from: the same ones, the same terms (a cheap test)."""
        return (self.email_address, self.first_name, self.last_name, self.company)

    def terms(self) -> set[str]:
        """What the index stores for this customer: the word suffixes of every searched field."""
        found: set[str] = set()
        for text in (self.email_address, self.name, self.company):
            if text:  # values() without its dict: blank text has no word start anyway
                found |= word_suffixes(text)
        return found

    def matched_on(self, query: str) -> tuple[str, ...]:
        """The fields (email, name, company) where a word starts with the query."""
        key = search_key(query)
        if not key:
            return ()
        return tuple(field for field, text in self.values().items()
                     if any(term.startswith(key) for term in word_suffixes(text)))


@dataclass(frozen=True)
class IndexMatches:
    """Up to `limit` customers a query found, and how many it found in all."""

    customers: list[IndexedCustomer]
    total: int  # at most COUNT_MAX + 1: past COUNT_MAX it means "more than COUNT_MAX"


class CustomerIndex:
    """The customers the engine has read, searchable by any word of email, name or company."""

    def __init__(self, state_dir: Path, *, durable: bool = False) -> None:
        """Not durable by default: a power cut may lose the newest rows, which the next read
        or refresh puts back; the index is a cache of iPaaS.com, never the record."""
        self._db = Database(state_dir, durable=durable)

    def remember(self, customers: Iterable[Customer], seen_at: str) -> None:
        """Store these customers as seen at `seen_at`, replacing what was known of them."""
        fresh = {c.id: IndexedCustomer.of(c, seen_at) for c in customers}
        if not fresh:
            return
        ids = list(fresh)
        with self._db.writing() as connection:
            old: dict[str, IndexedCustomer] = {}
            for start in range(0, len(ids), _SLICE):
                part = ids[start:start + _SLICE]
                marks = ",".join("?" * len(part))
                for row in connection.execute(
                        "SELECT id, email, first_name, last_name, company, seen_at "
                        f"FROM customers WHERE id IN ({marks})", part):
                    old[row[0]] = IndexedCustomer(*row)
            gone: list[tuple[str, str]] = []
            added: list[tuple[str, str]] = []
            for cid, customer in fresh.items():
                before = old.get(cid)
                if before is None:
                    added.extend((term, cid) for term in customer.terms())
                elif before.stored_text() != customer.stored_text():
                    was, now = before.terms(), customer.terms()
                    gone.extend((term, cid) for term in was - now)
                    added.extend((term, cid) for term in now - was)
                # else only seen_at changes
            connection.executemany(
                "DELETE FROM customer_terms WHERE term = ? AND customer_id = ?", gone)
            insert_rows(connection, "INSERT OR IGNORE INTO customer_terms (term, customer_id)",
                        added)
            insert_rows(
                connection,
                "INSERT INTO customers (id, email, first_name, last_name, company, seen_at)",
                [(c.id, c.email_address, c.first_name, c.last_name, c.company, c.seen_at)
                 for c in fresh.values()],
                "ON CONFLICT (id) DO UPDATE SET email = excluded.email,"
                " first_name = excluded.first_name, last_name = excluded.last_name,"
                " company = excluded.company, seen_at = excluded.seen_at")

    def find(self, query: str, limit: int = 50) -> IndexMatches:
        """Customers with a word of email, name or company starting with the query."""
        key = search_key(query)
        if not key or limit <= 0:
            return IndexMatches([], 0)
        bounds = (key, key + _END)
        ids = [str(cid) for (cid,) in self._db.rows(
            "SELECT DISTINCT customer_id FROM customer_terms WHERE term >= ? AND term < ? "
            "LIMIT ?", (*bounds, limit))]
        if len(ids) < limit:
            total = len(ids)
        else:
            [(total,)] = self._db.rows(
                "SELECT count(*) FROM (SELECT DISTINCT customer_id FROM customer_terms "
                "WHERE term >= ? AND term < ? LIMIT ?)", (*bounds, COUNT_MAX + 1))
        return IndexMatches(self._rows(ids), int(total))

    def _rows(self, ids: Sequence[str]) -> list[IndexedCustomer]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        found = {row[0]: IndexedCustomer(*row) for row in self._db.rows(
            "SELECT id, email, first_name, last_name, company, seen_at FROM customers "
            f"WHERE id IN ({marks})", list(ids))}
        return [found[cid] for cid in ids if cid in found]

    def get(self, customer_id: str) -> IndexedCustomer | None:
        found = self._rows([customer_id])
        return found[0] if found else None

    def count(self) -> int:
        """How many customers the index holds."""
        [(total,)] = self._db.rows("SELECT count(*) FROM customers")
        return int(total)

    def refreshed_at(self) -> str | None:
        """When the last complete refresh finished (ISO 8601 UTC), None if none has."""
        found = self._db.rows("SELECT refreshed_at FROM customer_index_refresh")
        return str(found[0][0]) if found else None

    def finish_refresh(self, started_at: str, finished_at: str) -> int:
        """Record a complete refresh and drop customers it no longer listed; how many went."""
        with self._db.writing() as connection:
            stale = [IndexedCustomer(*row) for row in connection.execute(
                "SELECT id, email, first_name, last_name, company, seen_at FROM customers "
                "WHERE seen_at < ?", (started_at,))]
            connection.executemany(
                "DELETE FROM customer_terms WHERE term = ? AND customer_id = ?",
                [(term, c.id) for c in stale for term in c.terms()])
            connection.executemany("DELETE FROM customers WHERE id = ?",
                                   [(c.id,) for c in stale])
            connection.execute(
                "INSERT INTO customer_index_refresh (one, refreshed_at) VALUES (1, ?) "
                "ON CONFLICT (one) DO UPDATE SET refreshed_at = excluded.refreshed_at",
                (finished_at,))
            return len(stale)

    def close(self) -> None:
        self._db.close()
