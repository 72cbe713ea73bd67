"""History names done, failed and held apart, never lists unrun consent as done, and follows
the customer on screen."""

from __future__ import annotations

from textual.widgets import DataTable, Input

from console.app import ConsoleApp
from console.screens.history import HistoryScreen, entry_summary, profile_after
from core.model import HistoryEntry, Outcome, Route
from tests.ui.helpers import lookup, settle, text_of, until
from tests.ui.stub_engine import STAMP, StubEngine

BEFORE = {"email": "fay@example.com", "first_name": "Fay"}
CONSENT = {"channel": "email", "action": "unsubscribe", "list": None, "double_opt_in": False}


def held_entry(**kw) -> HistoryEntry:
    fields = dict(id="H1", customer_id="1005", at=STAMP, route=Route.UPDATE, ok=False,
                  profile_id="01JPROFILEFAY00000000000000", before=BEFORE, sent=None,
                  after=None, consent=(CONSENT,), error_id="E1", trigger="batch",
                  outcome=Outcome.HELD)
    return HistoryEntry(**{**fields, **kw})


def test_a_held_push_reads_held_and_its_consent_never_ran():
    text = entry_summary(held_entry()).plain
    assert text.startswith("HELD") and "FAILED" not in text
    assert "consent: unsubscribe email: not run (the push was held)" in text
    assert "(batch)" in text


def test_profile_after_shows_the_profile_when_it_exists():
    after, title = profile_after(held_entry(), "held")
    assert after == BEFORE and "unchanged" in title
    done = held_entry(outcome=Outcome.DONE, ok=True, after={"email": "x@example.com"})
    assert profile_after(done, "done") == ({"email": "x@example.com"}, "Profile after")


def test_a_pending_consent_email_is_not_listed_as_sent_again():
    pending = {"channel": "email", "action": "subscribe", "list": "Newsletter",
               "double_opt_in": True, "pending_since": "2026-06-01T10:00:00+00:00"}
    text = entry_summary(held_entry(outcome=Outcome.DONE, ok=True, consent=(pending,))).plain
    assert "consent email sent 2026-06-01 10:00:00, awaiting confirmation" in text


async def test_a_held_push_is_never_called_failed_on_screen(make_app, stub):
    stub.history.add(held_entry(id="H9"))
    async with make_app(stub).run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f7")
        await settle(pilot)
        table = pilot.app.screen.query_one(DataTable)
        assert str(table.get_cell("H9", "outcome")) == "held"
        assert text_of(pilot, "#history-summary").startswith("HELD")


async def test_history_field_is_focused_on_open_and_f7_follows_the_customer(
        make_app, stub: StubEngine):
    app: ConsoleApp = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await lookup(pilot, "55260")
        await pilot.press("f7")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        field = screen.query_one("#history-customer", Input)
        assert app.focused is field and field.value == "55260"
        await pilot.press("f4")
        await lookup(pilot, "1001")
        await pilot.press("f7")
        await settle(pilot)
        assert field.value == "1001"
        assert app.focused is field
        await pilot.press(*"1002")  # the old id is selected: typing replaces it
        await until(pilot, lambda: field.value == "1002")


async def test_history_data_is_never_markup(make_app, stub):
    from core.model import Customer
    from tests.ui import stub_engine

    stub_engine.CUSTOMERS["1006"] = Customer(id="1006", first_name="[red]Zoë :100:",
                                             last_name="[/b]", email_address="z@example.com")
    try:
        stub.linked["1006"] = "01JPROFILEZOE00000000000000"
        await stub.push("1006")
        async with make_app(stub).run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("f7")
            await settle(pilot)
            assert "[red]Zoë :100:" in pilot.app.screen.query_one("#sent").text
    finally:
        del stub_engine.CUSTOMERS["1006"]
