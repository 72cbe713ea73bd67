"""Store scale (figure 5): cost of one write and one lookup at 1,000 and 100,000 records.

Run: .venv/bin/python bench/store.py [--sizes 1000,100000] [--ops 128] [--shapes many,busy]
     [--bulk-only]

Two shapes of data, because a per-customer lookup depends on both how many customers there are
and how many records each one has:
  many  every record a different customer (a batch where everything failed: ~100k customers)
  busy  five customers share every record (the history of a customer pushed again and again)
Each lookup is measured twice:
  warm  one long-lived store, random keys (what a console session sees)
  cold  another connection wrote just before (SQLite then drops the reader's page cache),
        what every lookup sees while a sync runs beside the console
Prints milliseconds per operation (median) per size and the ratio largest/smallest (target at
most 2x). Writes are durable (synchronous=FULL: fsync per commit), as in the product; the
stores are filled through the store's own add_many, not durable, before measuring.
Then the cost per bulk customer of History.new_id() + its share of add_many(32), in CPU, the
share of add_many(512) of a linked customer's re-sync entry (--bulk-only: these alone), and
plain TinyDB with its default JSON storage, for comparison.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tinydb import Query, TinyDB

from core.model import ErrorKind, ErrorRecord, ErrorStatus, HistoryEntry, Route, Stage
from core.store import ErrorLog, History

BUSY_CUSTOMERS = 5
GROUP = 32  # history entries per add_many: what the bulk engine's store coalescer grouped
STORE_GROUP = 512  # what it groups now (core.engine.shared.STORE_GROUP)
FILL_GROUP = 2000
KINDS = list(ErrorKind)


def customers_for(shape: str, size: int) -> list[str]:
    """The customer of each of `size` records, oldest first."""
    if shape == "many":
        return [str(100_000 + n) for n in range(size)]
    rng = random.Random(size)
    return [str(50_000 + rng.randrange(BUSY_CUSTOMERS)) for _ in range(size)]


def error_record(record_id: str, customer: str, rng: random.Random, *, last: bool) -> ErrorRecord:
    # The engine keeps at most one open record per customer (it upserts), and it is the newest.
    status = ErrorStatus.OPEN if last and rng.random() < 0.3 else ErrorStatus.RESOLVED
    return ErrorRecord(
        id=record_id, customer_id=customer, kind=rng.choice(KINDS), stage=Stage.WRITE,
        message="Klaviyo answered 503 Service Unavailable; the profile was not written",
        retry_action="re-plan from fresh data and push again",
        created_at="2025-05-01T10:00:00+00:00", updated_at="2025-05-01T10:00:00+00:00",
        status=status, code="service_unavailable",
        detail="upstream connect error or disconnect/reset", http_status=503,
    )


def history_entry(entry_id: str, customer: str, rng: random.Random) -> HistoryEntry:
    profile = {
        "email": f"c{rng.randrange(10**6)}@example.com", "first_name": "Ann", "last_name": "Lee",
        "phone_number": "+15555550100",
        "location": {"address1": "1 Main St", "city": "Springfield", "region": "IL",
                     "zip": "62701", "country": "US"},
        "properties": {"customer_number": "C-1001", "tier": "gold"},
    }
    return HistoryEntry(
        id=entry_id, customer_id=customer, at="2025-05-01T10:00:00+00:00", route=Route.UPDATE,
        ok=True, profile_id="01JPROFILE", before=profile,
        sent={"data": {"type": "profile", "attributes": profile}}, after=profile,
        consent=({"channel": "email", "action": "subscribe", "list": None},),
    )


def fill(state: Path, customers: list[str]) -> tuple[list[str], list[str]]:
    """One error record and one history entry per entry of `customers`, oldest first."""
    rng = random.Random(len(customers))
    last = {customer: n for n, customer in enumerate(customers)}
    log, history = ErrorLog(state, durable=False), History(state, durable=False)
    ids: list[str] = []
    hids: list[str] = []
    for start in range(0, len(customers), FILL_GROUP):
        chunk = range(start, min(start + FILL_GROUP, len(customers)))
        records = [error_record(log.new_id(), customers[n], rng, last=last[customers[n]] == n)
                   for n in chunk]
        entries = [history_entry(history.new_id(), customers[n], rng) for n in chunk]
        log.add_many(records)
        history.add_many(entries)
        ids.extend(r.id for r in records)
        hids.extend(e.id for e in entries)
    log.close()
    history.close()
    return ids, hids


def per_op(action: Callable[[int], object], ops: int) -> list[float]:
    """Milliseconds of each `action(i)` call."""
    times = []
    for i in range(ops):
        start = time.perf_counter()
        action(i)
        times.append((time.perf_counter() - start) * 1000)
    return times


class Bench:
    """One store of `size` records in one shape and the operations measured on it."""

    def __init__(self, shape: str, size: int, root: Path) -> None:
        state = root / f"{shape}-{size}"
        self.customers = customers_for(shape, size)
        self.ids, self.hids = fill(state, self.customers)
        t0 = time.perf_counter()
        self.log = ErrorLog(state)
        self.history = History(state)
        self.open_s = time.perf_counter() - t0
        assert self.log.count() == size and self.history.count() == size
        # The other process: its write before a cold lookup invalidates our page cache.
        self.other = ErrorLog(state)
        self.touched = self.other.get(self.ids[0])
        self.updatable = self.ids[1:]  # not ids[0], which the other connection updates
        self.rng = random.Random(7)
        self.shape = shape
        self.fresh = 0

    def cold(self) -> None:
        assert self.touched is not None
        self.touched = dataclasses.replace(self.touched, attempts=self.touched.attempts + 1)
        self.other.update(self.touched)

    def customer(self) -> str:
        return self.rng.choice(self.customers)

    def new_customer(self) -> str:
        """A new failure's customer: a new one in `many`, a busy one again in `busy`."""
        if self.shape == "busy":
            return self.customer()
        self.fresh += 1
        return str(900_000 + self.fresh)

    def operations(self) -> dict[str, Callable[[int], object]]:
        log, history, rng = self.log, self.history, self.rng

        def add(i: int) -> None:
            log.add(error_record(log.new_id(), self.new_customer(), rng, last=True))

        def update(i: int) -> None:
            record = log.get(rng.choice(self.updatable))
            assert record is not None
            log.update(dataclasses.replace(record, attempts=record.attempts + 1))

        def get(i: int) -> None:
            assert log.get(rng.choice(self.ids)) is not None

        def open_for(i: int) -> None:
            log.open_for_customer(self.customer())

        def for_customer(i: int) -> None:
            assert history.for_customer(self.customer(), limit=50)

        def history_add(i: int) -> None:
            history.add(history_entry(history.new_id(), self.new_customer(), rng))

        def history_add_many(i: int) -> float:
            entries = [history_entry(history.new_id(), self.new_customer(), rng)
                       for _ in range(GROUP)]
            start = time.perf_counter()
            history.add_many(entries)
            return (time.perf_counter() - start) * 1000 / GROUP

        def cold(action: Callable[[int], object]) -> Callable[[int], object]:
            def measured(i: int) -> float:
                self.cold()
                start = time.perf_counter()
                action(i)
                return (time.perf_counter() - start) * 1000
            return measured

        return {
            "error add (new_id + add)": add,
            "error get by id, warm": get,
            "error get by id, cold": cold(get),
            "open_for_customer, warm": open_for,
            "open_for_customer, cold": cold(open_for),
            "error update (get + update)": update,
            "query first page (50), warm": lambda i: log.query(limit=50),
            "query first page (50), cold": cold(lambda i: log.query(limit=50)),
            "query open, first page (50)": lambda i: log.query(status=ErrorStatus.OPEN,
                                                               limit=50),
            "count(status=open)": lambda i: log.count(status=ErrorStatus.OPEN),
            "history add (one fsync each)": history_add,
            f"history add_many({GROUP}), per entry": history_add_many,
            "history for_customer(50), warm": for_customer,
            "history for_customer(50), cold": cold(for_customer),
            "history recent(50), cold": cold(lambda i: history.recent(50)),
        }


def measure(shape: str, sizes: list[int], ops: int, root: Path) -> dict[int, dict[str, float]]:
    """Median ms per operation; sizes take turns in small rounds so machine load hits all alike."""
    benches = {size: Bench(shape, size, root) for size in sizes}
    plans = {size: bench.operations() for size, bench in benches.items()}
    samples: dict[int, dict[str, list[float]]] = {size: {} for size in sizes}
    rounds = 8
    timed_inside = ("history add_many", "error get by id, cold", "open_for_customer, cold",
                    "query first page (50), cold", "history for_customer(50), cold",
                    "history recent(50), cold")
    for name in plans[sizes[0]]:
        for _ in range(rounds):
            for size in sizes:
                action = plans[size][name]
                if name.startswith(timed_inside):
                    count = max(1, ops // rounds // (8 if name.startswith("history add") else 1))
                    times = [float(action(i)) for i in range(count)]  # type: ignore[arg-type]
                else:
                    times = per_op(action, max(1, ops // rounds))
                samples[size].setdefault(name, []).extend(times)
    results = {
        size: {name: statistics.median(times) for name, times in samples[size].items()}
        for size in sizes
    }
    for size, bench in benches.items():
        results[size]["open the store (s)"] = bench.open_s
        bench.log.close()
        bench.history.close()
        bench.other.close()
    return results


def bulk_ids_and_history(root: Path, customers: int = 4096) -> dict[str, float]:
    """CPU µs per bulk customer: History.new_id() and its share of add_many(GROUP), durable."""
    history = History(root / "bulk")
    rng = random.Random(3)
    entries = [history_entry("", str(n), rng) for n in range(customers)]
    c0 = time.process_time()
    ids = [history.new_id() for _ in entries]
    c1 = time.process_time()
    stamped = [dataclasses.replace(e, id=i) for e, i in zip(entries, ids, strict=True)]
    for start in range(0, customers, GROUP):
        history.add_many(stamped[start:start + GROUP])
    c2 = time.process_time()
    history.close()
    return {"new_id": (c1 - c0) * 1e6 / customers, "add_many share": (c2 - c1) * 1e6 / customers,
            "both": (c2 - c0) * 1e6 / customers}


def resync_entry(entry_id: str, n: int) -> HistoryEntry:
    """A linked customer's bulk re-sync as the engine records it: the profile as Klaviyo returned
    it, the import row's payload, the profile after, a subscribe and two list additions."""
    address = {"address1": f"{n % 999 + 1} Main Street", "city": "Chicago", "region": "IL",
               "zip": "60606", "country": "US"}
    sent = {"email": f"ann.rossi.{n}@example.com", "phone_number": f"+1312200{n % 10_000:04d}",
            "external_id": str(100_000 + n), "first_name": "Ann", "last_name": "Rossi",
            "organization": "Acme", "location": address,
            "properties": {"My Custom": "Example value"}}
    before = {**sent, "first_name": "Old", "locale": None, "title": None, "image": None,
              "created": "2026-12-07T19:20:14+00:00", "updated": "2026-12-07T19:20:15+00:00",
              "last_event_date": None,
              "location": {**address, "address2": None, "latitude": None, "longitude": None,
                           "timezone": None, "ip": None}}
    return HistoryEntry(
        id=entry_id, customer_id=str(100_000 + n), at="2026-12-07T19:20:16+00:00",
        route=Route.UPDATE, ok=True, profile_id=f"01M98Z64VYTEC85XNRANX{n:05d}", before=before,
        sent={"data": {"type": "profile", "id": f"01M98Z64VYTEC85XNRANX{n:05d}",
                       "attributes": sent}},
        after=dict(sent),
        consent=({"channel": "email", "action": "subscribe", "list": "Preview List",
                  "double_opt_in": False, "pending_since": None},),
        lists=({"list": "Sms Subscribers", "action": "add"},
               {"list": "Preview List", "action": "add"}),
        trigger="bulk",
    )


def bulk_resync_history(root: Path, customers: int = 4096, rounds: int = 5) -> float:
    """CPU µs per entry of add_many(STORE_GROUP) of re-sync entries, durable; median of rounds."""
    shares = []
    for round_ in range(rounds):
        history = History(root / f"resync-{round_}", secrets=("pk_bench_0123456789abcdef",))
        entries = [resync_entry(history.new_id(), n) for n in range(customers)]
        start = time.process_time()
        for at in range(0, customers, STORE_GROUP):
            history.add_many(entries[at:at + STORE_GROUP])
        shares.append((time.process_time() - start) * 1e6 / customers)
        history.close()
    return statistics.median(shares)


def measure_plain_tinydb(size: int, ops: int, root: Path) -> dict[str, float]:
    """Plain TinyDB, default JSONStorage: every operation re-reads (and a write rewrites) it all."""
    path = root / f"plain-{size}.json"
    rng = random.Random(size)
    customers = customers_for("many", size)
    docs = {str(n + 1): error_record(f"E-{n}", c, rng, last=True).to_json()
            for n, c in enumerate(customers)}
    path.write_text(json.dumps({"_default": docs}))
    db = TinyDB(str(path))
    table = db.table("_default")
    operations: dict[str, Callable[[int], object]] = {
        "insert": lambda i: table.insert(error_record(f"X-{i}", "1", rng, last=True).to_json()),
        "get by doc_id": lambda i: table.get(doc_id=rng.randrange(1, size)),
        "search by id field": lambda i: table.get(Query().id == f"E-{rng.randrange(size)}"),
    }
    figures = {name: statistics.median(per_op(op, ops)) for name, op in operations.items()}
    db.close()
    return figures


def print_table(title: str, results: dict[int, dict[str, float]]) -> None:
    sizes = sorted(results)
    small, large = sizes[0], sizes[-1]
    print(f"\n{title}")
    header = "".join(f"{f'{s:,} rec':>14}" for s in sizes)
    print(f"{'operation (ms/op, median)':48}{header}{'ratio':>9}")
    for name in results[small]:
        cells = "".join(f"{results[s][name]:14.3f}" for s in sizes)
        base = results[small][name]
        ratio = results[large][name] / base if base else float("nan")
        flag = "" if name.startswith("open the store") or ratio <= 2 else "  > 2x"
        print(f"{name:48}{cells}{ratio:8.2f}x{flag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--shapes", default="many,busy")
    parser.add_argument("--ops", type=int, default=128)
    parser.add_argument("--plain-sizes", default="1000,20000")
    parser.add_argument("--plain-ops", type=int, default=10)
    parser.add_argument("--bulk-only", action="store_true",
                        help="only the per bulk customer figures")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
        root = Path(tmp)
        for shape in args.shapes.split(",") if not args.bulk_only else ():
            customers = len(set(customers_for(shape, sizes[-1])))
            print_table(f"core.store, shape {shape!r} ({customers:,} customers at "
                        f"{sizes[-1]:,} records; durable writes)",
                        measure(shape, sizes, args.ops, root))
        bulk = bulk_ids_and_history(root)
        print(f"\nper bulk customer, CPU µs: History.new_id {bulk['new_id']:.1f}, "
              f"its share of add_many({GROUP}) {bulk['add_many share']:.1f}, "
              f"together {bulk['both']:.1f}")
        print(f"per bulk re-sync entry (a linked customer's, {STORE_GROUP} a group), CPU µs: "
              f"add_many {bulk_resync_history(root):.1f}")
        if args.bulk_only:
            return
        if args.plain_sizes:
            plain = {
                int(s): measure_plain_tinydb(int(s), args.plain_ops, root)
                for s in args.plain_sizes.split(",")
            }
            print_table("plain TinyDB, default JSONStorage", plain)


if __name__ == "__main__":
    main()
