"""The error log: records by id, by customer, newest first with filters and pages."""

from __future__ import annotations

import dataclasses
import random
import sqlite3
import threading
from pathlib import Path

import pytest

from core.model import ErrorKind, ErrorStatus
from core.store import ErrorLog, StoreError, database

from .conftest import error, tries


def test_add_then_get_returns_the_same_record(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path)
    record = error(log.new_id(), code="service_unavailable", http_status=503, detail="down")
    log.add(record)
    assert log.get(record.id) == record
    assert ErrorLog(tmp_path).get(record.id) == record


def test_unknown_and_malformed_ids_are_none(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path)
    log.add(error(log.new_id()))
    for bad in ("E-000000-0001", "E-000009-0000", "nonsense", "", "H-000000-0000", "E-1-2"):
        assert log.get(bad) is None


def test_an_id_not_made_by_new_id_is_refused(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path)
    with pytest.raises(ValueError, match="new_id"):
        log.add(error("err-1"))


def test_adding_the_same_id_twice_is_refused(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path)
    record = error(log.new_id())
    log.add(record)
    with pytest.raises(ValueError, match="already exists"):
        log.add(record)
    assert log.count() == 1


def test_update_marks_resolved_and_keeps_the_record(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path)
    record = error(log.new_id())
    log.add(record)
    done = dataclasses.replace(record, status=ErrorStatus.RESOLVED, attempts=tries(2))
    log.update(done)
    assert log.get(record.id) == done
    assert log.open_for_customer("55260") is None
    assert log.query() == [done]
    assert log.count(status=ErrorStatus.RESOLVED) == 1
    assert log.count(status=ErrorStatus.OPEN) == 0


def test_update_of_a_missing_record_or_another_customer_is_refused(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        log.update(error(log.new_id()))
    record = error(log.new_id())
    log.add(record)
    with pytest.raises(ValueError, match="customer cannot change"):
        log.update(dataclasses.replace(record, customer_id="other"))


def test_open_for_customer_is_the_newest_open_one(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path)
    first, second, other = (error(log.new_id(), c) for c in ("7", "7", "8"))
    for record in (first, second, other):
        log.add(record)
    assert log.open_for_customer("7") == second
    log.update(dataclasses.replace(second, status=ErrorStatus.RESOLVED))
    assert log.open_for_customer("7") == first
    log.update(dataclasses.replace(first, status=ErrorStatus.RESOLVED))
    assert log.open_for_customer("7") is None
    assert log.open_for_customer("8") == other
    assert log.open_for_customer("unknown") is None
    # Reopening a resolved record makes it the open one again.
    log.update(first)
    assert log.open_for_customer("7") == first


def _model_query(records: list, status=None, kind=None, customer=None):  # type: ignore[no-untyped-def]
    return [
        r for r in reversed(records)
        if (status is None or r.status == status) and (kind is None or r.kind == kind)
        and (customer is None or r.customer_id == customer)
    ]


def test_query_pages_and_filters_match_a_plain_list(tmp_path: Path) -> None:
    rng = random.Random(5)
    log = ErrorLog(tmp_path, durable=False)
    kinds = [ErrorKind.AUTH, ErrorKind.CONFLICT, ErrorKind.API_UNAVAILABLE]
    records = []
    for _ in range(60):
        record = error(log.new_id(), str(rng.randrange(6)), rng.choice(kinds))
        log.add(record)
        records.append(record)
    for index in rng.sample(range(60), 20):
        records[index] = dataclasses.replace(records[index], status=ErrorStatus.RESOLVED)
        log.update(records[index])
    for status in (None, ErrorStatus.OPEN, ErrorStatus.RESOLVED):
        for kind in (None, *kinds):
            for customer in (None, "3"):
                want = _model_query(records, status, kind, customer)
                assert log.query(status=status, kind=kind, customer_id=customer) == want
                last = max(0, len(want) - 1)
                for offset, limit in ((0, 5), (3, 4), (last, 10), (len(want), 3), (6, 0)):
                    got = log.query(status=status, kind=kind, customer_id=customer,
                                    offset=offset, limit=limit)
                    assert got == want[offset:offset + limit]
            want_count = len(_model_query(records, status, kind))
            assert log.count(status=status, kind=kind) == want_count
    assert log.verify() == []


def _plan(tmp_path: Path, sql: str, *params: object) -> str:
    with sqlite3.connect(tmp_path / "store.sqlite3") as connection:
        rows = connection.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    return " | ".join(str(row[-1]) for row in rows)


def test_lookups_pages_and_counts_walk_an_index_not_the_table(tmp_path: Path) -> None:
    """What keeps their cost flat as the log grows: no scan of the table, no sort of it."""
    log = ErrorLog(tmp_path, durable=False)
    log.add_many([error(log.new_id(), str(n % 50), ErrorKind.AUTH) for n in range(200)])
    lookups = {
        "get": ("SELECT record FROM errors WHERE id = ?", "E-000000-0001"),
        "open_for_customer": ("SELECT record FROM errors WHERE customer_id = ? AND status = ? "
                              "ORDER BY seq DESC LIMIT 1", "7", "open"),
        "by customer": ("SELECT record FROM errors WHERE customer_id = ? "
                        "ORDER BY seq DESC LIMIT 50", "7"),
        "by status": ("SELECT record FROM errors WHERE status = ? "
                      "ORDER BY seq DESC LIMIT 50", "open"),
        "by kind": ("SELECT record FROM errors WHERE kind = ? ORDER BY seq DESC LIMIT 50", "auth"),
        "by both": ("SELECT record FROM errors WHERE status = ? AND kind = ? "
                    "ORDER BY seq DESC LIMIT 50", "open", "auth"),
        "count": ("SELECT coalesce(sum(n), 0) FROM error_counts WHERE status = ?", "open"),
        "history by customer": ("SELECT entry FROM history WHERE customer_id = ? "
                                "ORDER BY seq DESC LIMIT 50", "7"),
    }
    for name, (sql, *params) in lookups.items():
        plan = _plan(tmp_path, sql, *params)
        assert "SCAN errors" not in plan and "SCAN history" not in plan, (name, plan)
        assert "TEMP B-TREE" not in plan, (name, plan)


def test_two_instances_on_one_directory_see_each_others_writes(tmp_path: Path) -> None:
    a, b = ErrorLog(tmp_path), ErrorLog(tmp_path)
    record = error(a.new_id())
    a.add(record)
    assert b.get(record.id) == record
    assert b.open_for_customer("55260") == record
    b.update(dataclasses.replace(record, attempts=tries(3)))
    assert a.get(record.id).attempts == tries(3)  # type: ignore[union-attr]
    other = error(b.new_id(), "9")
    b.add(other)
    assert [r.id for r in a.query()] == [other.id, record.id]
    assert a.verify() == []


def test_threads_get_unique_ids_and_lose_nothing(tmp_path: Path) -> None:
    shared = ErrorLog(tmp_path, durable=False)
    added: list[str] = []

    def work(n: int) -> None:
        log = shared if n % 2 else ErrorLog(tmp_path, durable=False)
        for i in range(25):
            record = error(log.new_id(), f"{n}-{i % 3}")
            log.add(record)
            added.append(record.id)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(added)) == 100
    assert shared.count() == 100
    assert {r.id for r in shared.query()} == set(added)
    assert shared.verify() == []


def test_ids_keep_growing_across_restarts(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path)
    seen = {log.new_id() for _ in range(5)}
    log.close()
    log = ErrorLog(tmp_path)
    later = [log.new_id() for _ in range(5)]
    assert not seen & set(later)
    assert later == sorted(later)


def test_a_lost_counter_does_not_reuse_stored_ids(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path)
    stored = []
    for _ in range(5):
        record = error(log.new_id())
        log.add(record)
        stored.append(record.id)
    log.close()
    with sqlite3.connect(tmp_path / "store.sqlite3") as connection:
        connection.execute("DELETE FROM id_blocks")
    log = ErrorLog(tmp_path)
    assert log.new_id() not in stored
    assert log.verify() == []


def test_a_record_read_is_the_callers_own_copy(tmp_path: Path) -> None:
    """A cache handing out one shared object would let one caller's change reach the next."""
    log = ErrorLog(tmp_path)
    record = error(log.new_id())
    log.add(record)
    reads = {
        "get": lambda: log.get(record.id),
        "open_for_customer": lambda: log.open_for_customer("55260"),
        "query": lambda: log.query()[0],
        "query by customer": lambda: log.query(customer_id="55260")[0],
    }
    for name, read in reads.items():
        got = read()
        assert got == record, name
        assert got is not read(), name
        # Frozen, but a caller can still force it (or a later model make a field mutable).
        object.__setattr__(got, "message", "changed by the caller")
        object.__setattr__(got, "attempts", 99)
        assert read() == record, name


def test_a_write_held_up_too_long_by_another_writer_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "BUSY_TIMEOUT_S", 0.2)
    log = ErrorLog(tmp_path)
    record = error(log.new_id())
    other = sqlite3.connect(tmp_path / "store.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process in the middle of a long write
    with pytest.raises(StoreError, match=r"store\.sqlite3 stayed locked by another"):
        log.add(record)
    assert log.get(record.id) is None  # reads go on beside the writer (WAL)
    other.execute("ROLLBACK")
    log.add(record)
    assert log.get(record.id) == record
