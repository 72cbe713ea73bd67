"""Store scale (issue 7 figure 5): cost of one write and one lookup at 1,000 and 100,000 records.

Run: .venv/bin/python bench/store.py [--sizes 1000,100000] [--ops 128]

Two shapes of data, because the cost of a per-customer index depends on both how many
customers there are and how many records each one has:
  many  every record a different customer (a batch where everything failed: ~100k customers)
  busy  five customers share every record (the history of a customer pushed again and again)
Each lookup is measured twice:
  warm  one long-lived store, random keys (what a console session sees; at 1,000 records the
        whole store fits the store's caches, at 100,000 it does not)
  cold  caches dropped first (what any operation sees after another process wrote)
Prints milliseconds per operation (median) per size and the ratio largest/smallest (target
at most 2x). Writes are durable (fsync), as in the product. Large stores are filled by writing
segment files directly and letting the store build its index from them, as it does on open.
Last, plain TinyDB with its default JSON storage, for comparison.
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
from core.store.errors import ERROR_SEGMENT
from core.store.history import HISTORY_SEGMENT
from core.store.segments import TABLE, _dumps_tables

BUSY_CUSTOMERS = 5
GROUP = 32  # history entries per add_many: a batch's customers in flight
KINDS = list(ErrorKind)
JSONDict = dict[str, object]


def customers_for(shape: str, size: int) -> list[str]:
    """The customer of each of `size` records, oldest first."""
    if shape == "many":
        return [str(100_000 + n) for n in range(size)]
    rng = random.Random(size)
    return [str(50_000 + rng.randrange(BUSY_CUSTOMERS)) for _ in range(size)]


def error_json(record_id: str, customer: str, rng: random.Random, *, last: bool) -> JSONDict:
    # The engine keeps at most one open record per customer (it upserts), and it is the newest.
    status = ErrorStatus.OPEN if last and rng.random() < 0.3 else ErrorStatus.RESOLVED
    return ErrorRecord(
        id=record_id, customer_id=customer, kind=rng.choice(KINDS), stage=Stage.WRITE,
        message="Klaviyo answered 503 Service Unavailable; the profile was not written",
        retry_action="re-plan from fresh data and push again",
        created_at="2025-05-01T10:00:00+00:00", updated_at="2025-05-01T10:00:00+00:00",
        status=status, code="service_unavailable",
        detail="upstream connect error or disconnect/reset", http_status=503,
    ).to_json()


def history_json(entry_id: str, customer: str, rng: random.Random, *, last: bool) -> JSONDict:
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
    ).to_json()


Make = Callable[..., JSONDict]


def fill(folder: Path, prefix: str, capacity: int, customers: list[str], make: Make) -> list[str]:
    """Write one record per entry of `customers` as full segments, as add() would leave them."""
    rng = random.Random(len(customers))
    last = {customer: n for n, customer in enumerate(customers)}
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    for segment in range((len(customers) + capacity - 1) // capacity):
        docs = {}
        for slot in range(min(capacity, len(customers) - segment * capacity)):
            n = segment * capacity + slot
            record_id = f"{prefix}-{segment:06d}-{slot:04d}"
            docs[str(slot + 1)] = make(record_id, customers[n], rng, last=last[customers[n]] == n)
            ids.append(record_id)
        (folder / f"seg-{segment:06d}.json").write_bytes(_dumps_tables({TABLE: docs}))
    return ids


def per_op(action: Callable[[int], object], ops: int) -> list[float]:
    """Milliseconds of each `action(i)` call."""
    times = []
    for i in range(ops):
        start = time.perf_counter()
        action(i)
        times.append((time.perf_counter() - start) * 1000)
    return times


def cold(store: ErrorLog | History) -> None:
    """Drop the in-memory caches, as a write by another process makes every instance do."""
    store._table._drop_caches()


class Bench:
    """One store of `size` records in one shape and the operations measured on it."""

    def __init__(self, shape: str, size: int, root: Path) -> None:
        state = root / f"{shape}-{size}"
        self.customers = customers_for(shape, size)
        self.ids = fill(state / "errors", "E", ERROR_SEGMENT, self.customers, error_json)
        self.hids = fill(state / "history", "H", HISTORY_SEGMENT, self.customers, history_json)
        t0 = time.perf_counter()
        self.log = ErrorLog(state)  # builds summary and index from the segments
        self.history = History(state)
        self.open_s = time.perf_counter() - t0
        assert self.log.count() == size and self.history.count() == size
        self.rng = random.Random(7)
        self.shape = shape
        self.fresh = 0

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
            raw = error_json(log.new_id(), self.new_customer(), rng, last=True)
            log.add(ErrorRecord.from_json({**raw, "status": "open"}))

        def update(i: int) -> None:
            record = log.get(rng.choice(self.ids))
            assert record is not None
            log.update(dataclasses.replace(record, attempts=record.attempts + 1))

        def get(i: int) -> None:
            assert log.get(rng.choice(self.ids)) is not None

        def open_for(i: int) -> None:
            log.open_for_customer(self.customer())

        def for_customer(i: int) -> None:
            assert history.for_customer(self.customer(), limit=50)

        def history_add(i: int) -> None:
            history.add(HistoryEntry.from_json(
                history_json(history.new_id(), self.new_customer(), rng, last=True)))

        def history_add_many(i: int) -> float:
            entries = [HistoryEntry.from_json(
                history_json(history.new_id(), self.new_customer(), rng, last=True))
                for _ in range(GROUP)]
            start = time.perf_counter()
            history.add_many(entries)
            return (time.perf_counter() - start) * 1000 / GROUP

        return {
            "error add (new_id + add)": add,
            "error get by id, warm": get,
            "error get by id, cold": lambda i: (cold(log), get(i)),
            "open_for_customer, warm": open_for,
            "open_for_customer, cold": lambda i: (cold(log), open_for(i)),
            "error update (get + replace)": update,
            "query first page (50), warm": lambda i: log.query(limit=50),
            "query first page (50), cold": lambda i: (cold(log), log.query(limit=50)),
            "count(status=open)": lambda i: log.count(status=ErrorStatus.OPEN),
            "history add (one fsync each)": history_add,
            f"history add_many({GROUP}), per entry": history_add_many,
            "history for_customer(50), warm": for_customer,
            "history for_customer(50), cold": lambda i: (cold(history), for_customer(i)),
            "history recent(50), cold": lambda i: (cold(history), history.recent(50)),
        }


def measure(shape: str, sizes: list[int], ops: int, root: Path) -> dict[int, dict[str, float]]:
    """Median ms per operation; sizes take turns in small rounds so machine load hits all alike."""
    benches = {size: Bench(shape, size, root) for size in sizes}
    plans = {size: bench.operations() for size, bench in benches.items()}
    samples: dict[int, dict[str, list[float]]] = {size: {} for size in sizes}
    rounds = 8
    for name in plans[sizes[0]]:
        for _ in range(rounds):
            for size in sizes:
                action = plans[size][name]
                if name.startswith("history add_many"):
                    times = [float(action(i)) for i in range(max(1, ops // rounds // 8))]  # type: ignore[arg-type]
                else:
                    times = per_op(action, max(1, ops // rounds))
                samples[size].setdefault(name, []).extend(times)
    results = {
        size: {name: statistics.median(times) for name, times in samples[size].items()}
        for size in sizes
    }
    for size, bench in benches.items():
        results[size]["open a store of segments only: build index (s)"] = bench.open_s
        bench.log.close()
        bench.history.close()
    return results


def measure_plain_tinydb(size: int, ops: int, root: Path) -> dict[str, float]:
    """Plain TinyDB, default JSONStorage: every operation re-reads (and a write rewrites) it all."""
    path = root / f"plain-{size}.json"
    rng = random.Random(size)
    customers = customers_for("many", size)
    docs = {str(n + 1): error_json(f"E-{n}", c, rng, last=True) for n, c in enumerate(customers)}
    path.write_text(json.dumps({"_default": docs}))
    db = TinyDB(str(path))
    table = db.table("_default")
    operations: dict[str, Callable[[int], object]] = {
        "insert": lambda i: table.insert(error_json(f"X-{i}", "1", rng, last=True)),
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
        flag = "" if name.startswith("open a store") or ratio <= 2 else "  > 2x"
        print(f"{name:48}{cells}{ratio:8.2f}x{flag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--shapes", default="many,busy")
    parser.add_argument("--ops", type=int, default=128)
    parser.add_argument("--plain-sizes", default="1000,20000")
    parser.add_argument("--plain-ops", type=int, default=10)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
        root = Path(tmp)
        for shape in args.shapes.split(","):
            customers = len(set(customers_for(shape, sizes[-1])))
            print_table(f"core.store, shape {shape!r} ({customers:,} customers at "
                        f"{sizes[-1]:,} records; durable writes)",
                        measure(shape, sizes, args.ops, root))
        if args.plain_sizes:
            plain = {
                int(s): measure_plain_tinydb(int(s), args.plain_ops, root)
                for s in args.plain_sizes.split(",")
            }
            print_table("plain TinyDB, default JSONStorage", plain)


if __name__ == "__main__":
    main()
