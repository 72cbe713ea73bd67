"""The state dir's SQLite file: one connection per store object, WAL, migrated on open."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from core.store import legacy, schema

FILE_NAME = "store.sqlite3"
# How long a write waits for another thread's or process's write to commit before giving up.
BUSY_TIMEOUT_S = 60.0
# Rows a multi-row INSERT takes at most: every full part has the same text, which SQLite then
# prepares once.
ROWS_PER_INSERT = 200
# Connections a forked child inherited: using or closing them there would corrupt the parent's
# locks and WAL (SQLite's rule), so they are kept here, unused, until the child exits.
_INHERITED: list[sqlite3.Connection] = []


class StoreError(RuntimeError):
    """A state file that cannot be read or written; the message names it and what to do."""


class Database:
    """The error log's and history's SQLite file; every method is safe from any thread."""

    def __init__(self, state_dir: Path, *, durable: bool = True) -> None:
        """`durable=False` commits without fsync: a kill loses nothing, a power cut may."""
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / FILE_NAME
        self._durable = durable
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._connection = self._open()

    def _open(self) -> sqlite3.Connection:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self._failures():
            connection = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            try:
                _use_wal(connection)
                connection.execute(f"PRAGMA synchronous = {'FULL' if self._durable else 'NORMAL'}")
                if schema.version(connection) != len(schema.MIGRATIONS) or legacy.present(
                    self.state_dir
                ):
                    self._migrate(connection)
            except BaseException:
                connection.close()
                raise
        return connection

    def _migrate(self, connection: sqlite3.Connection) -> None:
        if schema.version(connection) > len(schema.MIGRATIONS):
            raise StoreError(
                f"{self.path} was written by a newer klaviyo-console; upgrade this one to use it"
            )
        # Under the write lock, so one process migrates and the others find it done.
        with _transaction(connection):
            schema.migrate(connection)
            imported = legacy.import_into(connection, self.state_dir)
        legacy.set_aside(imported)

    @property
    def connection(self) -> sqlite3.Connection:
        if self._pid != os.getpid():
            _INHERITED.append(self._connection)
            self._pid = os.getpid()
            self._connection = self._open()
        return self._connection

    @contextlib.contextmanager
    def _failures(self) -> Iterator[None]:
        try:
            yield
        except legacy.LegacyError as exc:
            raise StoreError(str(exc)) from None
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorname in ("SQLITE_BUSY", "SQLITE_LOCKED"):
                raise StoreError(
                    f"{self.path} stayed locked by another klaviyo-console for "
                    f"{BUSY_TIMEOUT_S:g} s; try again when it has finished"
                ) from None
            raise StoreError(f"{self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{self.path} is not a readable store ({exc}); move it aside (with its -wal and "
                "-shm files) and start again to begin an empty one"
            ) from None

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of one read; it sees every transaction committed before it began."""
        with self._lock, self._failures():
            return self.connection.execute(sql, params).fetchall()

    @contextlib.contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        with self._lock, self._failures(), _transaction(self.connection) as connection:
            yield connection

    def next_block(self, prefix: str, table: str) -> int:
        """Reserve the next block of ids for `prefix`; a block is never handed out twice."""
        with self.writing() as connection:
            found = connection.execute(
                "SELECT next_block FROM id_blocks WHERE prefix = ?", (prefix,)
            ).fetchone()
            block = int(found[0]) if found is not None else _past_stored(connection, table)
            connection.execute(
                "INSERT INTO id_blocks (prefix, next_block) VALUES (?, ?) "
                "ON CONFLICT (prefix) DO UPDATE SET next_block = excluded.next_block",
                (prefix, block + 1),
            )
            return block

    def problems(self) -> list[str]:
        """What SQLite's integrity check and the kept counts find wrong, in words."""
        with self._lock, self._failures(), _snapshot(self.connection) as connection:
            found = [str(row[0]) for row in connection.execute("PRAGMA integrity_check")]
            problems = [] if found == ["ok"] else found
            counted = {(s, k): n for s, k, n in connection.execute(
                "SELECT status, kind, n FROM error_counts WHERE n != 0")}
            actual = {(s, k): n for s, k, n in connection.execute(
                "SELECT status, kind, count(*) FROM errors GROUP BY status, kind")}
            if counted != actual:
                problems.append(f"error counts are {counted}, records say {actual}")
            [(kept,)] = connection.execute("SELECT n FROM history_count").fetchall()
            [(entries,)] = connection.execute("SELECT count(*) FROM history").fetchall()
            if kept != entries:
                problems.append(f"history count is {kept}, entries say {entries}")
            return problems

    def rebuild(self) -> None:
        """Rebuild the indexes and recount the kept counts from the records."""
        with self.writing() as connection:
            connection.execute("REINDEX")
            connection.execute("DELETE FROM error_counts")
            connection.execute(
                "INSERT INTO error_counts (status, kind, n) "
                "SELECT status, kind, count(*) FROM errors GROUP BY status, kind"
            )
            connection.execute("UPDATE history_count SET n = (SELECT count(*) FROM history)")

    def close(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                self._connection.close()


def insert_rows(connection: sqlite3.Connection, insert: str, rows: Sequence[Sequence[Any]],
                upsert: str = "") -> None:
    """Run `{insert} VALUES (?, ...), (?, ...) {upsert}` over the rows, many rows a statement.

    executemany runs its statement once a row, and SQLite sets every run up again (the
    transaction check, the table's cursors): a quarter of the cost of a customer index row.
    """
    if not rows:
        return
    width = len(rows[0])
    limit = connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    most = max(1, min(ROWS_PER_INSERT, limit // width))
    one = f"({', '.join('?' * width)})"
    for start in range(0, len(rows), most):
        part = rows[start:start + most]
        connection.execute(f"{insert} VALUES {', '.join([one] * len(part))} {upsert}",
                           [value for row in part for value in row])


@contextlib.contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    # IMMEDIATE takes the write lock first, so two writers queue on the busy timeout instead
    # of one failing when it upgrades a read to a write.
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        # SQLite may have rolled back already (e.g. disk full); the cause is what to raise.
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


@contextlib.contextmanager
def _snapshot(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Several reads that all see the same committed state."""
    connection.execute("BEGIN")
    try:
        yield connection
    finally:
        connection.execute("ROLLBACK")


def _use_wal(connection: sqlite3.Connection) -> None:
    """Switch the file to WAL, waiting out another process's switch or migration."""
    # SQLite answers a journal-mode change that meets another connection's lock with SQLITE_BUSY
    # at once, without calling the busy handler, so the wait is ours (seen with three processes
    # opening a state dir that needed migrating).
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorname != "SQLITE_BUSY" or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _past_stored(connection: sqlite3.Connection, table: str) -> int:
    """The block after every id stored in `table` (when the block counter is missing)."""
    # `table` is one of the schema's table names, never caller input.
    found = connection.execute(
        f"SELECT id FROM {table} ORDER BY length(id) DESC, id DESC LIMIT 1"
    ).fetchone()
    if found is None:
        return 0
    _, block, _ = str(found[0]).split("-")
    return int(block) + 1
