"""Routes beyond the spec's scenarios, the consent guard, recovery and idempotency, via the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.sandbox import DEMO_SEED
from tests.e2e.conftest import SINGLE_OPT_IN_ACCOUNT, Cli, customer

ANN = "01JGFJK6QFB96KRART17WEJVYY"
BEN = "01JGFJKXXWB96KRART17WEWES9"
GONE = "01JGFJZZZZB96KRART17WZZZZZ"


def test_stale_link_warns_and_recreates_then_stores_the_new_link(cli: Cli) -> None:
    cli.seed([customer(10, email="stale@example.com")], links={"10": GONE})

    code, preview = cli.json("preview", "10")
    assert code == 0
    assert preview["route"] == "create"
    assert any(GONE in w for w in preview["warnings"])

    code, doc = cli.json("push", "10", "--yes")
    assert code == 0, doc
    assert doc["profile_id"] != GONE
    assert cli.link_of("10") == doc["profile_id"]


def test_conflicting_identifiers_link_by_email_and_leave_the_phone_out(cli: Cli) -> None:
    cli.seed(
        [customer(20, email="ann@example.com", number="(312) 204-1187")],
        profiles=[{"id": ANN, "attributes": {"email": "ann@example.com"}},
                  {"id": BEN, "attributes": {"phone_number": "+13122041187"}}],
    )

    code, doc = cli.json("push", "20", "--yes")

    assert code == 0, doc
    assert doc["route"] == "link" and doc["matched_by"] == "email"
    assert doc["profile_id"] == ANN
    assert "phone_number" not in doc["payload"]["data"]["attributes"]
    assert any(ANN in w and BEN in w for w in doc["warnings"])
    [ben] = cli.profiles_with(phone_number="+13122041187")
    assert ben["id"] == BEN


def test_missing_list_blocks_the_push_and_names_the_list(cli: Cli) -> None:
    cli.seed([customer(30, email="l@example.com")],
             lists=[{"name": "Sms Subscribers", "opt_in_process": "double_opt_in"}])

    code, doc = cli.json("push", "30", "--yes")

    assert code == 1
    assert doc["route"] == "blocked"
    assert any("Preview List" in e for e in doc["errors"])
    _, errors = cli.json("errors")
    assert errors[0]["kind"] == "list_not_found"
    assert "Preview List" in errors[0]["retry_action"]
    assert cli.state()["klaviyo"]["profiles"] == []


def test_consent_guard_holds_without_yes_and_applies_with_it(
        cli: Cli, custom_template: Path) -> None:
    # Issue 14: an empty SubscribeProfile is held; the customer's own "false" would not be.
    cli.seed([customer(40, email="sub@example.com")],
             profiles=[{"id": ANN, "attributes": {"email": "sub@example.com"},
                        "subscriptions": {"email": "SUBSCRIBED"}}])

    code, out, _ = cli.run("push", "40")
    assert code == 1
    assert "held by the consent guard: rerun with --yes to confirm" in out
    assert "unsubscribe" in out
    [profile] = cli.profiles_with(email="sub@example.com")
    assert profile["email_marketing"]["consent"] == "SUBSCRIBED"
    _, errors = cli.json("errors")
    assert errors == []  # a held manual push asks the operator; nothing failed

    code, held = cli.json("push", "40")
    assert code == 1 and held["held"] is True and held["ok"] is False

    code, doc = cli.json("push", "40", "--yes")
    assert code == 0, doc
    [profile] = cli.profiles_with(email="sub@example.com")
    assert profile["email_marketing"]["consent"] == "UNSUBSCRIBED"


def test_batch_holds_guarded_records_unless_allowed(cli: Cli, custom_template: Path) -> None:
    cli.seed(
        [customer(50, email="keep@example.com"),  # SubscribeProfile empty: held
         customer(51, email="plain@example.com", fields={"SubscribeProfile": "true"})],
        profiles=[{"id": ANN, "attributes": {"email": "keep@example.com"},
                   "subscriptions": {"email": "SUBSCRIBED"}}],
    )

    code, summary = cli.json("sync", "50", "51")
    assert code == 1
    assert (summary["done"], summary["held"], summary["failed"]) == (1, 1, 0)
    _, errors = cli.json("errors", "--status", "open")
    [held] = errors
    assert held["customer_id"] == "50" and held["kind"] == "consent_guard"
    assert "unsubscribes" in held["message"]

    code, summary = cli.json("sync", "50", "--allow-unsubscribe")
    assert code == 0 and summary["done"] == 1
    _, errors = cli.json("errors", "--status", "open")
    assert errors == []


def test_retry_after_klaviyo_was_down(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    cli.seed([customer(60, email="down@example.com")])
    monkeypatch.setenv("SANDBOX_KLAVIYO_DOWN", "1")

    code, doc = cli.json("push", "60", "--yes")
    assert code == 1
    assert doc["error"]["kind"] == "api_unavailable"
    error_id = doc["error"]["id"]
    code, doc = cli.json("push", "60", "--yes")
    assert doc["error"]["id"] == error_id  # one open record per customer, attempts counted
    assert len(doc["error"]["attempts"]) == 2

    monkeypatch.delenv("SANDBOX_KLAVIYO_DOWN")
    code, _, _ = cli.run("retry", "--all")
    # The operator confirmed this push (--yes) while Klaviyo was down: the retry carries it.
    assert code == 0
    _, [record] = cli.json("errors")
    assert record["id"] == error_id
    assert record["status"] == "resolved" and len(record["attempts"]) == 3
    assert [a["kind"] for a in record["attempts"]] == [
        "api_unavailable", "api_unavailable", "done"]


def test_retry_resolves_a_record_once_the_cause_is_gone(
        cli: Cli, custom_template: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli.seed([customer(61, email="later@example.com", fields={"SubscribeProfile": "true"})])
    monkeypatch.setenv("SANDBOX_KLAVIYO_DOWN", "1")
    code, doc = cli.json("push", "61")
    assert code == 1
    error_id = doc["error"]["id"]
    monkeypatch.delenv("SANDBOX_KLAVIYO_DOWN")

    code, result = cli.json("retry", error_id)

    assert code == 0, result
    assert result["done"] == 1
    [row] = result["results"]
    assert row["error_id"] == error_id and row["ok"] is True
    assert row["status"] == "resolved" and row["attempts"] == 2  # retry's count of them
    assert len(cli.profiles_with(email="later@example.com")) == 1


def test_pushing_twice_changes_nothing_the_second_time(cli: Cli, custom_template: Path) -> None:
    # Single opt-in list and a plain subscribe in a single opt-in account: the subscribe takes
    # effect at once, so the second push has nothing left to do.
    cli.seed([customer(70, email="twice@example.com", number="(312) 204-1187",
                       company="Acme", fields={"SubscribeProfile": "true", "Preview": "true"})],
             account=SINGLE_OPT_IN_ACCOUNT)

    code, first = cli.json("push", "70", "--yes")
    assert code == 0, first
    code, again = cli.json("preview", "70")
    assert code == 0
    assert again["route"] == "update"
    changes = {d["field"]: d["change"] for d in again["diff"]}
    assert not {c for c in changes.values()} & {"added", "changed"}, changes
    assert again["lists"] == []
    assert again["consent"] == []
    code, second = cli.json("push", "70")
    assert code == 0, second
    assert second["profile_id"] == first["profile_id"]
    assert len(cli.profiles_with(email="twice@example.com")) == 1
    _, history = cli.json("history", "70")
    assert [h["ok"] for h in history] == [True, True]
    assert history[0]["consent"] == [] and history[0]["lists"] == []


def test_a_mistyped_id_pushed_by_hand_is_refused_and_recorded_nowhere(cli: Cli) -> None:
    cli.seed([customer(998, email="known@example.com")])
    code, _, err = cli.run("push", "999", "--yes")
    assert code == 1 and "999 not found" in err
    _, errors = cli.json("errors")
    _, history = cli.json("history")
    assert errors == [] and history == []
    code, _, err = cli.run("preview", "999")
    assert code == 1 and "not found" in err


def test_a_batch_logs_an_unknown_id_as_not_found(cli: Cli) -> None:
    cli.seed([])
    code, _ = cli.json("sync", "999")
    assert code == 1
    _, [record] = cli.json("errors")
    assert record["customer_id"] == "999" and record["kind"] == "not_found"


def test_the_demo_customer_in_sync_previews_no_change(cli: Cli) -> None:
    # README and the demo's own notes promise 55261 as the customer with nothing to push.
    cli.seed_path.write_text(DEMO_SEED.read_text(encoding="utf-8"), encoding="utf-8")

    code, doc = cli.json("preview", "55261")

    assert code == 0, doc
    assert doc["route"] == "update"
    assert doc["diff"] and {d["change"] for d in doc["diff"]} == {"unchanged"}
    assert doc["consent"] == [] and doc["lists"] == [] and doc["warnings"] == []
