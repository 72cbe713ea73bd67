"""kill -9 at any point of a write leaves every file loadable and the indexes consistent."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from core.model import ErrorStatus
from core.store import ErrorLog, History
from core.store import segments as segments_module

from .conftest import entry, error

FORK = multiprocessing.get_context("fork")


def _all_json_loads(root: Path) -> None:
    for path in root.rglob("*.json"):
        json.loads(path.read_bytes())


def _crash_during(state: Path, op: str, fatal_write: int, torn_tmp: bool) -> None:
    """Child: prepare, then die by SIGKILL before the `fatal_write`-th file write of `op`."""
    log = ErrorLog(state, segment_size=2)
    first = error(log.new_id(), "7")
    log.add(first)
    log.add(error(log.new_id(), "8"))
    real = segments_module._write_file
    writes = 0

    def dying(path: Path, data: bytes, *, durable: bool) -> None:
        nonlocal writes
        if writes == fatal_write:
            if torn_tmp:
                (path.parent / f".{path.name}.crash.tmp").write_bytes(data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        writes += 1
        real(path, data, durable=durable)

    segments_module._write_file = dying

    def dying_at_finish(self: object, state: object) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    if fatal_write == 3:
        # Every file written, the journal not yet told.
        segments_module.SegmentedTable._finish = dying_at_finish  # type: ignore[method-assign]
    if op == "add":
        log.add(error(log.new_id(), "7", message="third"))
    elif op == "add-first-of-customer":
        log.add(error(log.new_id(), "9"))
    else:
        log.update(dataclasses.replace(first, status=ErrorStatus.RESOLVED, attempts=2))
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize("op", ["add", "add-first-of-customer", "update"])
@pytest.mark.parametrize("fatal_write", [0, 1, 2, 3])
def test_a_kill_at_each_write_of_an_operation_is_repaired(
    tmp_path: Path, op: str, fatal_write: int
) -> None:
    child = FORK.Process(target=_crash_during, args=(tmp_path, op, fatal_write, fatal_write == 1))
    child.start()
    child.join()
    assert child.exitcode == -signal.SIGKILL
    _all_json_loads(tmp_path)
    log = ErrorLog(tmp_path, segment_size=2)
    assert log.verify() == []
    records = log.query()
    assert 2 <= len(records) <= 3
    newest_open = next((r for r in records if r.customer_id == "7" and r.status == "open"), None)
    assert log.open_for_customer("7") == newest_open
    assert log.open_for_customer("9") == next((r for r in records if r.customer_id == "9"), None)
    assert log.count() == len(records)
    assert not list(tmp_path.rglob("*.tmp"))
    # The store carries on: new ids do not collide with anything the dead child wrote.
    fresh = error(log.new_id(), "7")
    log.add(fresh)
    assert log.get(fresh.id) == fresh
    assert log.verify() == []


def _write_forever(state: Path, out: int, seed: int) -> None:
    """Child: add errors and history and resolve some, reporting each committed id."""
    rng = random.Random(seed)
    log = ErrorLog(state, segment_size=5)
    history = History(state, segment_size=4)
    mine: list[Any] = []
    while True:
        record = error(log.new_id(), str(rng.randrange(8)))
        log.add(record)
        mine.append(record)
        os.write(out, f"E {record.id}\n".encode())
        item = entry(history.new_id(), record.customer_id)
        history.add(item)
        os.write(out, f"H {item.id}\n".encode())
        if rng.random() < 0.4:
            done = dataclasses.replace(rng.choice(mine), status=ErrorStatus.RESOLVED)
            log.update(done)
            os.write(out, f"R {done.id}\n".encode())


def test_random_kills_during_a_write_loop_lose_nothing_committed(tmp_path: Path) -> None:
    rng = random.Random(1)
    committed: dict[str, set[str]] = {"E": set(), "H": set(), "R": set()}
    for round_no in range(8):
        read_end, write_end = os.pipe()
        child = FORK.Process(target=_write_forever, args=(tmp_path, write_end, round_no))
        child.start()
        os.close(write_end)
        # Let it get going, then kill it at an arbitrary instant.
        os.read(read_end, 1)
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
        child.join()
        chunks = [b"E"]  # the byte read above to know the child had started
        while chunk := os.read(read_end, 65536):
            chunks.append(chunk)
        os.close(read_end)
        for line in b"".join(chunks).decode().splitlines():
            kind, _, record_id = line.partition(" ")
            if record_id:
                committed[kind].add(record_id)

        _all_json_loads(tmp_path)
        log = ErrorLog(tmp_path, segment_size=5)
        history = History(tmp_path, segment_size=4)
        assert log.verify() == []
        assert history.verify() == []
        stored = {r.id: r for r in log.query()}
        assert committed["E"] <= set(stored)
        assert all(stored[i].status == "resolved" for i in committed["R"])
        assert committed["H"] <= {h.id for h in history.recent(10_000)}
        log.close()
        history.close()
    assert len(committed["E"]) >= 8


def test_after_a_reboot_the_derived_files_are_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = ErrorLog(tmp_path)
    record = error(log.new_id())
    log.add(record)
    log.close()
    # An OS crash can lose index writes that were never flushed: simulate that it did.
    (tmp_path / "errors" / "summary" / "c0000.json").write_text('{"0": {"open|auth": 9}}')
    for bucket in (tmp_path / "errors" / "index").iterdir():
        bucket.write_text("{}")
    stale = tmp_path / "errors" / "index" / f"b{log._table._bucket_no('55260'):03d}.json"
    stale.write_text('{"55260": {"ids": ["E-000000-0007"], "open": []}}')
    monkeypatch.setattr(segments_module, "_boot_id", lambda: "another-boot")
    log = ErrorLog(tmp_path)
    assert log.verify() == []
    assert log.count() == 1
    assert log.open_for_customer("55260") == record


def test_a_garbage_tmp_file_left_behind_is_ignored_and_cleaned(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path)
    record = error(log.new_id())
    log.add(record)
    log.close()
    folder = tmp_path / "errors"
    (folder / ".seg-000000.json.k3j2.tmp").write_bytes(b'{"records": {"1": {"id": "E-0')
    (folder / "index" / ".b001.json.zz.tmp").write_bytes(b"\x00\xff garbage")
    (folder / "summary" / ".c0000.json.q.tmp").write_bytes(b"")
    log = ErrorLog(tmp_path)
    assert log.get(record.id) == record
    assert log.verify() == []
    assert not list(tmp_path.rglob("*.tmp"))


def test_derived_files_lost_or_damaged_are_rebuilt_from_the_records(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path, segment_size=3)
    records = [error(log.new_id(), str(n % 2)) for n in range(7)]
    for record in records:
        log.add(record)
    log.close()
    folder = tmp_path / "errors"
    (folder / "summary" / "c0000.json").write_text("{not json")
    (folder / ".lock").write_text("\x00\x00torn")
    for path in (folder / "index").iterdir():
        path.unlink()
    log = ErrorLog(tmp_path, segment_size=3)
    assert log.verify() == []
    assert log.query() == list(reversed(records))
    assert log.open_for_customer("0") == records[6]
    assert log.new_id() not in {r.id for r in records}


def test_a_damaged_segment_is_reported_by_name(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path)
    record = error(log.new_id())
    log.add(record)
    log.close()
    (tmp_path / "errors" / "seg-000000.json").write_text("{broken")
    with pytest.raises(segments_module.StoreError, match=r"seg-000000\.json is not valid JSON"):
        ErrorLog(tmp_path).get(record.id)


def _add_many(state: Path, out: int, name: str) -> None:
    log = ErrorLog(state, segment_size=8, durable=False)
    for n in range(40):
        record = error(log.new_id(), f"{name}-{n % 5}")
        log.add(record)
        os.write(out, f"{record.id}\n".encode())


def test_processes_writing_at_once_get_unique_ids_and_lose_nothing(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    children = [
        FORK.Process(target=_add_many, args=(tmp_path, write_end, name)) for name in "abc"
    ]
    for child in children:
        child.start()
    os.close(write_end)
    raw = b""
    while chunk := os.read(read_end, 65536):
        raw += chunk
    os.close(read_end)
    for child in children:
        child.join()
        assert child.exitcode == 0
    ids = raw.decode().split()
    assert len(ids) == len(set(ids)) == 120
    log = ErrorLog(tmp_path, segment_size=8)
    assert {r.id for r in log.query()} == set(ids)
    assert log.verify() == []
