"""A state dir written by the segmented TinyDB store is migrated into SQLite on first open."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from core.model import ErrorRecord, HistoryEntry
from core.store import ErrorLog, History, KeyValue, StoreError

FIXTURE = Path(__file__).parent / "fixtures" / "legacy"
FORK = multiprocessing.get_context("fork")


def _old_state(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    state = tmp_path / "state"
    shutil.copytree(FIXTURE / "state", state)
    expected = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
    # The fixture was written before records kept each attempt and history kept outcomes:
    # what the store must give back is those records read through today's model.
    expected["errors"] = [ErrorRecord.from_json(r).to_json() for r in expected["errors"]]
    expected["history"] = [HistoryEntry.from_json(e).to_json() for e in expected["history"]]
    return state, expected


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_every_record_survives_the_migration_in_order(tmp_path: Path) -> None:
    state, expected = _old_state(tmp_path)
    old_files = {name: _files(state / name) for name in ("errors", "history")}
    history = History(state)  # either store migrates both
    log = ErrorLog(state)
    assert [r.to_json() for r in log.query()] == expected["errors"]
    assert [e.to_json() for e in history.recent(1000)] == expected["history"]
    assert KeyValue(state, "cache").items() == expected["settings"]["cache"]
    for raw in expected["errors"]:
        assert log.get(raw["id"]) is not None
    open_ones = [r for r in expected["errors"] if r["status"] == "open"]
    newest_open = next(r for r in open_ones if r["customer_id"] == "55261")
    assert log.open_for_customer("55261").to_json() == newest_open  # type: ignore[union-attr]
    assert log.count() == 30 and log.count(status="open") == len(open_ones)  # type: ignore[arg-type]
    assert history.count() == 14
    assert log.verify() == []
    # The old folders are kept, renamed and untouched, for the operator to delete.
    assert not (state / "errors").exists() and not (state / "history").exists()
    for name, files in old_files.items():
        assert _files(state / f"{name}.migrated") == files


def test_new_ids_never_repeat_an_old_one_even_one_handed_out_but_not_stored(
    tmp_path: Path,
) -> None:
    state, expected = _old_state(tmp_path)
    log, history = ErrorLog(state), History(state)
    old = {r["id"] for r in expected["errors"]} | {e["id"] for e in expected["history"]}
    # The old journal had handed out ids up to E-000003-0006 and H-000003-0002.
    fresh = [log.new_id() for _ in range(5)] + [history.new_id() for _ in range(5)]
    assert not set(fresh) & old
    assert all(int(i.split("-")[1]) > 3 for i in fresh)


def test_a_second_open_does_not_migrate_again(tmp_path: Path) -> None:
    state, _ = _old_state(tmp_path)
    ErrorLog(state).close()
    # As if the process died after the commit, before it renamed the folders.
    (state / "errors.migrated").rename(state / "errors")
    log = ErrorLog(state)
    assert log.count() == 30
    assert len({r.id for r in log.query()}) == 30
    assert (state / "errors.migrated").is_dir() and not (state / "errors").exists()
    assert log.verify() == []


def _open_and_count(state: Path, out: Any) -> None:
    out.put(ErrorLog(state).count())


def test_processes_opening_at_once_migrate_once(tmp_path: Path) -> None:
    state, _ = _old_state(tmp_path)
    results: Any = FORK.Queue()
    children = [FORK.Process(target=_open_and_count, args=(state, results)) for _ in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join()
        assert child.exitcode == 0
    assert sorted(results.get() for _ in children) == [30, 30, 30]
    assert sorted(p.name for p in state.iterdir() if "migrated" in p.name) == [
        "errors.migrated", "history.migrated"]
    assert History(state).count() == 14


def test_a_damaged_old_segment_stops_the_migration_and_names_the_file(tmp_path: Path) -> None:
    state, _ = _old_state(tmp_path)
    (state / "history" / "seg-000001.json").write_text('{"records": {"1": {"id": "H-0')
    with pytest.raises(StoreError, match=r"seg-000001\.json is not a readable segment"):
        ErrorLog(state)
    # Nothing half-done: the old folders are where they were, and nothing was copied.
    assert (state / "errors" / "seg-000000.json").is_file()
    assert (state / "history").is_dir()
    (state / "history" / "seg-000001.json").unlink()
    log = ErrorLog(state)
    assert log.count() == 30
    assert History(state).count() == 10


def test_a_store_from_a_newer_version_is_refused_not_changed(tmp_path: Path) -> None:
    ErrorLog(tmp_path).close()
    with sqlite3.connect(tmp_path / "store.sqlite3") as connection:
        connection.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer klaviyo-console"):
        History(tmp_path)
    with sqlite3.connect(tmp_path / "store.sqlite3") as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 99
