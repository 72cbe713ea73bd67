"""`klaviyo-console undo`: the reverse of pushes, previewed, then run as a push runs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import Cli, customer

SEEDED = {"attributes": {"email": "ann@example.com", "first_name": "Anne", "last_name": "Dupont",
                         "external_id": "70"},
          "subscriptions": {"email": "SUBSCRIBED"}}


def seed(cli: Cli) -> None:
    cli.seed([customer(70, email="ann@example.com", first="Ann", last="Dupont",
                       company="Dupont Floral"),
              customer(71, email="new@example.com", first="Emma", last="Johnson")],
             profiles=[SEEDED], links={"70": "ann@example.com"})


def profile(cli: Cli, email: str) -> dict[str, Any]:
    [found] = cli.profiles_with(email=email)
    return found


def last_entry(cli: Cli, customer_id: str) -> dict[str, Any]:
    _, entries = cli.json("history", customer_id)
    return entries[0]


def members(cli: Cli, list_name: str) -> set[str]:
    state = cli.state()["klaviyo"]
    list_id = next(item["id"] for item in state["lists"] if item["name"] == list_name)
    return set(state["members"].get(list_id, {}))


def edit_in_klaviyo(cli: Cli, email: str, **attrs: Any) -> None:
    """Change a profile behind the console's back, as someone in Klaviyo would."""
    path = cli.state_dir / "sandbox" / "state.json"
    state = json.loads(path.read_text(encoding="utf-8"))
    for item in state["klaviyo"]["profiles"]:
        if item["attributes"].get("email") == email:
            item["attributes"].update(attrs)
    path.write_text(json.dumps(state), encoding="utf-8")


def test_undo_previews_then_puts_the_profile_back_and_records_it(cli: Cli) -> None:
    seed(cli)
    assert cli.json("push", "70", "--yes")[0] == 0
    pushed = last_entry(cli, "70")
    assert profile(cli, "ann@example.com")["attributes"]["first_name"] == "Ann"

    code, doc = cli.json("undo", pushed["id"])
    assert code == 0 and doc["applied"] is False
    [undo] = doc["undos"]
    assert undo["history_id"] == pushed["id"] and undo["outcome"] == "planned"
    assert undo["payload"]["data"]["attributes"]["first_name"] == "Anne"
    assert undo["payload"]["data"]["attributes"]["organization"] is None
    assert profile(cli, "ann@example.com")["attributes"]["first_name"] == "Ann"  # preview only

    code, doc = cli.json("undo", pushed["id"], "--yes")
    assert code == 0 and doc["undos"][0]["outcome"] == "done"
    attributes = profile(cli, "ann@example.com")["attributes"]
    assert attributes["first_name"] == "Anne" and "organization" not in attributes
    recorded = last_entry(cli, "70")
    assert recorded["trigger"] == "undo" and recorded["id"] != pushed["id"]
    assert recorded["ok"] is True

    code, doc = cli.json("undo", pushed["id"], "--yes")
    assert code == 0 and doc["undos"][0]["outcome"] == "nothing"


def test_a_field_changed_in_klaviyo_since_is_left_alone_and_named(cli: Cli) -> None:
    seed(cli)
    cli.json("push", "70", "--yes")
    pushed = last_entry(cli, "70")
    edit_in_klaviyo(cli, "ann@example.com", first_name="Annie")

    code, doc = cli.json("undo", pushed["id"], "--yes")
    assert code == 0
    [conflict] = doc["undos"][0]["conflicts"]
    assert conflict == {"field": "first_name", "live": "Annie", "pushed": "Ann",
                        "before": "Anne"}
    attributes = profile(cli, "ann@example.com")["attributes"]
    assert attributes["first_name"] == "Annie" and "organization" not in attributes

    code, out, _ = cli.run("undo", pushed["id"])
    assert "first_name changed in Klaviyo since the push" in out


def test_a_created_profile_is_kept_its_list_addition_removed_consent_shown(cli: Cli) -> None:
    seed(cli)
    cli.json("push", "71", "--yes")
    pushed = last_entry(cli, "71")
    assert pushed["route"] == "create"
    created = profile(cli, "new@example.com")
    assert created["id"] in members(cli, "Preview List")

    code, doc = cli.json("undo", pushed["id"], "--yes")
    assert code == 0
    [undo] = doc["undos"]
    assert [item["action"] for item in undo["lists"]] == ["remove"]
    assert any("never deletes" in note for note in undo["notes"])
    assert undo["consent_done"] and all(c["reverse"] for c in undo["consent_done"])
    assert undo["consent"] == []  # never reversed automatically
    after = profile(cli, "new@example.com")
    assert after["id"] == created["id"]
    assert "first_name" not in after["attributes"]
    assert created["id"] not in members(cli, "Preview List")
    recorded = last_entry(cli, "71")
    assert recorded["trigger"] == "undo"
    assert recorded["lists"] == [{"list": "Preview List", "action": "remove"}]
    assert recorded["consent"] == []


def test_a_failed_undo_is_logged_and_running_it_again_finishes_it(
        cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(cli)
    cli.json("push", "70", "--yes")
    pushed = last_entry(cli, "70")
    monkeypatch.setenv("SANDBOX_KLAVIYO_DOWN", "1")
    code, doc = cli.json("undo", pushed["id"], "--yes")
    assert code == 1 and doc["undos"][0]["outcome"] == "failed"
    _, [record] = cli.json("errors", "--status", "open")
    assert record["kind"] == "api_unavailable"
    assert record["undo_of"] == pushed["id"] and f"undo {pushed['id']}" in record["retry_action"]
    assert last_entry(cli, "70")["trigger"] == "undo"

    monkeypatch.delenv("SANDBOX_KLAVIYO_DOWN")
    code, doc = cli.json("undo", pushed["id"], "--yes")
    assert code == 0 and doc["undos"][0]["outcome"] == "done"
    assert profile(cli, "ann@example.com")["attributes"]["first_name"] == "Anne"


def test_retry_of_a_failed_undo_undoes_again_instead_of_pushing(
        cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(cli)
    cli.json("push", "70", "--yes")
    pushed = last_entry(cli, "70")
    monkeypatch.setenv("SANDBOX_KLAVIYO_DOWN", "1")
    assert cli.json("undo", pushed["id"], "--yes")[0] == 1
    monkeypatch.delenv("SANDBOX_KLAVIYO_DOWN")

    code, _, err = cli.run("retry", "--all")
    assert code == 0, err
    attributes = profile(cli, "ann@example.com")["attributes"]
    assert attributes["first_name"] == "Anne" and "organization" not in attributes
    assert last_entry(cli, "70")["trigger"] == "undo"
    _, errors = cli.json("errors", "--status", "open")
    assert errors == []


def test_undo_since_a_time_of_one_trigger_unwinds_a_batch(cli: Cli) -> None:
    seed(cli)
    cli.json("push", "70", "--yes")
    manual = last_entry(cli, "70")
    edit_in_klaviyo(cli, "ann@example.com", first_name="Anne")
    cli.run("sync", "70", "71", "--allow-unsubscribe")
    _, entries = cli.json("history")
    batch = [e for e in entries if e["trigger"] == "batch"]
    assert {e["customer_id"] for e in batch} == {"70", "71"}

    code, doc = cli.json("undo", "--since", manual["at"], "--trigger", "batch", "--yes")
    assert code == 0
    assert sorted(u["history_id"] for u in doc["undos"]) == sorted(e["id"] for e in batch)
    assert profile(cli, "ann@example.com")["attributes"]["first_name"] == "Anne"
    assert "first_name" not in profile(cli, "new@example.com")["attributes"]


@pytest.mark.parametrize("args", [
    ["undo"],
    ["undo", "H-1", "--since", "2026-12-01"],
    ["undo", "H-1", "--trigger", "batch"],
    ["undo", "--since", "yesterday"],
])
def test_undo_usage_mistakes_exit_2(cli: Cli, args: list[str]) -> None:
    cli.seed([])
    code, out, err = cli.run(*args)
    assert code == 2 and out == "" and err.startswith("klaviyo-console: ")


def test_an_unknown_history_id_exits_1(cli: Cli) -> None:
    cli.seed([])
    code, _, err = cli.run("undo", "H-999999-0000")
    assert code == 1 and "no history entry H-999999-0000" in err
