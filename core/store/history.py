"""The push history: before, sent, after, consent and list operations, outcome."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from core.model import HistoryEntry
from core.store import schema
from core.store.database import Database, insert_rows
from core.store.guard import refuse_secrets, usable_secrets
from core.store.ids import IdBlocks


def _entry(raw: str) -> HistoryEntry:
    # Parsed from the stored text on every read: each caller gets its own snapshots.
    return HistoryEntry.from_json(json.loads(raw))


class History:
    """Every push, by customer and newest first."""

    def __init__(
        self, state_dir: Path, *, secrets: Sequence[str] = (), durable: bool = True
    ) -> None:
        """`durable=False` commits without fsync: for tests and throwaway state."""
        self._secrets = usable_secrets(secrets)
        # A secret that JSON writes as it is shows in an entry's stored text wherever the entry
        # holds it: one search of that text, and the walk over the entry only to name the field.
        self._verbatim = all(json.dumps(s, ensure_ascii=False)[1:-1] == s for s in self._secrets)
        self._db = Database(state_dir, durable=durable)
        self._ids = IdBlocks(self._db, "H", "history")

    def new_id(self) -> str:
        """A fresh history id ("H-000042-0031"), unique across processes and restarts."""
        return self._ids.new_id()

    def add(self, entry: HistoryEntry) -> None:
        """Record one push."""
        self.add_many([entry])

    def add_many(self, entries: Sequence[HistoryEntry]) -> None:
        """Record several pushes in one transaction (one commit, one fsync).

        Returns once every entry is on disk, like add(); nothing is stored if one is refused.
        """
        rows = [self._row(entry) for entry in entries]
        ids = [row[0] for row in rows]
        if len(set(ids)) != len(ids):
            raise ValueError("the same entry id is given twice; each entry needs new_id()")
        if not rows:
            return
        with self._db.writing() as connection:
            try:
                insert_rows(connection, schema.INSERT_HISTORY_ROWS, rows)
            except sqlite3.IntegrityError as exc:
                # Back to what was stored before, so an id found stored was taken earlier.
                connection.execute("ROLLBACK")
                taken = next((i for i in ids if connection.execute(
                    "SELECT 1 FROM history WHERE id = ?", (i,)).fetchone()), None)
                if taken is None:
                    raise ValueError(f"history entries not stored: {exc}") from None
                raise ValueError(f"history entry {taken} already exists") from None

    def prune(self, before: str) -> int:
        """Delete the entries pushed before `before` (ISO 8601 UTC); how many went."""
        with self._db.writing() as connection:
            return connection.execute("DELETE FROM history WHERE at < ?", (before,)).rowcount

    def get(self, entry_id: str) -> HistoryEntry | None:
        found = self._db.rows("SELECT entry FROM history WHERE id = ?", (str(entry_id),))
        return _entry(found[0][0]) if found else None

    def for_customer(self, customer_id: str, limit: int | None = None) -> list[HistoryEntry]:
        """The customer's pushes, newest first."""
        if limit is not None and limit <= 0:
            return []
        found = self._db.rows(
            "SELECT entry FROM history WHERE customer_id = ? ORDER BY seq DESC LIMIT ?",
            (str(customer_id), -1 if limit is None else limit),
        )
        return [_entry(raw) for (raw,) in found]

    def recent(self, limit: int = 50, *, offset: int = 0) -> list[HistoryEntry]:
        """The newest pushes over all customers."""
        if limit <= 0:
            return []
        found = self._db.rows(
            "SELECT entry FROM history ORDER BY seq DESC LIMIT ? OFFSET ?",
            (limit, max(0, offset)),
        )
        return [_entry(raw) for (raw,) in found]

    def count(self) -> int:
        """How many entries there are, from the count kept beside them (no scan)."""
        [(total,)] = self._db.rows("SELECT n FROM history_count")
        return int(total)

    def verify(self) -> list[str]:
        """What is wrong with the store's file, in words (empty = consistent)."""
        return self._db.problems()

    def rebuild(self) -> None:
        self._db.rebuild()

    def close(self) -> None:
        self._db.close()

    def _row(self, entry: HistoryEntry) -> tuple[str, str, int, str, str]:
        self._ids.require(entry.id)
        row = schema.history_row(entry)
        if self._secrets and (not self._verbatim or any(s in row[4] for s in self._secrets)):
            refuse_secrets(f"history entry {entry.id}", entry.to_json(), self._secrets)
        return row
