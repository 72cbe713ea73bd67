"""The push history and the small settings store."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.store import History, KeyValue

from .conftest import entry


def test_history_by_customer_and_recent_are_newest_first(tmp_path: Path) -> None:
    history = History(tmp_path)
    entries = [entry(history.new_id(), str(n % 3), ok=n % 4 != 0) for n in range(10)]
    for item in entries:
        history.add(item)
    assert history.for_customer("1") == [e for e in reversed(entries) if e.customer_id == "1"]
    assert history.for_customer("1", limit=2) == history.for_customer("1")[:2]
    assert history.for_customer("nobody") == []
    assert history.recent(4) == list(reversed(entries))[:4]
    assert history.recent(4, offset=8) == list(reversed(entries))[8:]
    assert history.get(entries[4].id) == entries[4]
    assert history.count() == 10
    assert History(tmp_path).recent(50) == list(reversed(entries))
    assert history.verify() == []


def test_history_keeps_consent_and_list_operations(tmp_path: Path) -> None:
    history = History(tmp_path)
    item = entry(
        history.new_id(),
        consent=({"channel": "email", "action": "subscribe", "list": None},),
        lists=({"list": "VIP", "action": "add"},),
        error_id="E-000000-0001",
        trigger="batch",
    )
    history.add(item)
    assert history.get(item.id) == item


def test_mutating_a_returned_entry_does_not_change_the_store(tmp_path: Path) -> None:
    history = History(tmp_path)
    item = entry(history.new_id(), consent=({"channel": "email", "action": "subscribe"},))
    history.add(item)
    reads = {
        "get": lambda: history.get(item.id),
        "for_customer": lambda: history.for_customer("55260")[0],
        "recent": lambda: history.recent(1)[0],
    }
    for name, read in reads.items():
        got = read()
        assert got == item, name
        assert got is not None and got.before is not None and got.sent is not None
        got.before["first_name"] = "changed"
        got.sent["data"]["attributes"].clear()
        got.consent[0]["action"] = "unsubscribe"
        again = read()
        assert again == item, name
        assert again is not None and again.before == {"first_name": "Ann"}, name


def test_changing_an_added_entry_afterwards_does_not_change_the_store(tmp_path: Path) -> None:
    history = History(tmp_path)
    before: dict[str, object] = {"first_name": "Ann"}
    item = entry(history.new_id(), before=before)
    history.add(item)
    before["first_name"] = "changed after add"
    got = history.get(item.id)
    assert got is not None and got.before == {"first_name": "Ann"}


def test_key_value_round_trips_and_is_shared_between_instances(tmp_path: Path) -> None:
    settings = KeyValue(tmp_path, "recent")
    assert settings.get("lookups") is None
    assert settings.get("lookups", []) == []
    settings.set("lookups", ["55260", "55261"])
    settings.set("lists", {"VIP": "Xy12"})
    other = KeyValue(tmp_path, "recent")
    assert other.get("lookups") == ["55260", "55261"]
    other.set("lookups", ["1"])
    assert settings.get("lookups") == ["1"]
    assert settings.items() == {"lookups": ["1"], "lists": {"VIP": "Xy12"}}
    settings.delete("lists")
    assert other.get("lists") is None


def test_key_value_refuses_bad_names_and_values(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="settings name"):
        KeyValue(tmp_path, "../escape")
    settings = KeyValue(tmp_path, "ok")
    with pytest.raises(ValueError, match=r"ok\.when must be JSON"):
        settings.set("when", object())
