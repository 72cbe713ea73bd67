"""add_many: one transaction (one commit) for many records, all of them or none."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import sqlite3
from pathlib import Path

import pytest

from core.model import ErrorStatus
from core.store import ErrorLog, History

from .conftest import KillSwitch, entry, error

FORK = multiprocessing.get_context("fork")
KEY = "pk_live_0123456789abcdef"


def _commits(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The COMMITs of every store connection opened from now on."""
    commits: list[str] = []
    real = sqlite3.connect

    def connect(*args: object, **kwargs: object) -> sqlite3.Connection:
        connection = real(*args, **kwargs)  # type: ignore[arg-type]
        connection.set_trace_callback(
            lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None)
        return connection

    monkeypatch.setattr(sqlite3, "connect", connect)
    return commits


def test_add_many_commits_once_and_stores_every_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commits = _commits(monkeypatch)
    history = History(tmp_path)
    entries = [entry(history.new_id(), str(n % 3)) for n in range(12)]
    commits.clear()
    history.add_many(entries)
    assert commits == ["COMMIT"]
    assert history.recent(50) == list(reversed(entries))
    assert history.for_customer("1") == [e for e in reversed(entries) if e.customer_id == "1"]
    assert History(tmp_path).count() == 12
    assert history.verify() == []
    history.add_many([])
    assert history.count() == 12


def test_add_many_of_errors_keeps_open_lookups_and_counts(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path)
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


def _crash_in_add_many(state: Path, fatal_statement: int) -> None:
    switch = KillSwitch(fatal_statement)
    history = History(state)
    history.add(entry(history.new_id(), "7"))
    group = [entry(history.new_id(), str(n % 3)) for n in range(6)]
    switch.armed = True
    history.add_many(group)
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize("fatal_statement", [0, 1, 3, 6, 9, 12, 13, 14])
def test_a_kill_during_add_many_keeps_all_of_the_group_or_none(
    tmp_path: Path, fatal_statement: int
) -> None:
    child = FORK.Process(target=_crash_in_add_many, args=(tmp_path, fatal_statement))
    child.start()
    child.join()
    assert child.exitcode == -signal.SIGKILL
    history = History(tmp_path)
    assert history.verify() == []
    stored = history.recent(100)
    # One transaction: the first entry, then none or all of the group.
    assert len(stored) in (1, 7)
    assert history.count() == len(stored)
    for customer in ("0", "1", "2", "7"):
        assert history.for_customer(customer) == [e for e in stored if e.customer_id == customer]
    fresh = entry(history.new_id(), "7")
    history.add(fresh)
    assert history.for_customer("7")[0] == fresh


def test_a_busy_customer_reads_newest_first_with_pages(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path, durable=False)
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
    assert log.query(customer_id="busy") == busy
    assert log.query(customer_id="busy", offset=100, limit=80) == busy[100:180]
    assert log.query(customer_id="busy", status=ErrorStatus.RESOLVED, limit=3) == busy[1:4]
    assert log.open_for_customer("busy") == records[299]
    assert log.verify() == []
    log.rebuild()
    assert log.query(customer_id="busy") == busy
    assert log.verify() == []
    history = History(tmp_path, durable=False)
    entries = [entry(history.new_id(), "busy") for _ in range(200)]
    history.add_many(entries)
    assert history.for_customer("busy", limit=5) == list(reversed(entries))[:5]
    assert history.for_customer("busy") == list(reversed(entries))
