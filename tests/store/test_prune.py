"""Pruning keeps the store from growing for ever, and never loses an open error."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from core.model import ErrorStatus
from core.store import ErrorLog, History

from .conftest import entry, error

CUTOFF = "2025-06-01T00:00:00+00:00"


def test_history_prune_deletes_only_entries_older_than_the_cutoff(tmp_path: Path) -> None:
    history = History(tmp_path)
    old, new = history.new_id(), history.new_id()
    history.add_many([entry(old, at="2025-05-01T10:00:00+00:00"),
                      entry(new, at="2025-07-01T10:00:00+00:00")])
    assert history.prune(CUTOFF) == 1
    assert [e.id for e in history.recent(10)] == [new]
    assert history.count() == 1
    assert history.verify() == []


def test_error_prune_keeps_every_open_record_whatever_its_age(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path)
    open_old, resolved_old, resolved_new = log.new_id(), log.new_id(), log.new_id()
    log.add_many([
        error(open_old),
        replace(error(resolved_old), status=ErrorStatus.RESOLVED),
        replace(error(resolved_new), status=ErrorStatus.RESOLVED,
                updated_at="2025-07-01T10:00:00+00:00"),
    ])
    assert log.prune(CUTOFF) == 1
    assert {r.id for r in log.query()} == {open_old, resolved_new}
    assert log.count(status=ErrorStatus.RESOLVED) == 1
    assert log.count() == 2
    assert log.verify() == []
