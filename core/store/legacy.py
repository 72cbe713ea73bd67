"""Read-only reader of the segmented TinyDB folders earlier versions kept, to migrate them.

Those versions wrote `errors/` and `history/` in the state dir: `seg-NNNNNN.json` files (TinyDB
documents under "records", the segments being the truth; index and summary files were derived)
and a `.lock` journal whose "next" names the next free id. The records are copied into SQLite
in the migration's transaction, checked, and the folders are then renamed `*.migrated`, not
deleted: an operator can look at them, and delete them, when satisfied.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from core.model import ErrorRecord, HistoryEntry
from core.store import schema

_SEGMENT = re.compile(r"^seg-(\d{6,})\.json$")


class LegacyError(RuntimeError):
    """An old store file that cannot be migrated; the message names it and what to do."""


class _Kind(NamedTuple):
    folder: str
    prefix: str
    table: str
    insert: str
    row: Callable[[dict[str, Any]], tuple[Any, ...]]


_KINDS = (
    _Kind("errors", "E", "errors", schema.INSERT_ERROR,
          lambda doc: schema.error_row(ErrorRecord.from_json(doc))),
    _Kind("history", "H", "history", schema.INSERT_HISTORY,
          lambda doc: schema.history_row(HistoryEntry.from_json(doc))),
)


def present(state_dir: Path) -> bool:
    """Whether `state_dir` still holds a folder of the old store."""
    return any((state_dir / kind.folder).is_dir() for kind in _KINDS)


def import_into(connection: sqlite3.Connection, state_dir: Path) -> list[Path]:
    """Copy every old record not yet in the tables (in the caller's transaction), check that
    each is there, and return the folders that are now safe to set aside."""
    done = []
    for kind in _KINDS:
        folder = state_dir / kind.folder
        if not folder.is_dir():
            continue
        try:
            top = _copy(connection, kind, folder)
        except FileNotFoundError:
            if folder.is_dir():
                raise
            # Another process committed this folder's records (our transaction began after its
            # commit, so they are here) and set the folder aside while we read it.
            continue
        connection.execute(
            "INSERT INTO id_blocks (prefix, next_block) VALUES (?, ?) ON CONFLICT (prefix) "
            "DO UPDATE SET next_block = max(next_block, excluded.next_block)",
            (kind.prefix, top),
        )
        done.append(folder)
    return done


def _copy(connection: sqlite3.Connection, kind: _Kind, folder: Path) -> int:
    """Insert the folder's records not yet stored; the next free id block."""
    top = _journal_next(folder)
    for path, doc in _documents(folder):
        try:
            row = kind.row(doc)
        except (KeyError, TypeError, ValueError) as exc:
            raise LegacyError(
                f"{path} holds a record that cannot be migrated ({exc!r}); repair or remove "
                "it and start again (nothing has been migrated yet)"
            ) from None
        record_id = str(row[0])
        top = max(top, _block_of(record_id) + 1)
        # A record already there was copied by a migration that died before the rename.
        if not _stored(connection, kind.table, record_id):
            connection.execute(kind.insert, row)
        if not _stored(connection, kind.table, record_id):
            raise LegacyError(f"record {record_id} of {path} did not reach {kind.table}")
    return top


def set_aside(folders: list[Path]) -> None:
    """Rename migrated folders to `<name>.migrated` (`.migrated-2`, ... if that is taken)."""
    for folder in folders:
        for attempt in range(1, 100):
            suffix = ".migrated" if attempt == 1 else f".migrated-{attempt}"
            try:
                folder.rename(folder.with_name(folder.name + suffix))
                break
            except FileNotFoundError:
                break  # another process migrating at the same time moved it first
            except OSError:
                continue  # that name is taken


def _documents(folder: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every record of the segment files, oldest first (segment, then slot)."""
    segments = sorted(
        (int(match.group(1)), folder / name)
        for name in (p.name for p in folder.iterdir())
        if (match := _SEGMENT.match(name))
    )
    for _, path in segments:
        try:
            data = json.loads(path.read_bytes())
            docs = data["records"]
            slots = sorted(docs, key=int)
        except (ValueError, KeyError, TypeError) as exc:
            raise LegacyError(
                f"{path} is not a readable segment of the old store ({exc!r}); repair it, or "
                "move it aside to migrate without its records, and start again"
            ) from None
        for slot in slots:
            if isinstance(docs[slot], dict):
                yield path, docs[slot]


def _journal_next(folder: Path) -> int:
    """The block after the ids the old journal had handed out (0 when it is unreadable)."""
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError, IndexError):
        state = json.loads((folder / ".lock").read_bytes())
        return int(state["next"][0]) + 1
    return 0


def _block_of(record_id: str) -> int:
    parts = record_id.split("-")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else -1


def _stored(connection: sqlite3.Connection, table: str, record_id: str) -> bool:
    # `table` comes from _KINDS, never from a file.
    sql = f"SELECT 1 FROM {table} WHERE id = ?"
    return connection.execute(sql, (record_id,)).fetchone() is not None
