"""The error log: one record per failed transfer, kept after it is resolved."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.model import ErrorKind, ErrorRecord, ErrorStatus
from core.store.guard import refuse_secrets, usable_secrets
from core.store.segments import SegmentedTable

# Small segments keep the rewrite of one file cheap; 128 records are about 60 kB.
ERROR_SEGMENT = 128


def _facet(doc: dict[str, Any]) -> str:
    return f"{doc.get('status')}|{doc.get('kind')}"


def _is_open(doc: dict[str, Any]) -> bool:
    return doc.get("status") == ErrorStatus.OPEN.value


def _facet_filter(status: ErrorStatus | None, kind: ErrorKind | None) -> Any:
    def keep(key: str) -> bool:
        got_status, _, got_kind = key.partition("|")
        return (status is None or got_status == status.value) and (
            kind is None or got_kind == kind.value
        )

    return keep


class ErrorLog:
    """Failed transfers by id, by customer (the open one) and newest first with filters."""

    def __init__(
        self,
        state_dir: Path,
        *,
        secrets: Sequence[str] = (),
        segment_size: int = ERROR_SEGMENT,
        durable: bool = True,
    ) -> None:
        """`durable=False` skips fsync: for tests and throwaway state (a kill -9 is still safe)."""
        self._secrets = usable_secrets(secrets)
        self._table = SegmentedTable(
            Path(state_dir) / "errors", prefix="E", capacity=segment_size,
            facet=_facet, flag=_is_open, durable=durable,
        )

    def new_id(self) -> str:
        """A fresh error id ("E-000042-0031"), unique across processes and restarts."""
        return self._table.new_id()

    def add(self, record: ErrorRecord) -> None:
        """Store a new error record."""
        data = record.to_json()
        refuse_secrets(f"error record {record.id}", data, self._secrets)
        self._table.add(data)

    def add_many(self, records: Sequence[ErrorRecord]) -> None:
        """Store new records in one group commit: one flush per segment, not one per record."""
        data = [record.to_json() for record in records]
        for record, raw in zip(records, data, strict=True):
            refuse_secrets(f"error record {record.id}", raw, self._secrets)
        self._table.add_many(data)

    def update(self, record: ErrorRecord) -> None:
        """Overwrite an existing record (resolved, attempts + 1, new message)."""
        data = record.to_json()
        refuse_secrets(f"error record {record.id}", data, self._secrets)
        self._table.replace(data)

    def get(self, error_id: str) -> ErrorRecord | None:
        """The record with this id; None for an unknown or malformed id."""
        raw = self._table.get(error_id)
        return ErrorRecord.from_json(raw) if raw is not None else None

    def open_for_customer(self, customer_id: str) -> ErrorRecord | None:
        """The customer's newest open error, if any."""
        found = self._table.for_customer(str(customer_id), flagged=True, keep=_is_open, limit=1)
        return ErrorRecord.from_json(found[0]) if found else None

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
        keep = _facet_filter(status, kind)
        offset = max(0, offset)
        if customer_id is not None:
            raws = self._table.for_customer(
                str(customer_id), keep=lambda doc: keep(_facet(doc)), offset=offset, limit=limit
            )
        else:
            raws = self._table.newest(keep, offset=offset, limit=limit)
        return [ErrorRecord.from_json(raw) for raw in raws]

    def count(self, *, status: ErrorStatus | None = None, kind: ErrorKind | None = None) -> int:
        """How many records match, without reading them."""
        return self._table.count(_facet_filter(status, kind))

    def verify(self) -> list[str]:
        """Inconsistencies between index files and records, in words (empty = consistent)."""
        return self._table.verify()

    def rebuild(self) -> None:
        """Recompute the index files from the records."""
        self._table.rebuild()

    def close(self) -> None:
        self._table.close()
