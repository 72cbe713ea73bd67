"""Issue 15 item 6: CLI tables show every header and, whole, the values an operator acts on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text

from console.render import Column, Listing
from core.sandbox import DEMO_SEED
from tests.e2e.conftest import Cli

WIDTHS = (60, 80, 120)
ERRORS_HEADERS = ("id", "customer", "kind", "stage", "time", "status", "tries", "message")
HISTORY_HEADERS = ("time", "id", "customer", "route", "outcome", "profile", "trigger",
                   "consent / lists")


@pytest.fixture
def demo(cli: Cli) -> Cli:
    """The demo data after pushes that leave history, a done and a failed one among them."""
    cli.seed_path.write_text(DEMO_SEED.read_text(encoding="utf-8"), encoding="utf-8")
    for customer_id in ("55300", "55340", "55330", "55262"):
        cli.run("push", customer_id, "--yes")
    return cli


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


def _whole(value: str, out: str) -> bool:
    """The value appears unbroken on one line."""
    return any(value in line for line in _lines(out))


def _fits(out: str, width: int) -> None:
    assert "…" not in out and "..." not in out
    assert max(len(line) for line in _lines(out)) <= width


@pytest.mark.parametrize("width", WIDTHS)
def test_errors_show_every_header_and_whole_ids_kinds_and_times(
        demo: Cli, monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    _, records = demo.json("errors")
    assert records
    monkeypatch.setenv("COLUMNS", str(width))
    code, out, _ = demo.run("errors")
    assert code == 0
    _fits(out, width)
    for header in ERRORS_HEADERS:
        assert _whole(header, out)
    assert not any(line.split()[:1] == ["at"] for line in _lines(out))  # the stage is "stage"
    for record in records:
        for value in (record["id"], record["customer_id"], record["kind"], record["stage"],
                      record["status"], record["updated_at"][:16].replace("T", " ")):
            assert _whole(value, out), (value, out)
        assert " ".join(record["message"].split()) in " ".join(out.split())


@pytest.mark.parametrize("width", WIDTHS)
def test_history_shows_every_header_and_whole_ids_outcomes_and_consent(
        demo: Cli, monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    _, entries = demo.json("history")
    assert len(entries) == 4
    monkeypatch.setenv("COLUMNS", str(width))
    code, out, _ = demo.run("history")
    assert code == 0
    _fits(out, width)
    for header in HISTORY_HEADERS:
        assert _whole(header, out)
    flat = " ".join(out.split())
    for entry in entries:
        for value in (entry["id"], entry["customer_id"], entry["route"], entry["trigger"],
                      entry["profile_id"] or "—", entry["error_id"] or entry["id"]):
            assert _whole(value, out), (value, out)
        for op in entry["consent"]:
            assert f"{op['action']} {op['channel']}" in flat
            if op.get("list"):
                assert op["list"] in flat
        for op in entry["lists"]:
            assert f"{op['action']} {op['list']}" in flat


@pytest.mark.parametrize("width", WIDTHS)
def test_preview_shows_every_field_and_whole_emails(
        demo: Cli, monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    _, plan = demo.json("preview", "55260")
    monkeypatch.setenv("COLUMNS", str(width))
    code, out, _ = demo.run("preview", "55260")
    assert code == 0
    _fits(out, width)
    for item in plan["diff"]:
        assert _whole(item["field"], out)
        assert _whole(item["change"], out)
        for value in (item["current"], item["mapped"]):
            if isinstance(value, str) and "@" in value:
                assert _whole(value, out), (value, out)
    for change in plan["consent"]:
        assert _whole(change["action"], out) and _whole(change["channel"], out)
        if change["list"]:
            assert _whole(change["list"], out)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_sync_summary_keeps_its_counts_whole(
        demo: Cli, monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    code, out, _ = demo.run("sync", "55300", "55330", "--confirm", "all")
    assert code == 1
    _fits(out, width)
    flat = " ".join(out.split())
    assert "synced 1" in flat and "failed 1" in flat and "held 0" in flat and "of 2" in flat


def _render(listing: Listing, width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    with console.capture() as capture:
        console.print(listing)
    return capture.get()


def test_a_listing_becomes_one_block_per_record_when_a_table_cannot_hold_its_ids() -> None:
    rows: list[Any] = [[Text("01JGFJK6QFB96KRART17WEJVYY"), Text("ann.dupont@example.com"),
                        Text("a message long enough to wrap over several lines of text")]]
    listing = Listing([Column("profile"), Column("email"), Column("note", wrap=True)], rows)

    wide = _render(listing, 100)
    assert wide.splitlines()[0].split() == ["profile", "email", "note"]

    narrow = _render(listing, 40)
    assert [line.split()[0] for line in narrow.splitlines()[:2]] == ["profile", "email"]
    assert "01JGFJK6QFB96KRART17WEJVYY" in narrow and "ann.dupont@example.com" in narrow
    assert max(len(line.rstrip()) for line in narrow.splitlines()) <= 40


def test_errors_json_is_unchanged_by_the_width(
        demo: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    _, narrow = demo.json("errors")
    monkeypatch.setenv("COLUMNS", "200")
    _, wide = demo.json("errors")
    assert json.dumps(narrow) == json.dumps(wide)
