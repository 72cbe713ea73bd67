"""`klaviyo-console search TEXT [--refresh] [--json]`: customers by id, whole or partial values."""

from __future__ import annotations

from console.cli.common import SANDBOX_LINE
from tests.e2e.conftest import Cli, customer

CUSTOMERS = [
    customer(1, email="keiko.tanaka@example.jp", first="Keiko", last="Tanaka"),
    customer(2, email="ann.lee@example.com", first="Ann", last="Lee", company="Lee Floral"),
    customer(3, email="bob.lee@shop.test", first="Bob", last="Lee"),
]


def test_a_partial_email_finds_nothing_until_refresh_reads_every_customer(cli: Cli) -> None:
    cli.seed(CUSTOMERS)
    code, out, err = cli.run("search", "keiko.tanaka@")
    assert code == 1 and out == ""
    assert "no customer matches 'keiko.tanaka@'" in err
    assert "the customer index is empty: run search again with --refresh" in err
    code, out, err = cli.run("search", "keiko.tanaka@", "--refresh")
    assert code == 0, err
    assert "customer index refreshed: 3 customers" in err
    assert "1  " in out and "Keiko Tanaka" in out and "email (index)" in out
    code, out, _ = cli.run("search", "KEIKO.T")  # the index stays: no refresh needed
    assert code == 0 and "keiko.tanaka@example.jp" in out


def test_json_lists_exact_matches_first_with_what_matched(cli: Cli) -> None:
    cli.seed(CUSTOMERS)
    code, doc = cli.json("search", "Lee", "--refresh")
    assert code == 0
    assert [(c["id"], c["exact"], c["matched_on"]) for c in doc["customers"]] == [
        ("2", True, ["name"]), ("3", True, ["name"])]
    assert doc["index"]["customers"] == 3 and doc["index"]["refreshed_at"]
    assert doc["more"] == 0 and doc["live_error"] is None
    code, doc = cli.json("search", "example")
    assert code == 0
    assert sorted(c["id"] for c in doc["customers"]) == ["1", "2"]
    assert all(not c["exact"] and c["matched_on"] == ["email"] for c in doc["customers"])
    code, doc = cli.json("search", "floral")
    assert [(c["id"], c["matched_on"], c["company"]) for c in doc["customers"]] == [
        ("2", ["company"], "Lee Floral")]


def test_an_id_is_looked_up_in_ipaas(cli: Cli) -> None:
    cli.seed(CUSTOMERS)
    code, doc = cli.json("search", "3")
    assert code == 0 and doc["customers"][0]["matched_on"] == ["id"] and doc["index"] is None
    code, out, err = cli.run("search", "42")
    assert code == 1 and out == "" and "no customer 42 in iPaaS.com" in err


def test_nothing_found_exits_1_and_json_stays_one_document(cli: Cli) -> None:
    cli.seed(CUSTOMERS)
    code, doc = cli.json("search", "nobody", "--refresh")
    assert code == 1 and doc["customers"] == [] and doc["index"]["customers"] == 3
    code, out, err = cli.run("search", "nobody")
    assert code == 1 and SANDBOX_LINE in err and SANDBOX_LINE not in out
    assert "the customer index holds 3 customers, refreshed" in err
    assert "run search again with --refresh" in err


def test_search_needs_its_text(cli: Cli) -> None:
    cli.seed(CUSTOMERS)
    code, _, err = cli.run("search")
    assert code == 2 and "TEXT" in err


def test_past_fifty_hits_the_rest_is_a_count(cli: Cli) -> None:
    cli.seed([customer(n, email=f"bulk{n}@example.net", first="Bulk", last=f"Buyer{n}")
              for n in range(1, 61)])
    code, doc = cli.json("search", "bulk", "--refresh")
    assert code == 0 and len(doc["customers"]) == 50 and doc["more"] == 10
    code, out, err = cli.run("search", "bulk")
    assert code == 0 and out.count("@example.net") == 50
    assert "10 more not shown: type more of it" in err
