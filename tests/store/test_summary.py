"""Counts and first pages read the journal's totals and the newest summary file, not them all."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from core.model import ErrorKind, ErrorStatus
from core.store import ErrorLog, History
from core.store import segments as segments_module

from .conftest import entry, error

FORK = multiprocessing.get_context("fork")


def _summary_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    real = segments_module._load_json

    def counting(path: Path) -> object:
        if path.parent.name == "summary":
            reads.append(path.name)
        return real(path)

    monkeypatch.setattr(segments_module, "_load_json", counting)
    return reads


def _journal(folder: Path) -> dict[str, object]:
    state = json.loads((folder / ".lock").read_bytes())
    assert isinstance(state, dict)
    return state


def _rewrite_journal(folder: Path, state: dict[str, object]) -> None:
    (folder / ".lock").write_bytes(json.dumps(state).encode())


def _filled(tmp_path: Path) -> tuple[ErrorLog, list[str]]:
    """200 one-record segments: four summary files (64 segments each)."""
    log = ErrorLog(tmp_path, segment_size=1, durable=False)
    ids = []
    for n in range(200):
        kind = ErrorKind.AUTH if n == 5 else ErrorKind.CONFLICT
        if n == 198:
            kind = ErrorKind.VALIDATION
        record = error(log.new_id(), str(n), kind)
        log.add(record)
        ids.append(record.id)
    return log, ids


def test_a_cold_first_page_reads_only_the_newest_summary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, ids = _filled(tmp_path)
    assert sorted(p.name for p in (tmp_path / "errors" / "summary").iterdir()) == [
        "c0000.json", "c0001.json", "c0002.json", "c0003.json"
    ]
    # Another instance writes: every cache of `log` is stale and dropped (a cold read).
    other = ErrorLog(tmp_path, segment_size=1, durable=False)
    newest = error(other.new_id(), "new")
    other.add(newest)
    reads = _summary_reads(monkeypatch)
    assert [r.id for r in log.query(limit=5)] == [newest.id, *reversed(ids[-4:])]
    assert reads == ["c0003.json"]
    reads.clear()
    assert log.count() == 201
    assert log.count(kind=ErrorKind.CONFLICT) == 198
    assert reads == []
    # The only match is in the newest file: the page is short but no older file is read.
    assert [r.id for r in log.query(kind=ErrorKind.VALIDATION, limit=50)] == [ids[198]]
    assert [r.id for r in log.query(kind=ErrorKind.NOT_FOUND)] == []
    assert reads == []  # c0003 is cached now
    # The only match is the oldest: every file, newest first, until it is found.
    assert [r.id for r in log.query(kind=ErrorKind.AUTH)] == [ids[5]]
    assert reads == ["c0002.json", "c0001.json", "c0000.json"]
    reads.clear()
    page = log.query(offset=150, limit=3)
    assert [r.id for r in page] == list(reversed([*ids, newest.id]))[150:153]
    assert log.verify() == []


def test_history_recent_cold_reads_only_the_newest_summary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = History(tmp_path, segment_size=1, durable=False)
    ids = []
    for n in range(130):
        item = entry(history.new_id(), str(n % 7))
        history.add(item)
        ids.append(item.id)
    history.close()
    history = History(tmp_path, segment_size=1, durable=False)
    history._table._drop_caches()
    reads = _summary_reads(monkeypatch)
    assert [e.id for e in history.recent(2)] == list(reversed(ids[-2:]))
    assert reads == ["c0002.json"]
    assert history.count() == 130


def test_totals_follow_updates_and_live_in_the_journal(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path, segment_size=4, durable=False)
    records = [error(log.new_id(), str(n)) for n in range(10)]
    log.add_many(records)
    for record in records[:3]:
        log.update(dataclasses.replace(record, status=ErrorStatus.RESOLVED))
    assert log.count(status=ErrorStatus.OPEN) == 7
    assert log.count(status=ErrorStatus.RESOLVED) == 3
    assert _journal(tmp_path / "errors")["totals"] == {
        "open|api_unavailable": 7, "resolved|api_unavailable": 3
    }
    assert log.verify() == []


def test_a_journal_without_totals_gets_them_summed_once(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path, segment_size=3)
    for n in range(8):
        log.add(error(log.new_id(), str(n), ErrorKind.AUTH if n % 2 else ErrorKind.CONFLICT))
    log.close()
    folder = tmp_path / "errors"
    state = _journal(folder)
    del state["totals"]  # as a store written before totals moved to the journal
    _rewrite_journal(folder, state)
    log = ErrorLog(tmp_path, segment_size=3)
    assert log.count(kind=ErrorKind.AUTH) == 4
    assert log.count() == 8
    assert log.verify() == []
    assert _journal(folder)["totals"] == {"open|auth": 4, "open|conflict": 4}


def test_wrong_totals_are_reported_by_verify_and_fixed_by_rebuild(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path)
    log.add(error(log.new_id()))
    log.close()
    folder = tmp_path / "errors"
    state = _journal(folder)
    state["totals"] = {"open|api_unavailable": 5}
    _rewrite_journal(folder, state)
    log = ErrorLog(tmp_path)
    assert any("journal totals" in problem for problem in log.verify())
    log.rebuild()
    assert log.verify() == []
    assert log.count() == 1


def _crash_resolving(state: Path, fatal_write: int) -> None:
    """Child: resolve an open error (its facet changes), dying before the n-th file write."""
    log = ErrorLog(state, segment_size=2)
    records = [error(log.new_id(), str(n)) for n in range(3)]
    for record in records:
        log.add(record)
    real = segments_module._write_file
    writes = 0

    def dying(path: Path, data: bytes, *, durable: bool) -> None:
        nonlocal writes
        if writes == fatal_write:
            os.kill(os.getpid(), signal.SIGKILL)
        writes += 1
        real(path, data, durable=durable)

    segments_module._write_file = dying
    if fatal_write == 3:
        # Segment, bucket and summary written; the journal (intent and totals) not yet.
        def dying_at_finish(self: object, state: object) -> None:
            os.kill(os.getpid(), signal.SIGKILL)

        segments_module.SegmentedTable._finish = dying_at_finish  # type: ignore[method-assign]
    log.update(dataclasses.replace(records[2], status=ErrorStatus.RESOLVED))
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize("fatal_write", [0, 1, 2, 3])
def test_a_kill_during_a_facet_change_leaves_totals_matching_the_records(
    tmp_path: Path, fatal_write: int
) -> None:
    child = FORK.Process(target=_crash_resolving, args=(tmp_path, fatal_write))
    child.start()
    child.join()
    assert child.exitcode == -signal.SIGKILL
    log = ErrorLog(tmp_path, segment_size=2)
    assert log.verify() == []
    records = log.query()
    for status in ErrorStatus:
        assert log.count(status=status) == sum(r.status == status for r in records)
    assert log.count(status=ErrorStatus.RESOLVED) in (0, 1)
    assert log.count() == 3
