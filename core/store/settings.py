"""Small settings (recent lookups, list-name cache): one TinyDB file per name."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tinydb import Query, TinyDB
from tinydb.storages import Storage

from core.store.atomic import atomic_write_bytes
from core.store.database import BUSY_TIMEOUT_S, StoreError
from core.store.guard import refuse_secrets, usable_secrets

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class AtomicJSONStorage(Storage):
    """TinyDB storage that replaces the whole file atomically, so a reader never sees half."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, dict[str, Any]] | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise StoreError(
                f"{self.path} is not valid JSON ({exc}); move it aside and it starts empty"
            ) from None
        if not isinstance(data, dict):
            raise StoreError(f"{self.path} does not hold TinyDB tables; move it aside")
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        atomic_write_bytes(self.path, json.dumps(data, ensure_ascii=False).encode("utf-8"))


class KeyValue:
    """A few JSON values by key; every read sees other processes' writes."""

    def __init__(self, state_dir: Path, name: str, *, secrets: Sequence[str] = ()) -> None:
        if not isinstance(name, str) or not _NAME.match(name) or name.endswith(".json"):
            raise ValueError(
                f"settings name {name!r} must be letters, digits, '_', '-' or '.' (max 64)"
            )
        folder = Path(state_dir) / "settings"
        folder.mkdir(parents=True, exist_ok=True)
        self._secrets = usable_secrets(secrets)
        self._name = name
        self._mutex = threading.Lock()
        # SQLite's file lock is the portable one (Windows and POSIX) and is released when a
        # process dies; this database holds nothing, it only serialises the file's writers.
        self._lock = sqlite3.connect(
            folder / f".{name}.lock.sqlite3", timeout=BUSY_TIMEOUT_S, isolation_level=None,
            check_same_thread=False,
        )
        # No cache: the file is small and another process may have changed it.
        self._db = TinyDB(str(folder / f"{name}.json"), storage=AtomicJSONStorage)
        self._table = self._db.table("values", cache_size=0)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._mutex:
            self._lock.execute("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                self._lock.execute("ROLLBACK")

    def get(self, key: str, default: Any = None) -> Any:
        """The value stored under `key`, else `default`."""
        # Reads lock too: on Windows a file another process is reading cannot be replaced.
        with self._locked():
            doc = self._table.get(Query().key == key)
        return doc["value"] if doc is not None else default

    def set(self, key: str, value: Any) -> None:
        """Store a JSON value (text, number, bool, None, list, object) under `key`."""
        if not isinstance(key, str) or not key:
            raise ValueError(f"setting key must be non-empty text, got {key!r}")
        try:
            value = json.loads(json.dumps(value))
        except (TypeError, ValueError):
            raise ValueError(
                f"setting {self._name}.{key} must be JSON (text, number, list, object), "
                f"got {type(value).__name__}"
            ) from None
        refuse_secrets(f"a key of settings {self._name}", key, self._secrets)
        refuse_secrets(f"setting {self._name}.{key}", value, self._secrets)
        with self._locked():
            self._table.upsert({"key": key, "value": value}, Query().key == key)

    def delete(self, key: str) -> None:
        with self._locked():
            self._table.remove(Query().key == key)

    def items(self) -> dict[str, Any]:
        with self._locked():
            return {str(doc["key"]): doc["value"] for doc in self._table.all()}
