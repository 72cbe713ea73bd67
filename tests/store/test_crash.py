"""kill -9 at any point of a write leaves the store readable, consistent and every commit kept."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from core.model import ErrorStatus
from core.store import ErrorLog, History, StoreError

from .conftest import KillSwitch, entry, error, tries

FORK = multiprocessing.get_context("fork")


def _crash_during(state: Path, op: str, fatal_statement: int) -> None:
    """Child: prepare, then die by SIGKILL at the `fatal_statement`-th SQL statement of `op`."""
    switch = KillSwitch(fatal_statement)
    log = ErrorLog(state)
    first = error(log.new_id(), "7")
    log.add(first)
    log.add(error(log.new_id(), "8"))
    fresh = error(log.new_id(), "9" if op == "add-first-of-customer" else "7", message="third")
    switch.armed = True
    if op == "update":
        log.update(dataclasses.replace(first, status=ErrorStatus.RESOLVED, attempts=tries(2)))
    else:
        log.add(fresh)
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize("op", ["add", "add-first-of-customer", "update"])
@pytest.mark.parametrize("fatal_statement", range(7))
def test_a_kill_at_each_statement_of_an_operation_keeps_the_store_consistent(
    tmp_path: Path, op: str, fatal_statement: int
) -> None:
    child = FORK.Process(target=_crash_during, args=(tmp_path, op, fatal_statement))
    child.start()
    child.join()
    assert child.exitcode == -signal.SIGKILL
    log = ErrorLog(tmp_path)
    assert log.verify() == []
    records = log.query()
    assert 2 <= len(records) <= 3
    newest_open = next((r for r in records if r.customer_id == "7" and r.status == "open"), None)
    assert log.open_for_customer("7") == newest_open
    assert log.open_for_customer("9") == next((r for r in records if r.customer_id == "9"), None)
    assert log.count() == len(records)
    for status in ErrorStatus:
        assert log.count(status=status) == sum(r.status == status for r in records)
    # The store carries on: new ids do not collide with anything the dead child wrote.
    fresh = error(log.new_id(), "7")
    log.add(fresh)
    assert log.get(fresh.id) == fresh
    assert log.verify() == []


def _write_forever(state: Path, out: int, seed: int) -> None:
    """Child: add errors and history and resolve some, reporting each committed id."""
    rng = random.Random(seed)
    log = ErrorLog(state)
    history = History(state)
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

        log = ErrorLog(tmp_path)
        history = History(tmp_path)
        assert log.verify() == []
        assert history.verify() == []
        stored = {r.id: r for r in log.query()}
        assert committed["E"] <= set(stored)
        assert all(stored[i].status == "resolved" for i in committed["R"])
        assert committed["H"] <= {h.id for h in history.recent(10_000)}
        log.close()
        history.close()
    assert len(committed["E"]) >= 8


def test_a_damaged_store_file_is_reported_by_name(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path)
    log.add(error(log.new_id()))
    log.close()
    for name in ("store.sqlite3-wal", "store.sqlite3-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    (tmp_path / "store.sqlite3").write_bytes(b"{broken" * 1000)
    with pytest.raises(StoreError, match=r"store\.sqlite3 is not a readable store.*move it aside"):
        ErrorLog(tmp_path)


def _add_many(state: Path, out: int, name: str) -> None:
    log = ErrorLog(state, durable=False)
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
    log = ErrorLog(tmp_path)
    assert {r.id for r in log.query()} == set(ids)
    assert log.verify() == []
