"""Record ids like "E-000042-0031": a block reserved in the database, then a slot in it."""

from __future__ import annotations

import os
import re
import threading

from core.store.database import Database

# Ids per reserved block: one small write transaction per this many new ids.
BLOCK = 1000


class IdBlocks:
    """Fresh ids for one record type, unique across threads, processes and restarts."""

    def __init__(self, database: Database, prefix: str, table: str) -> None:
        self._database = database
        self._prefix = prefix
        self._table = table
        self._pattern = re.compile(rf"^{re.escape(prefix)}-\d{{6,}}-\d{{4}}$")
        self._lock = threading.Lock()
        self._pid = -1
        self._block = 0
        self._slot = BLOCK

    def new_id(self) -> str:
        """The next id of this process's block; a new block when it is used up."""
        with self._lock:
            # A forked child must not hand out its parent's remaining ids again.
            if self._slot >= BLOCK or self._pid != os.getpid():
                self._block = self._database.next_block(self._prefix, self._table)
                self._slot = 0
                self._pid = os.getpid()
            slot = self._slot
            self._slot += 1
            return f"{self._prefix}-{self._block:06d}-{slot:04d}"

    def is_ours(self, record_id: object) -> bool:
        """Whether `record_id` has the shape new_id() gives."""
        return isinstance(record_id, str) and self._pattern.match(record_id) is not None

    def require(self, record_id: str) -> None:
        if not self.is_ours(record_id):
            raise ValueError(
                f"record id {record_id!r} was not made by new_id() of this store "
                f"(expected {self._prefix}-NNNNNN-NNNN)"
            )
