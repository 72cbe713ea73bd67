"""The push history: before, sent, after, consent and list operations, outcome."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.model import HistoryEntry
from core.store.guard import refuse_secrets, usable_secrets
from core.store.segments import SegmentedTable

# Entries carry three profile snapshots (a few kB each), so segments hold fewer of them.
HISTORY_SEGMENT = 32


def _facet(doc: dict[str, Any]) -> str:
    return "ok" if doc.get("ok") else "failed"


def _entry(raw: dict[str, Any]) -> HistoryEntry:
    # Deep copy: the snapshots are shared with the segment cache and callers may mutate them.
    return HistoryEntry.from_json(copy.deepcopy(raw))


class History:
    """Every push, by customer and newest first."""

    def __init__(
        self,
        state_dir: Path,
        *,
        secrets: Sequence[str] = (),
        segment_size: int = HISTORY_SEGMENT,
        durable: bool = True,
    ) -> None:
        """`durable=False` skips fsync: for tests and throwaway state (a kill -9 is still safe)."""
        self._secrets = usable_secrets(secrets)
        self._table = SegmentedTable(
            Path(state_dir) / "history", prefix="H", capacity=segment_size, facet=_facet,
            durable=durable,
        )

    def new_id(self) -> str:
        """A fresh history id ("H-000042-0031"), unique across processes and restarts."""
        return self._table.new_id()

    def add(self, entry: HistoryEntry) -> None:
        """Record one push."""
        data = entry.to_json()
        refuse_secrets(f"history entry {entry.id}", data, self._secrets)
        self._table.add(data)

    def add_many(self, entries: Sequence[HistoryEntry]) -> None:
        """Record several pushes in one group commit: one flush per segment, not one per entry.

        Returns once every entry is on disk, like add(); nothing is stored if one holds a secret.
        """
        data = [entry.to_json() for entry in entries]
        for entry, raw in zip(entries, data, strict=True):
            refuse_secrets(f"history entry {entry.id}", raw, self._secrets)
        self._table.add_many(data)

    def get(self, entry_id: str) -> HistoryEntry | None:
        raw = self._table.get(entry_id)
        return _entry(raw) if raw is not None else None

    def for_customer(self, customer_id: str, limit: int | None = None) -> list[HistoryEntry]:
        """The customer's pushes, newest first."""
        return [_entry(r) for r in self._table.for_customer(str(customer_id), limit=limit)]

    def recent(self, limit: int = 50, *, offset: int = 0) -> list[HistoryEntry]:
        """The newest pushes over all customers."""
        raws = self._table.newest(lambda _: True, offset=max(0, offset), limit=limit)
        return [_entry(r) for r in raws]

    def count(self) -> int:
        return self._table.count(lambda _: True)

    def verify(self) -> list[str]:
        """Inconsistencies between index files and records, in words (empty = consistent)."""
        return self._table.verify()

    def rebuild(self) -> None:
        self._table.rebuild()

    def close(self) -> None:
        self._table.close()
