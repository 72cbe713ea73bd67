"""Klaviyo lists by name, cached in memory and in the state dir for a quarter of an hour."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from core.model import KlaviyoList, OptIn
from core.store import KeyValue

# A list's id and opt-in process change rarely; a cached name saves a round trip per preview.
LIST_CACHE_TTL = 15 * 60.0


class ListCache:
    """List names -> lists, kept in memory and in the state dir; misses are never cached."""

    def __init__(self, store: KeyValue | None, clock: Any = time.time) -> None:
        self._store = store
        self._clock = clock
        self._memory: dict[str, KlaviyoList] = {}
        self._loaded = False

    def get(self, name: str) -> KlaviyoList | None:
        self._load()
        return self._memory.get(name)

    def put(self, found: KlaviyoList) -> None:
        self._load()
        self._memory[found.name] = found
        self._save()

    def forget(self, name: str) -> None:
        self._load()
        if self._memory.pop(name, None) is not None:
            self._save()

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if self._store is None:
            return
        raw = self._store.get("lists", None)
        if not isinstance(raw, Mapping):
            return
        fresh_after = self._clock() - LIST_CACHE_TTL
        for name, item in raw.items():
            try:
                if float(item["at"]) >= fresh_after:
                    self._memory[str(name)] = KlaviyoList(
                        id=str(item["id"]), name=str(name), opt_in_process=OptIn(item["opt_in"])
                    )
            except (KeyError, TypeError, ValueError):
                continue

    def _save(self) -> None:
        if self._store is None:
            return
        stamp = self._clock()
        self._store.set(
            "lists",
            {
                name: {"id": item.id, "opt_in": item.opt_in_process.value, "at": stamp}
                for name, item in self._memory.items()
            },
        )
