"""add_many (one flush per segment touched) and busy customers whose older ids live on pages."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from core.model import ErrorStatus
from core.store import ErrorLog, History
from core.store import segments as segments_module

from .conftest import entry, error

FORK = multiprocessing.get_context("fork")
KEY = "pk_live_0123456789abcdef"


def _count_flushed_segment_writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    writes: list[str] = []
    real = segments_module._write_file

    def counting(path: Path, data: bytes, *, durable: bool) -> None:
        if durable and path.name.startswith("seg-"):
            writes.append(path.name)
        real(path, data, durable=durable)

    monkeypatch.setattr(segments_module, "_write_file", counting)
    return writes


def test_add_many_flushes_each_segment_once_and_stores_every_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = History(tmp_path, segment_size=8)
    entries = [entry(history.new_id(), str(n % 3)) for n in range(12)]  # segments 0 and 1
    writes = _count_flushed_segment_writes(monkeypatch)
    history.add_many(entries)
    assert sorted(writes) == ["seg-000000.json", "seg-000001.json"]
    assert history.recent(50) == list(reversed(entries))
    assert history.for_customer("1") == [e for e in reversed(entries) if e.customer_id == "1"]
    assert History(tmp_path, segment_size=8).count() == 12
    assert history.verify() == []
    history.add_many([])
    assert history.count() == 12


def test_add_many_of_errors_keeps_open_lookups_and_counts(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path, segment_size=4)
    records = [error(log.new_id(), str(n)) for n in range(6)]
    log.add_many(records)
    assert log.open_for_customer("4") == records[4]
    assert log.count(status=ErrorStatus.OPEN) == 6
    log.update(dataclasses.replace(records[4], status=ErrorStatus.RESOLVED))
    assert log.open_for_customer("4") is None
    assert log.query(limit=2) == [records[5], records[4].__class__(
        **{**dataclasses.asdict(records[4]), "status": ErrorStatus.RESOLVED})]
    assert log.verify() == []


def test_add_many_stores_nothing_when_one_entry_is_refused(tmp_path: Path) -> None:
    history = History(tmp_path, secrets=(KEY,))
    good = entry(history.new_id())
    leaking = entry(history.new_id(), sent={"headers": f"Klaviyo-API-Key {KEY}"})
    with pytest.raises(ValueError, match=r"'sent\.headers'") as caught:
        history.add_many([good, leaking])
    assert KEY not in str(caught.value)
    assert history.count() == 0
    history.add(good)
    with pytest.raises(ValueError, match="already exists"):
        history.add_many([entry(history.new_id()), good])
    with pytest.raises(ValueError, match="twice"):
        twin = entry(history.new_id())
        history.add_many([twin, twin])
    assert history.count() == 1


def _crash_in_add_many(state: Path, fatal_write: int) -> None:
    history = History(state, segment_size=4)
    history.add(entry(history.new_id(), "7"))
    real = segments_module._write_file
    writes = 0

    def dying(path: Path, data: bytes, *, durable: bool) -> None:
        nonlocal writes
        if writes == fatal_write:
            os.kill(os.getpid(), signal.SIGKILL)
        writes += 1
        real(path, data, durable=durable)

    segments_module._write_file = dying
    history.add_many([entry(history.new_id(), str(n % 3)) for n in range(6)])
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize("fatal_write", range(7))
def test_a_kill_during_add_many_is_repaired(tmp_path: Path, fatal_write: int) -> None:
    child = FORK.Process(target=_crash_in_add_many, args=(tmp_path, fatal_write))
    child.start()
    child.join()
    assert child.exitcode == -signal.SIGKILL
    history = History(tmp_path, segment_size=4)
    assert history.verify() == []
    stored = history.recent(100)
    # Whole segments survive or not: the first entry, then none, some or all of the group.
    assert len(stored) in (1, 4, 7)
    for customer in ("0", "1", "2", "7"):
        assert history.for_customer(customer) == [e for e in stored if e.customer_id == customer]
    fresh = entry(history.new_id(), "7")
    history.add(fresh)
    assert history.for_customer("7")[0] == fresh


def test_a_busy_customer_pages_its_older_ids_and_reads_newest_first(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path, segment_size=16, durable=False)
    records = []
    for n in range(300):
        customer = "busy" if n % 10 else f"other-{n}"
        status = ErrorStatus.OPEN if n == 299 else ErrorStatus.RESOLVED
        records.append(error(log.new_id(), customer, status=status))
    log.add_many(records[:150])
    for record in records[150:]:
        log.add(record)
    busy = [r for r in reversed(records) if r.customer_id == "busy"]
    assert len(busy) == 270
    assert list((tmp_path / "errors" / "pages").iterdir())
    assert log.query(customer_id="busy") == busy
    assert log.query(customer_id="busy", offset=100, limit=80) == busy[100:180]
    assert log.query(customer_id="busy", status=ErrorStatus.RESOLVED, limit=3) == busy[1:4]
    assert log.open_for_customer("busy") == records[299]
    assert log.verify() == []
    log.rebuild()
    assert log.query(customer_id="busy") == busy
    assert log.verify() == []
    history = History(tmp_path, segment_size=4, durable=False)
    entries = [entry(history.new_id(), "busy") for _ in range(200)]
    history.add_many(entries)
    assert history.for_customer("busy", limit=5) == list(reversed(entries))[:5]
    assert history.for_customer("busy") == list(reversed(entries))
