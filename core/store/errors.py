"""The error log: one record per failed transfer, kept after it is resolved."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.model import ErrorKind, ErrorRecord, ErrorStatus
from core.store import schema
from core.store.database import Database
from core.store.guard import refuse_secrets, usable_secrets
from core.store.ids import IdBlocks


def _record(raw: str) -> ErrorRecord:
    # Parsed from the stored text on every read: each caller gets its own copy.
    return ErrorRecord.from_json(json.loads(raw))


class ErrorLog:
    """Failed transfers by id, by customer (the open one) and newest first with filters."""

    def __init__(
        self, state_dir: Path, *, secrets: Sequence[str] = (), durable: bool = True
    ) -> None:
        """`durable=False` commits without fsync: for tests and throwaway state."""
        self._secrets = usable_secrets(secrets)
        self._db = Database(state_dir, durable=durable)
        self._ids = IdBlocks(self._db, "E", "errors")

    def new_id(self) -> str:
        """A fresh error id ("E-000042-0031"), unique across processes and restarts."""
        return self._ids.new_id()

    def add(self, record: ErrorRecord) -> None:
        """Store a new error record."""
        self.add_many([record])

    def add_many(self, records: Sequence[ErrorRecord]) -> None:
        """Store new records in one transaction: all of them or, if one is refused, none."""
        rows = [self._row(record) for record in records]
        ids = [row[0] for row in rows]
        if len(set(ids)) != len(ids):
            raise ValueError("the same record id is given twice; each record needs new_id()")
        if not rows:
            return
        with self._db.writing() as connection:
            for row in rows:
                try:
                    connection.execute(schema.INSERT_ERROR, row)
                except sqlite3.IntegrityError:
                    raise ValueError(f"record {row[0]} already exists; use update()") from None

    def update(self, record: ErrorRecord) -> None:
        """Overwrite an existing record (resolved, attempts + 1, new message)."""
        _, customer_id, *indexed, raw = self._row(record)
        with self._db.writing() as connection:
            found = connection.execute(
                "SELECT customer_id, status, kind, created_at FROM errors WHERE id = ?",
                (record.id,),
            ).fetchone()
            if found is None:
                raise ValueError(f"record {record.id} does not exist; use add()")
            if found[0] != customer_id:
                raise ValueError(
                    f"record {record.id} belongs to customer {found[0]}; "
                    "its customer cannot change"
                )
            # SQLite rewrites the index entries of every column it is told to set, changed or
            # not: setting only what changed keeps a typical update to one page.
            changed = {column: value for column, old, value
                       in zip(("status", "kind", "created_at"), found[1:], indexed, strict=True)
                       if old != value}
            assignments = "".join(f"{column} = ?, " for column in changed)
            connection.execute(
                f"UPDATE errors SET {assignments}record = ? WHERE id = ?",
                (*changed.values(), raw, record.id),
            )

    def prune(self, before: str) -> int:
        """Delete RESOLVED records last touched before `before` (ISO 8601 UTC); open records
        stay whatever their age. How many went."""
        with self._db.writing() as connection:
            return connection.execute(
                "DELETE FROM errors WHERE status = ? AND json_extract(record, '$.updated_at') < ?",
                (ErrorStatus.RESOLVED.value, before),
            ).rowcount

    def get(self, error_id: str) -> ErrorRecord | None:
        """The record with this id; None for an unknown or malformed id."""
        found = self._db.rows("SELECT record FROM errors WHERE id = ?", (str(error_id),))
        return _record(found[0][0]) if found else None

    def open_for_customer(self, customer_id: str) -> ErrorRecord | None:
        """The customer's newest open error, if any."""
        found = self._db.rows(
            "SELECT record FROM errors WHERE customer_id = ? AND status = ? "
            "ORDER BY seq DESC LIMIT 1",
            (str(customer_id), ErrorStatus.OPEN.value),
        )
        return _record(found[0][0]) if found else None

    def query(
        self,
        *,
        status: ErrorStatus | None = None,
        kind: ErrorKind | None = None,
        customer_id: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[ErrorRecord]:
        """Records newest first, filtered, then `offset` skipped and at most `limit` returned."""
        if limit is not None and limit <= 0:
            return []
        where, params = _filters(status=status, kind=kind, customer_id=customer_id)
        found = self._db.rows(
            f"SELECT record FROM errors{where} ORDER BY seq DESC LIMIT ? OFFSET ?",
            (*params, -1 if limit is None else limit, max(0, offset)),
        )
        return [_record(raw) for (raw,) in found]

    def count(self, *, status: ErrorStatus | None = None, kind: ErrorKind | None = None) -> int:
        """How many records match, from the counts kept beside the records (no scan)."""
        where, params = _filters(status=status, kind=kind)
        [(total,)] = self._db.rows(
            f"SELECT coalesce(sum(n), 0) FROM error_counts{where}", params
        )
        return int(total)

    def verify(self) -> list[str]:
        """What is wrong with the store's file, in words (empty = consistent)."""
        return self._db.problems()

    def rebuild(self) -> None:
        """Rebuild the indexes and the kept counts from the records."""
        self._db.rebuild()

    def close(self) -> None:
        self._db.close()

    def _row(self, record: ErrorRecord) -> tuple[str, ...]:
        self._ids.require(record.id)
        refuse_secrets(f"error record {record.id}", record.to_json(), self._secrets)
        return schema.error_row(record)


def _filters(**equal: Any) -> tuple[str, list[Any]]:
    """A WHERE clause (column = ? for every value given) and its parameters."""
    given = {column: value for column, value in equal.items() if value is not None}
    if not given:
        return "", []
    clause = " AND ".join(f"{column} = ?" for column in given)
    return f" WHERE {clause}", [str(value) for value in given.values()]

