"""Counts come from totals kept beside the records, and always agree with the records."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import sqlite3
from pathlib import Path

import pytest

from core.model import ErrorKind, ErrorStatus
from core.store import ErrorLog, History

from .conftest import KillSwitch, entry, error

FORK = multiprocessing.get_context("fork")


def test_counts_follow_adds_and_updates(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path, durable=False)
    records = [error(log.new_id(), str(n), ErrorKind.AUTH if n % 2 else ErrorKind.CONFLICT)
               for n in range(10)]
    log.add_many(records)
    for record in records[:3]:
        log.update(dataclasses.replace(record, status=ErrorStatus.RESOLVED))
    log.update(dataclasses.replace(records[9], kind=ErrorKind.VALIDATION))
    assert log.count() == 10
    assert log.count(status=ErrorStatus.OPEN) == 7
    assert log.count(status=ErrorStatus.RESOLVED) == 3
    assert log.count(kind=ErrorKind.AUTH) == 4
    assert log.count(status=ErrorStatus.RESOLVED, kind=ErrorKind.CONFLICT) == 2
    assert log.count(kind=ErrorKind.VALIDATION) == 1
    assert log.count(kind=ErrorKind.NOT_FOUND) == 0
    for status in (None, *ErrorStatus):
        for kind in (None, *ErrorKind):
            assert log.count(status=status, kind=kind) == len(log.query(status=status, kind=kind))
    history = History(tmp_path)
    history.add_many([entry(history.new_id()) for _ in range(4)])
    assert history.count() == 4
    assert log.verify() == []


def test_wrong_counts_are_reported_by_verify_and_fixed_by_rebuild(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path)
    log.add(error(log.new_id()))
    history = History(tmp_path)
    history.add(entry(history.new_id()))
    with sqlite3.connect(tmp_path / "store.sqlite3") as connection:
        connection.execute("UPDATE error_counts SET n = 5")
        connection.execute("UPDATE history_count SET n = 3")
    problems = log.verify()
    assert any("error counts" in problem for problem in problems)
    assert any("history count" in problem for problem in problems)
    log.rebuild()
    assert log.verify() == []
    assert log.count() == 1
    assert history.count() == 1


def _crash_resolving(state: Path, fatal_statement: int) -> None:
    """Child: resolve an open error (its status changes), dying at the n-th SQL statement."""
    switch = KillSwitch(fatal_statement)
    log = ErrorLog(state)
    records = [error(log.new_id(), str(n)) for n in range(3)]
    for record in records:
        log.add(record)
    switch.armed = True
    log.update(dataclasses.replace(records[2], status=ErrorStatus.RESOLVED))
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize("fatal_statement", range(8))
def test_a_kill_during_a_status_change_leaves_counts_matching_the_records(
    tmp_path: Path, fatal_statement: int
) -> None:
    child = FORK.Process(target=_crash_resolving, args=(tmp_path, fatal_statement))
    child.start()
    child.join()
    assert child.exitcode == -signal.SIGKILL
    log = ErrorLog(tmp_path)
    assert log.verify() == []
    records = log.query()
    for status in ErrorStatus:
        assert log.count(status=status) == sum(r.status == status for r in records)
    assert log.count(status=ErrorStatus.RESOLVED) in (0, 1)
    assert log.count() == 3
