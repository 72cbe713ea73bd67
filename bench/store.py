"""Store scale: cost of one error-log write and lookups at 1,000 and 100,000 records.

Run: .venv/bin/python bench/store.py [--sizes 1000,100000] [--ops 256]
Prints milliseconds per operation (median over --ops operations) and the ratio of the
largest size to the smallest (target: at most 2x), then the same write and lookup for plain
TinyDB with its default JSON storage at 1,000 and 20,000 records for comparison.
Large stores are filled by writing segment files directly and letting the store rebuild its
index (the same files add() would have produced), so the fill takes seconds, not hours.
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

# Five records per customer at every size, so per-customer lookups compare like with like.
PER_CUSTOMER = 5
KINDS = list(ErrorKind)


def customer_of(rng: random.Random, size: int) -> str:
    return str(50_000 + rng.randrange(max(1, size // PER_CUSTOMER)))


def error_json(record_id: str, rng: random.Random, size: int) -> dict[str, object]:
    return ErrorRecord(
        id=record_id, customer_id=customer_of(rng, size),
        kind=rng.choice(KINDS), stage=Stage.WRITE,
        message="Klaviyo answered 503 Service Unavailable; the profile was not written",
        retry_action="re-plan from fresh data and push again",
        created_at="2025-05-01T10:00:00+00:00", updated_at="2025-05-01T10:00:00+00:00",
        status=ErrorStatus.RESOLVED if rng.random() < 0.7 else ErrorStatus.OPEN,
        code="service_unavailable", detail="upstream connect error or disconnect/reset",
        http_status=503,
    ).to_json()


def history_json(entry_id: str, rng: random.Random, size: int) -> dict[str, object]:
    profile = {
        "email": f"c{rng.randrange(10**6)}@example.com", "first_name": "Ann", "last_name": "Lee",
        "phone_number": "+15555550100",
        "location": {"address1": "1 Main St", "city": "Springfield", "region": "IL",
                     "zip": "62701", "country": "US"},
        "properties": {"customer_number": "C-1001", "tier": "gold"},
    }
    return HistoryEntry(
        id=entry_id, customer_id=customer_of(rng, size),
        at="2025-05-01T10:00:00+00:00", route=Route.UPDATE, ok=True, profile_id="01JPROFILE",
        before=profile, sent={"data": {"type": "profile", "attributes": profile}}, after=profile,
        consent=({"channel": "email", "action": "subscribe", "list": None},),
    ).to_json()


def fill(folder: Path, prefix: str, capacity: int, count: int,
         make: Callable[[str, random.Random, int], dict[str, object]]) -> list[str]:
    """Write `count` records as full segments, as add() would have left them."""
    rng = random.Random(count)
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    for segment in range((count + capacity - 1) // capacity):
        docs = {}
        for slot in range(min(capacity, count - segment * capacity)):
            record_id = f"{prefix}-{segment:06d}-{slot:04d}"
            docs[str(slot + 1)] = make(record_id, rng, count)
            ids.append(record_id)
        (folder / f"seg-{segment:06d}.json").write_text(json.dumps({"records": docs}))
    return ids


def per_op(action: Callable[[int], object], ops: int) -> list[float]:
    """Milliseconds of each `action(i)` call."""
    times = []
    for i in range(ops):
        start = time.perf_counter()
        action(i)
        times.append((time.perf_counter() - start) * 1000)
    return times


class Bench:
    """One store of `size` records and the operations measured on it."""

    def __init__(self, size: int, ops: int, root: Path) -> None:
        state = root / f"store-{size}"
        self.ids = fill(state / "errors", "E", ERROR_SEGMENT, size, error_json)
        self.hids = fill(state / "history", "H", HISTORY_SEGMENT, size, history_json)
        t0 = time.perf_counter()
        self.log = ErrorLog(state)  # builds summary and index from the segments
        self.history = History(state)
        self.rebuild_s = time.perf_counter() - t0
        assert self.log.count() == size and self.history.count() == size
        self.rng = random.Random(7)
        self.size = size

    def operations(self) -> dict[str, Callable[[int], object]]:
        log, history, rng = self.log, self.history, self.rng

        def cold(table: object) -> None:
            table._table._drop_caches()  # type: ignore[attr-defined]  # as a new process finds it

        def add(i: int) -> None:
            raw = error_json(log.new_id(), rng, self.size)
            log.add(ErrorRecord.from_json({**raw, "status": "open"}))

        def update(i: int) -> None:
            record = log.get(rng.choice(self.ids))
            assert record is not None
            log.update(dataclasses.replace(record, attempts=record.attempts + 1))

        def customer() -> str:
            return customer_of(rng, self.size)

        newest = self.ids[-1]
        return {
            "error add (new_id + add)": add,
            "error get, cold": lambda i: (cold(log), log.get(rng.choice(self.ids))),
            "error get, newest segment": lambda i: log.get(newest),
            "error get, random, natural cache": lambda i: log.get(rng.choice(self.ids)),
            "open_for_customer, cold": lambda i: (cold(log), log.open_for_customer(customer())),
            "open_for_customer, natural cache": lambda i: log.open_for_customer(customer()),
            "error update (get + replace), random": update,
            "query first page (50)": lambda i: log.query(limit=50),
            "query open, middle page (50)": lambda i: log.query(
                status=ErrorStatus.OPEN, offset=log.count(status=ErrorStatus.OPEN) // 2, limit=50),
            "count(status=open)": lambda i: log.count(status=ErrorStatus.OPEN),
            "history add": lambda i: history.add(
                HistoryEntry.from_json(history_json(history.new_id(), rng, self.size))),
            "history get, cold": lambda i: (cold(history), history.get(rng.choice(self.hids))),
            "history for_customer, cold": lambda i: (
                cold(history), history.for_customer(customer())),
            "history recent(50)": lambda i: history.recent(50),
        }


def measure_stores(sizes: list[int], ops: int, root: Path) -> dict[int, dict[str, float]]:
    """Median ms per operation; sizes take turns in small rounds so machine load hits all alike."""
    benches = {size: Bench(size, ops, root) for size in sizes}
    plans = {size: bench.operations() for size, bench in benches.items()}
    samples: dict[int, dict[str, list[float]]] = {size: {} for size in sizes}
    rounds = 8
    for name in plans[sizes[0]]:
        for _ in range(rounds):
            for size in sizes:
                times = per_op(plans[size][name], max(1, ops // rounds))
                samples[size].setdefault(name, []).extend(times)
    results = {
        size: {name: statistics.median(times) for name, times in samples[size].items()}
        for size in sizes
    }
    for size, bench in benches.items():
        results[size]["open: build index from segments (s)"] = bench.rebuild_s
        bench.log.close()
        bench.history.close()
    return results


def measure_plain_tinydb(size: int, ops: int, root: Path) -> dict[str, float]:
    """Plain TinyDB, default JSONStorage: every operation re-reads (and a write rewrites) it all."""
    path = root / f"plain-{size}.json"
    rng = random.Random(size)
    docs = {str(n + 1): error_json(f"E-{n}", rng, size) for n in range(size)}
    path.write_text(json.dumps({"_default": docs}))
    db = TinyDB(str(path))
    table = db.table("_default")
    operations: dict[str, Callable[[int], object]] = {
        "insert": lambda i: table.insert(error_json(f"X-{i}", rng, size)),
        "get by doc_id": lambda i: table.get(doc_id=rng.randrange(1, size)),
        "search by id field": lambda i: table.get(Query().id == f"E-{rng.randrange(size)}"),
    }
    figures = {name: statistics.median(per_op(op, ops)) for name, op in operations.items()}
    db.close()
    return figures


def table(title: str, results: dict[int, dict[str, float]]) -> None:
    sizes = sorted(results)
    small, large = sizes[0], sizes[-1]
    print(f"\n{title}")
    header = "".join(f"{f'{s:,} rec':>14}" for s in sizes)
    print(f"{'operation (ms/op, median)':40}{header}{'ratio':>9}")
    for name in results[small]:
        cells = "".join(f"{results[s][name]:14.3f}" for s in sizes)
        base = results[small][name]
        ratio = results[large][name] / base if base else float("nan")
        print(f"{name:40}{cells}{ratio:8.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--plain-sizes", default="1000,20000")
    parser.add_argument("--ops", type=int, default=256)
    parser.add_argument("--plain-ops", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
        root = Path(tmp)
        ours = measure_stores([int(s) for s in args.sizes.split(",")], args.ops, root)
        table("core.store (segmented TinyDB, atomic writes with fsync)", ours)
        plain = {
            int(s): measure_plain_tinydb(int(s), args.plain_ops, root)
            for s in args.plain_sizes.split(",")
        }
        table("plain TinyDB, default JSONStorage", plain)


if __name__ == "__main__":
    main()
