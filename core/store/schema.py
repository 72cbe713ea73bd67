"""The store's SQLite schema as numbered migrations, and the rows its records become.

A new table (e.g. pending consent emails) is one more entry at the end of MIGRATIONS; a
database's `PRAGMA user_version` says how many entries it has applied.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from core.model import ErrorRecord, HistoryEntry

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the error log and the push history. `seq` is the order records were stored in (newest
    # first is `seq DESC`); `id` is the id callers know. Each index ends in the rowid, so a
    # filtered page newest first walks one index backwards and stops at the page's end.
    (
        """CREATE TABLE errors (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            customer_id TEXT NOT NULL,
            status TEXT NOT NULL,
            kind TEXT NOT NULL,
            created_at TEXT NOT NULL,
            record TEXT NOT NULL
        )""",
        "CREATE INDEX errors_by_customer ON errors (customer_id)",
        "CREATE INDEX errors_by_customer_status ON errors (customer_id, status)",
        "CREATE INDEX errors_by_status ON errors (status)",
        "CREATE INDEX errors_by_kind ON errors (kind)",
        "CREATE INDEX errors_by_status_kind ON errors (status, kind)",
        "CREATE INDEX errors_by_time ON errors (created_at)",
        """CREATE TABLE history (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            customer_id TEXT NOT NULL,
            ok INTEGER NOT NULL,
            at TEXT NOT NULL,
            entry TEXT NOT NULL
        )""",
        "CREATE INDEX history_by_customer ON history (customer_id)",
        "CREATE INDEX history_by_time ON history (at)",
        # Counting rows is a scan in SQLite; these counts are kept in the writing transaction
        # by triggers, so count() costs the same at 100k records as at 1k.
        """CREATE TABLE error_counts (
            status TEXT NOT NULL,
            kind TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (status, kind)
        ) WITHOUT ROWID""",
        """CREATE TRIGGER errors_counted_on_insert AFTER INSERT ON errors BEGIN
            INSERT INTO error_counts (status, kind, n) VALUES (new.status, new.kind, 1)
                ON CONFLICT (status, kind) DO UPDATE SET n = n + 1;
        END""",
        """CREATE TRIGGER errors_counted_on_update AFTER UPDATE OF status, kind ON errors
        WHEN old.status IS NOT new.status OR old.kind IS NOT new.kind BEGIN
            UPDATE error_counts SET n = n - 1 WHERE status = old.status AND kind = old.kind;
            INSERT INTO error_counts (status, kind, n) VALUES (new.status, new.kind, 1)
                ON CONFLICT (status, kind) DO UPDATE SET n = n + 1;
        END""",
        """CREATE TRIGGER errors_counted_on_delete AFTER DELETE ON errors BEGIN
            UPDATE error_counts SET n = n - 1 WHERE status = old.status AND kind = old.kind;
        END""",
        "CREATE TABLE history_count (one INTEGER PRIMARY KEY CHECK (one = 1), n INTEGER NOT NULL)",
        "INSERT INTO history_count (one, n) VALUES (1, 0)",
        """CREATE TRIGGER history_counted_on_insert AFTER INSERT ON history BEGIN
            UPDATE history_count SET n = n + 1;
        END""",
        """CREATE TRIGGER history_counted_on_delete AFTER DELETE ON history BEGIN
            UPDATE history_count SET n = n - 1;
        END""",
        # Record ids are handed out in blocks (see core.store.ids): the next free block per prefix.
        """CREATE TABLE id_blocks (
            prefix TEXT PRIMARY KEY,
            next_block INTEGER NOT NULL
        ) WITHOUT ROWID""",
    ),
    # 2: double opt-in consent emails the engine sent, so a later plan sends none while one is
    # pending (design §6). list_id "" is a subscribe without a list.
    (
        """CREATE TABLE consent_emails (
            profile_id TEXT NOT NULL,
            list_id TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            PRIMARY KEY (profile_id, list_id)
        ) WITHOUT ROWID""",
    ),
    # 3: the customer index (core.store.customers), a cache of what iPaaS.com served. Each
    # term is a folded value from one of its word starts on; a search is one range of its key.
    (
        """CREATE TABLE customers (
            id TEXT PRIMARY KEY,
            email TEXT,
            first_name TEXT,
            last_name TEXT,
            company TEXT,
            seen_at TEXT NOT NULL
        ) WITHOUT ROWID""",
        """CREATE TABLE customer_terms (
            term TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            PRIMARY KEY (term, customer_id)
        ) WITHOUT ROWID""",
        """CREATE TABLE customer_index_refresh (
            one INTEGER PRIMARY KEY CHECK (one = 1),
            refreshed_at TEXT NOT NULL
        )""",
    ),
)

INSERT_ERROR = (
    "INSERT INTO errors (id, customer_id, status, kind, created_at, record) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
INSERT_HISTORY_ROWS = "INSERT INTO history (id, customer_id, ok, at, entry)"
INSERT_HISTORY = f"{INSERT_HISTORY_ROWS} VALUES (?, ?, ?, ?, ?)"


def version(connection: sqlite3.Connection) -> int:
    """How many migrations the database has applied."""
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def migrate(connection: sqlite3.Connection) -> None:
    """Apply the migrations the database lacks; the caller holds a write transaction."""
    done = version(connection)
    for number, statements in enumerate(MIGRATIONS[done:], start=done + 1):
        for statement in statements:
            connection.execute(statement)
        # PRAGMA takes no parameters; `number` is an int from enumerate.
        connection.execute(f"PRAGMA user_version = {number:d}")


# One encoder for every row: json.dumps with options builds a new one per call. Records are
# trees of API values, never circular, so the check for cycles is work without a finding.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def dumps(data: Any) -> str:
    """The stored text of a record: compact JSON, non-ASCII characters as they are."""
    return _ENCODER.encode(data)


def error_row(record: ErrorRecord) -> tuple[str, str, str, str, str, str]:
    """The values of INSERT_ERROR for `record`."""
    data = record.to_json()
    return (record.id, record.customer_id, record.status.value, record.kind.value,
            record.created_at, dumps(data))


def history_row(entry: HistoryEntry) -> tuple[str, str, int, str, str]:
    """The values of INSERT_HISTORY for `entry`."""
    return (entry.id, entry.customer_id, int(entry.ok), entry.at, dumps(entry.to_json()))
