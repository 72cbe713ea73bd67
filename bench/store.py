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

CUSTOMERS = 20_000
KINDS = list(ErrorKind)


def error_json(record_id: str, rng: random.Random) -> dict[str, object]:
    return ErrorRecord(
        id=record_id, customer_id=str(50_000 + rng.randrange(CUSTOMERS)),
        kind=rng.choice(KINDS), stage=Stage.WRITE,
        message="Klaviyo answered 503 Service Unavailable; the profile was not written",
        retry_action="re-plan from fresh data and push again",
        created_at="2025-05-01T10:00:00+00:00", updated_at="2025-05-01T10:00:00+00:00",
        status=ErrorStatus.RESOLVED if rng.random() < 0.7 else ErrorStatus.OPEN,
        code="service_unavailable", detail="upstream connect error or disconnect/reset",
        http_status=503,
    ).to_json()


def history_json(entry_id: str, rng: random.Random) -> dict[str, object]:
    profile = {
        "email": f"c{rng.randrange(10**6)}@example.com", "first_name": "Ann", "last_name": "Lee",
        "phone_number": "+15555550100",
        "location": {"address1": "1 Main St", "city": "Springfield", "region": "IL",
                     "zip": "62701", "country": "US"},
        "properties": {"customer_number": "C-1001", "tier": "gold"},
    }
    return HistoryEntry(
        id=entry_id, customer_id=str(50_000 + rng.randrange(CUSTOMERS)),
        at="2025-05-01T10:00:00+00:00", route=Route.UPDATE, ok=True, profile_id="01JPROFILE",
        before=profile, sent={"data": {"type": "profile", "attributes": profile}}, after=profile,
        consent=({"channel": "email", "action": "subscribe", "list": None},),
    ).to_json()


def fill(folder: Path, prefix: str, capacity: int, count: int,
         make: Callable[[str, random.Random], dict[str, object]]) -> list[str]:
    """Write `count` records as full segments, as add() would have left them."""
    rng = random.Random(count)
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    for segment in range((count + capacity - 1) // capacity):
        docs = {}
        for slot in range(min(capacity, count - segment * capacity)):
            record_id = f"{prefix}-{segment:06d}-{slot:04d}"
            docs[str(slot + 1)] = make(record_id, rng)
            ids.append(record_id)
        (folder / f"seg-{segment:06d}.json").write_text(json.dumps({"records": docs}))
    return ids


def per_op(action: Callable[[int], object], ops: int) -> float:
    """Median milliseconds of `action(i)` over `ops` calls."""
    times = []
    for i in range(ops):
        start = time.perf_counter()
        action(i)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure_store(size: int, ops: int, root: Path) -> dict[str, float]:
    state = root / f"store-{size}"
    ids = fill(state / "errors", "E", ERROR_SEGMENT, size, error_json)
    hids = fill(state / "history", "H", HISTORY_SEGMENT, size, history_json)
    t0 = time.perf_counter()
    log = ErrorLog(state)  # rebuilds summary and index from the segments
    history = History(state)
    rebuild_s = time.perf_counter() - t0
    assert log.count() == size and history.count() == size
    rng = random.Random(7)
    customers = [str(50_000 + rng.randrange(CUSTOMERS)) for _ in range(ops)]
    random_ids = [rng.choice(ids) for _ in range(ops)]
    figures: dict[str, float] = {"rebuild at open (s)": rebuild_s}

    def add(i: int) -> None:
        log.add(ErrorRecord.from_json({**error_json(log.new_id(), rng), "status": "open"}))

    figures["error add (new_id + add)"] = per_op(add, ops)
    recent = log.query(limit=1)[0]
    figures["error get, recent id"] = per_op(lambda i: log.get(recent.id), ops)

    def cold_get(i: int) -> None:
        log._table._drop_caches()  # as a fresh process would find it
        log.get(random_ids[i])

    figures["error get, random id, cold"] = per_op(cold_get, ops)
    figures["error get, random id, warm cache"] = per_op(lambda i: log.get(random_ids[i]), ops)
    figures["open_for_customer, random"] = per_op(
        lambda i: log.open_for_customer(customers[i]), ops)

    def resolve(i: int) -> None:
        record = log.get(random_ids[i])
        assert record is not None
        log.update(ErrorRecord.from_json({**record.to_json(), "attempts": record.attempts + 1}))

    figures["error update, random id"] = per_op(resolve, ops)
    figures["query first page (50)"] = per_op(lambda i: log.query(limit=50), ops)
    deep = log.count(status=ErrorStatus.OPEN) // 2
    figures["query open, middle page (50)"] = per_op(
        lambda i: log.query(status=ErrorStatus.OPEN, offset=deep, limit=50), ops)
    figures["count(status=open)"] = per_op(lambda i: log.count(status=ErrorStatus.OPEN), ops)

    def hadd(i: int) -> None:
        history.add(HistoryEntry.from_json(history_json(history.new_id(), rng)))

    figures["history add"] = per_op(hadd, ops)
    figures["history for_customer"] = per_op(lambda i: history.for_customer(customers[i]), ops)
    figures["history get, random id, cold"] = per_op(
        lambda i: (history._table._drop_caches(), history.get(rng.choice(hids))), ops)
    log.close()
    history.close()
    return figures


def measure_plain_tinydb(size: int, ops: int, root: Path) -> dict[str, float]:
    path = root / f"plain-{size}.json"
    rng = random.Random(size)
    docs = {str(n + 1): error_json(f"E-{n}", rng) for n in range(size)}
    path.write_text(json.dumps({"_default": docs}))
    db = TinyDB(str(path))
    table = db.table("_default")
    figures = {
        "insert": per_op(lambda i: table.insert(error_json(f"X-{i}", rng)), ops),
        "get by doc_id": per_op(lambda i: table.get(doc_id=rng.randrange(1, size)), ops),
        "search by id field": per_op(
            lambda i: table.get(Query().id == f"E-{rng.randrange(size)}"), ops),
    }
    db.close()
    return figures


def table(title: str, results: dict[int, dict[str, float]]) -> None:
    sizes = sorted(results)
    small, large = sizes[0], sizes[-1]
    print(f"\n{title}")
    header = "".join(f"{f'{s:,} rec':>14}" for s in sizes)
    print(f"{'operation (ms/op, median)':36}{header}{'ratio':>9}")
    for name in results[small]:
        cells = "".join(f"{results[s][name]:14.3f}" for s in sizes)
        base = results[small][name]
        ratio = results[large][name] / base if base else float("nan")
        print(f"{name:36}{cells}{ratio:8.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--plain-sizes", default="1000,20000")
    parser.add_argument("--ops", type=int, default=256)
    parser.add_argument("--plain-ops", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
        root = Path(tmp)
        ours = {int(s): measure_store(int(s), args.ops, root) for s in args.sizes.split(",")}
        table("core.store (segmented TinyDB, atomic writes with fsync)", ours)
        plain = {
            int(s): measure_plain_tinydb(int(s), args.plain_ops, root)
            for s in args.plain_sizes.split(",")
        }
        table("plain TinyDB, default JSONStorage", plain)


if __name__ == "__main__":
    main()
