"""The console and a `sync --all` writing one state dir at the same time lose no record."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from core.model import ErrorStatus
from core.store import ErrorLog, History, KeyValue
from tests.e2e.conftest import CLEARED_ENV

from .conftest import entry, error, tries

FORK = multiprocessing.get_context("fork")
# Read from the shipped demo data, so a change to it cannot silently break this count.
DEMO_CUSTOMERS = len(json.loads(
    (Path(__file__).parents[2] / "core" / "sandbox" / "demo.json").read_text(encoding="utf-8")
)["customers"])


def _console(state: Path, stop: Any, out: Any) -> None:
    """Child: what an operator's console writes (pushes, errors, retries, recent lookups)
    until told to stop; reports every committed id."""
    log, history = ErrorLog(state), History(state)
    recent, cache = KeyValue(state, "recent"), KeyValue(state, "cache")
    errors: list[str] = []
    entries: list[str] = []
    n = 0
    while not stop.is_set() or n < 20:
        record = error(log.new_id(), f"console-{n % 7}")
        log.add(record)
        errors.append(record.id)
        item = entry(history.new_id(), f"console-{n % 7}", trigger="manual")
        history.add(item)
        entries.append(item.id)
        if n % 3 == 0:
            log.update(dataclasses.replace(record, status=ErrorStatus.RESOLVED, attempts=tries(2)))
        recent.set("lookups", [f"console-{n}"])
        cache.set("console-seen", n)
        n += 1
    out.put({"errors": errors, "history": entries, "last": n - 1})


def test_console_and_sync_all_at_once_lose_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
               XDG_DATA_HOME=str(tmp_path / "xdg-data"), KLAVIYO_CONSOLE_RETRY_ATTEMPTS="1")
    stop, out = FORK.Event(), FORK.Queue()
    console = FORK.Process(target=_console, args=(state, stop, out))
    console.start()
    try:
        sync = subprocess.run(
            [sys.executable, "-c", "import sys; from console.cli import main; sys.exit(main())",
             "--sandbox", "--state-dir", str(state), "sync", "--all", "--json"],
            env=env, capture_output=True, text=True, timeout=300, check=False,
        )
    finally:
        stop.set()
    wrote = out.get(timeout=120)
    console.join()
    assert console.exitcode == 0
    assert sync.returncode in (0, 1), sync.stderr
    summary = json.loads(sync.stdout)
    assert summary["processed"] == DEMO_CUSTOMERS

    log, history = ErrorLog(state), History(state)
    assert log.verify() == []
    stored_errors = {r.id: r for r in log.query()}
    stored_entries = {e.id: e for e in history.recent(100_000)}
    assert set(wrote["errors"]) <= set(stored_errors)
    assert set(wrote["history"]) <= set(stored_entries)
    resolved = wrote["errors"][::3]
    assert all(stored_errors[i].status is ErrorStatus.RESOLVED for i in resolved)
    # Every customer the sync processed has its entry, and every failure its open record.
    assert history.count() == len(wrote["history"]) + DEMO_CUSTOMERS
    synced = {e.customer_id for e in stored_entries.values() if e.trigger != "manual"}
    assert len(synced) == DEMO_CUSTOMERS
    assert log.count() == len(wrote["errors"]) + summary["failed"] + summary["held"]
    # Settings written by both: neither write replaced the other's key.
    cache = KeyValue(state, "cache").items()
    assert cache["console-seen"] == wrote["last"]
    assert "lists" in cache
    assert KeyValue(state, "recent").get("lookups") == [f"console-{wrote['last']}"]
