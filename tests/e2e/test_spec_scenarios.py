"""The spec's nine test scenarios, each through the CLI against a seeded sandbox."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import SINGLE_OPT_IN_ACCOUNT, Cli, customer

ANN = "01JGFJK6QFB96KRART17WEJVYY"


def test_create_a_new_profile(cli: Cli) -> None:
    cli.seed([customer(100, email="new@example.com", number="(312) 204-1187",
                       company="Dupont Floral", first="Nia", last="Okafor")])

    code, doc = cli.json("push", "100", "--yes")

    assert code == 0, doc
    assert doc["ok"] is True and doc["route"] == "create"
    [profile] = cli.profiles_with(email="new@example.com")
    attrs = profile["attributes"]
    assert attrs["first_name"] == "Nia" and attrs["last_name"] == "Okafor"
    assert attrs["phone_number"] == "+13122041187"
    assert attrs["organization"] == "Dupont Floral"
    assert attrs["location"]["address1"] == "233 S Wacker Dr"
    assert attrs["location"]["city"] == "Chicago"
    assert attrs["external_id"] == "100"
    assert doc["profile_id"] == profile["id"]
    assert cli.link_of("100") == profile["id"]


def test_update_patches_the_linked_profile_and_keeps_unmapped_fields(cli: Cli) -> None:
    cli.seed(
        [customer(200, email="ann@example.com", first="Anne", number="(312) 204-1187")],
        profiles=[{"id": ANN, "attributes": {
            "email": "ann@example.com", "first_name": "Ann", "title": "Head Buyer",
            "properties": {"loyalty_points": 1240}}}],
        links={"200": ANN},
    )

    code, doc = cli.json("push", "200", "--yes")

    assert code == 0, doc
    assert doc["route"] == "update" and doc["matched_by"] == "external_id"
    assert doc["profile_id"] == ANN
    diff = {d["field"]: d["change"] for d in doc["diff"]}
    assert diff["first_name"] == "changed"
    assert diff["title"] == "kept"
    [profile] = cli.profiles_with(email="ann@example.com")
    assert profile["id"] == ANN
    assert profile["attributes"]["first_name"] == "Anne"
    assert profile["attributes"]["title"] == "Head Buyer"
    assert profile["attributes"]["properties"]["loyalty_points"] == 1240


def test_match_by_email_links_instead_of_duplicating(cli: Cli) -> None:
    cli.seed([customer(300, email="kim@example.com")],
             profiles=[{"id": ANN, "attributes": {"email": "kim@example.com"}}])

    code, doc = cli.json("push", "300", "--yes")

    assert code == 0, doc
    assert doc["route"] == "link" and doc["matched_by"] == "email"
    assert doc["profile_id"] == ANN
    assert "kim@example.com" in doc["reason"]
    assert len(cli.profiles_with(email="kim@example.com")) == 1
    assert cli.link_of("300") == ANN


def test_match_by_phone_when_there_is_no_email(cli: Cli) -> None:
    cli.seed([customer(400, number="312.204.1187")],
             profiles=[{"id": ANN, "attributes": {"phone_number": "+13122041187"}}])

    code, doc = cli.json("push", "400", "--yes")

    assert code == 0, doc
    assert doc["route"] == "link" and doc["matched_by"] == "phone"
    assert doc["profile_id"] == ANN
    assert len(cli.profiles_with(phone_number="+13122041187")) == 1


def test_missing_identifier_fails_and_is_logged(cli: Cli) -> None:
    cli.seed([customer(500, number="1-800-FLOWERS", address=False)])

    code, doc = cli.json("push", "500")

    assert code == 1
    assert doc["ok"] is False and doc["route"] == "blocked"
    assert doc["error"]["kind"] == "no_identifier"
    _, errors = cli.json("errors")
    [record] = errors
    assert record["customer_id"] == "500" and record["kind"] == "no_identifier"
    assert record["status"] == "open" and len(record["attempts"]) == 1
    assert cli.state()["klaviyo"]["profiles"] == []


def test_phone_is_normalized_and_a_rejected_number_is_logged(cli: Cli) -> None:
    cli.seed([
        customer(600, email="p@example.com", number="+1 (312) 204-1187 "),
        customer(601, number="+1 555 0100 199"),
    ])

    code, preview = cli.json("preview", "600")
    assert code == 0
    assert preview["payload"]["data"]["attributes"]["phone_number"] == "+13122041187"

    code, doc = cli.json("push", "601", "--yes")
    assert code == 1
    assert doc["error"]["kind"] == "phone_rejected"
    _, errors = cli.json("errors", "--kind", "phone_rejected")
    assert [e["customer_id"] for e in errors] == ["601"]


def test_subscription_state_follows_subscribe_profile(cli: Cli, custom_template: Path) -> None:
    cli.seed(
        [customer(700, email="out@example.com", fields={"SubscribeProfile": "false"}),
         customer(701, email="in@example.com",
                  fields={"SubscribeProfile": "true", "Preview": "true"})],
        profiles=[{"id": ANN, "attributes": {"email": "out@example.com"},
                   "subscriptions": {"email": "SUBSCRIBED"}}],
        # A list-less subscribe takes effect at once only in a single opt-in account.
        account=SINGLE_OPT_IN_ACCOUNT,
    )

    code, doc = cli.json("push", "700", "--yes")
    assert code == 0, doc
    assert {"channel": "email", "action": "unsubscribe", "list": None,
            "double_opt_in": False, "pending_since": None} in doc["consent"]
    [out] = cli.profiles_with(email="out@example.com")
    assert out["email_marketing"]["consent"] == "UNSUBSCRIBED"

    code, doc = cli.json("push", "701", "--yes")
    assert code == 0, doc
    [inn] = cli.profiles_with(email="in@example.com")
    assert inn["email_marketing"]["consent"] == "SUBSCRIBED"
    preview_list = next(
        item["id"] for item in cli.state()["klaviyo"]["lists"] if item["name"] == "Preview List")
    assert inn["id"] in cli.state()["klaviyo"]["members"][preview_list]


def test_double_opt_in_sends_a_consent_email_single_opt_in_does_not(
        cli: Cli, custom_template: Path) -> None:
    cli.seed([
        customer(800, email="double@example.com",
                 fields={"SubscribeProfile": "true", "Sms": "true"}),
        customer(801, email="single@example.com",
                 fields={"SubscribeProfile": "true", "Preview": "true"}),
    ], account=SINGLE_OPT_IN_ACCOUNT)  # else 801's list-less subscribe sends one too

    code, doc = cli.json("push", "800", "--yes")
    assert code == 0, doc
    assert any(c["double_opt_in"] and c["list"] == "Sms Subscribers" for c in doc["consent"])
    code, doc = cli.json("push", "801", "--yes")
    assert code == 0, doc

    outbox = cli.state()["klaviyo"]["outbox"]
    assert [(m["to"], m["list_name"]) for m in outbox] == [
        ("double@example.com", "Sms Subscribers")]
    [single] = cli.profiles_with(email="single@example.com")
    preview_list = next(
        item["id"] for item in cli.state()["klaviyo"]["lists"] if item["name"] == "Preview List")
    assert single["id"] in cli.state()["klaviyo"]["members"][preview_list]


def test_manual_sync_by_customer_id_creates_then_updates(cli: Cli) -> None:
    cli.seed([customer(55260, email="ann.dupont@example.com", number="(312) 204-1187")])

    code, out, err = cli.run("push", "55260", "--yes")
    assert code == 0, err
    assert "pushed: profile" in out
    code, doc = cli.json("push", " 55260 ", "--yes")
    assert code == 0, doc
    assert doc["route"] == "update"
    _, history = cli.json("history", "55260")
    assert [h["route"] for h in history] == ["update", "create"]
    assert all(h["ok"] for h in history)
    assert history[1]["sent"]["data"]["attributes"]["email"] == "ann.dupont@example.com"
    assert len(cli.profiles_with(email="ann.dupont@example.com")) == 1
