"""Customer search (figure 9): one query of the local customer index at 100,000 customers.

Run: .venv/bin/python bench/search.py [--customers 100000] [--repeat 200]

Fills a fresh store's customer index the way the engine does (CustomerIndex.remember, 500 a
call, as a refresh writes pages) with generated customers: syllable names, a few shared email
domains, a third with a company. Then times CustomerIndex.find (50 shown and the count of all,
up to 1,000) for queries from narrow to broad, each the median and the 95th percentile of
`--repeat` runs on one warm store, plus count() and the file's size, and for comparison a plain
LIKE '%text%' scan over lowercased columns of the same customers. A keystroke leaves about 50 ms
before typing feels slow; the target is under 5 ms per query.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.model import Customer
from core.store.customers import COUNT_MAX, CustomerIndex
from core.store.database import FILE_NAME

SYLLABLES = ["ka", "ri", "to", "an", "ne", "mo", "lu", "sa", "ve", "el", "jo", "mi", "ra",
             "ko", "ta", "na", "be", "li", "do", "gu"]
DOMAINS = ["example.com", "example.jp", "mail.example.org", "shop.example.de", "corp.example"]
SEEN = "2026-12-07T10:00:00+00:00"


def word(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize()


def customers(count: int) -> list[Customer]:
    rng = random.Random(count)
    out = []
    for n in range(count):
        first, last = word(rng, rng.randint(2, 3)), word(rng, rng.randint(2, 4))
        company = f"{word(rng, 3)} Trading" if n % 3 == 0 else None
        email = f"{first}.{last}{n}@{rng.choice(DOMAINS)}".lower()
        out.append(Customer(id=str(100_000 + n), first_name=first, last_name=last,
                            email_address=email, company=company))
    return out


def timed(call: object, repeat: int) -> tuple[float, float]:
    """(median, 95th percentile) in milliseconds."""
    assert callable(call)
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        runs.append((time.perf_counter() - start) * 1000)
    runs.sort()
    return statistics.median(runs), runs[int(len(runs) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    people = customers(args.customers)
    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder)
        index = CustomerIndex(state)
        start, cpu = time.perf_counter(), time.process_time()
        for at in range(0, len(people), 500):
            index.remember(people[at:at + 500], SEEN)
        filled, cpu = time.perf_counter() - start, time.process_time() - cpu
        # Pages of customers already known, unchanged (a sync after a refresh): the median of 9.
        pages = []
        for at in range(0, min(len(people), 9 * 500), 500):
            again = time.perf_counter()
            index.remember(people[at:at + 500], SEEN)
            pages.append((time.perf_counter() - again) * 1000)
        page = statistics.median(pages)
        size = (state / FILE_NAME).stat().st_size + sum(
            p.stat().st_size for p in state.glob(f"{FILE_NAME}-wal"))
        sample = people[len(people) // 2]
        assert sample.email_address is not None and sample.last_name is not None
        queries = {
            "a whole email": sample.email_address,
            "an email's start": sample.email_address.split("@")[0] + "@",
            "a last name": sample.last_name,
            "a company word": "trading",
            "a domain (every customer)": "example",
            "two letters (a 20th of the names)": "ka",
            "nothing matches": "zzqx",
        }
        print(f"customer index: {args.customers:,} customers filled in {filled:.1f} s wall, "
              f"{cpu / args.customers * 1e6:.0f} us CPU a customer; file {size / 1e6:.1f} MB; "
              f"a known page of 500 again: {page:.1f} ms (median)")
        print(f"{'query':<36} {'found':>7} {'median ms':>10} {'p95 ms':>8}")
        for label, query in queries.items():
            found = index.find(query)
            median, p95 = timed(lambda q=query: index.find(q), args.repeat)
            total = "1,000+" if found.total > COUNT_MAX else f"{found.total:,}"
            print(f"{label:<36} {total:>7} {median:>10.2f} {p95:>8.2f}")
        median, p95 = timed(index.count, args.repeat)
        print(f"{'count() of the index':<36} {index.count():>7,} {median:>10.2f} {p95:>8.2f}")
        index.close()
        like_scan(state / "like.sqlite3", people, sample.last_name.lower(), args.repeat)


def like_scan(path: Path, people: list[Customer], query: str, repeat: int) -> None:
    """For comparison: LIKE '%text%' over lowercased columns, which no index can serve."""
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE customers (id TEXT PRIMARY KEY, email TEXT, name TEXT, "
                       "company TEXT)")
    connection.executemany("INSERT INTO customers VALUES (?, ?, ?, ?)", [
        (c.id, (c.email_address or "").lower(), f"{c.first_name} {c.last_name}".lower(),
         (c.company or "").lower()) for c in people])
    connection.commit()
    where = "email LIKE ?1 OR name LIKE ?1 OR company LIKE ?1"
    pattern = (f"%{query}%",)

    def page_and_count() -> None:
        connection.execute(f"SELECT id FROM customers WHERE {where} LIMIT 50", pattern).fetchall()
        connection.execute(f"SELECT count(*) FROM customers WHERE {where}", pattern).fetchall()

    median, p95 = timed(page_and_count, max(5, repeat // 10))
    print(f"{'LIKE scan, a last name (comparison)':<36} {'':>7} {median:>10.2f} {p95:>8.2f}")
    connection.close()


if __name__ == "__main__":
    main()
