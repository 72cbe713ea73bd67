"""Issue 15 and 17 on the lookup: what is on screen, focus, keys, words, literal data."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest
from rich.console import Console
from textual.command import CommandPalette
from textual.widgets import Input

from console.app import ConsoleApp
from console.keymap import check_keymap
from console.screens.confirm import PushConfirmScreen
from console.screens.recent import PickCustomerScreen, RecentLookups
from console.widgets.preview import DiffTable, PreviewPane
from console.widgets.words import consent_words, email_problem
from core.model import Channel, ConsentAction, ConsentChange, Customer
from tests.ui import stub_engine
from tests.ui.helpers import lookup, settle, text_of
from tests.ui.stub_engine import stub_factory


def field_of(app: ConsoleApp) -> Input:
    return app.screen.query_one("#customer", Input)


def shown_panes(app: ConsoleApp) -> list[PreviewPane]:
    return [pane for pane in app.screen.query(PreviewPane) if pane.display]


@pytest.mark.parametrize("second", ["999999", "abcxyz"])
async def test_a_failed_lookup_clears_the_earlier_preview_and_push(make_app, stub, second):
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await lookup(pilot, "55260")
        assert shown_panes(app)
        await lookup(pilot, second)
        assert shown_panes(app) == []
        assert app.screen.plan is None
        assert app.screen.check_action("push", ()) is False  # hidden from the footer
        await pilot.press("f5")
        await settle(pilot)
        assert not isinstance(app.screen, PushConfirmScreen)
        assert stub.pushes == []


async def test_push_refuses_while_the_field_asks_for_another_customer(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await lookup(pilot, "55260")
        await pilot.click("#customer")
        await pilot.press("ctrl+a", *"1001")  # typed, not yet looked up
        await pilot.press("f5")
        await settle(pilot)
        assert not isinstance(app.screen, PushConfirmScreen)
        assert "press Enter to preview it first" in text_of(pilot, "#status")


async def test_push_previews_again_and_confirms_the_fresh_plan(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(120, 36)) as pilot:
        await lookup(pilot, "1001")
        stub.linked["1001"] = "01JPROFILEBENNOW000000000000"  # pushed elsewhere meanwhile
        await pilot.press("f5")
        await settle(pilot)
        assert isinstance(app.screen, PushConfirmScreen)
        assert app.screen.plan.route.value == "update"  # the dialog shows what will happen


async def test_f5_on_a_blocked_customer_says_why(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await lookup(pilot, "1004")
        await pilot.press("f5")
        await settle(pilot)
        assert "1004 is BLOCKED: nothing can be pushed" in text_of(pilot, "#status")
        assert stub.pushes == []


async def test_enter_focuses_the_preview_and_f4_the_field_with_its_text_selected(make_app,
                                                                                 stub):
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await lookup(pilot, "55260")
        pane = shown_panes(app)[0]
        assert app.focused is pane
        await pilot.press("pagedown")
        await pilot.pause()
        assert pane.scroll_y > 0  # paging works at once
        await pilot.press("f4")
        assert app.focused is field_of(app)
        await pilot.press(*"1001")  # replaces the selected old text
        assert field_of(app).value == "1001"


async def test_typing_while_the_preview_has_focus_starts_a_new_lookup(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await lookup(pilot, "55260")
        assert app.focused is shown_panes(app)[0]
        await pilot.press(*"1002", "enter")
        await settle(pilot)
        assert app.screen.plan.customer_id == "1002"


async def test_returning_to_the_lookup_focuses_the_field_with_its_text_selected(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await lookup(pilot, "55260")
        await pilot.press("f6")
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        assert app.focused is field_of(app)
        await pilot.press(*"1002", "enter")
        await settle(pilot)
        assert app.screen.plan.customer_id == "1002"


async def test_quit_is_in_the_footer(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert "quit" in [key.action for key in app.screen.query("Footer FooterKey")]


async def test_a_long_status_wraps_at_120_columns(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        text = "Push of customer 1 failed: " + "the phone was rejected " * 8 + "END"
        app.screen.set_status(text)
        await pilot.pause()
        status = app.screen.query_one("#status")
        assert text + "\n" in str(status.render())  # whole, before the hint
        assert status.size.height >= 2 + 1 + 1 + 1


MARKUP = "[/b] [red]Zoë :100: \\ [b]"


async def test_customer_data_is_shown_literally(make_app, stub, monkeypatch, tmp_path):
    monkeypatch.setitem(stub_engine.CUSTOMERS, "1001", Customer(
        id="1001", first_name="[/b]", last_name="[red]Zoë :100: \\",
        email_address="ben@example.com"))
    app = make_app(stub)
    async with app.run_test(size=(160, 48)) as pilot:
        await lookup(pilot, "1001")
        console = Console(width=160, record=True, file=io.StringIO())
        console.print(app.screen.query_one(DiffTable).table)
        diff = console.export_text()
        assert "[/b]" in diff and "[red]Zoë :100: \\" in diff
        assert "[red]Zoë :100: \\" in text_of(pilot, "#payload")
        await pilot.press("f3")
        await settle(pilot)
        assert isinstance(app.screen, PickCustomerScreen)
        option = app.screen.query_one("#choices").get_option_at_index(0)
        assert "[/b] [red]Zoë :100: \\" in str(option.prompt)
        await pilot.press("escape")
        await lookup(pilot, MARKUP)  # the query itself, in the status words
        assert MARKUP in text_of(pilot, "#status")


async def test_the_palette_says_it_finds_customers_and_shows_names_literally(make_app, stub,
                                                                            monkeypatch):
    monkeypatch.setitem(stub_engine.CUSTOMERS, "1002", replace(
        stub_engine.CUSTOMERS["1002"], last_name="[red]Match"))
    app = make_app(stub)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        placeholder = str(palette.query_one(Input).placeholder)
        assert "customer" in placeholder and "email" in placeholder
        await pilot.press(*"cara")
        for _ in range(40):
            await pilot.pause(0.05)
            if palette.query("CommandList").first().option_count:
                break
        prompt = str(palette.query("CommandList").first().get_option_at_index(0).prompt)
        assert "Cara [red]Match" in prompt


async def test_no_match_says_what_search_takes(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(120, 36)) as pilot:
        await lookup(pilot, "nobody-at-all")
        status = text_of(pilot, "#status")
        assert "No customer matches 'nobody-at-all'" in status
        assert "complete email address" in status


async def test_recent_lookups_name_the_customer_not_a_route_that_goes_stale(make_app, stub,
                                                                           tmp_path):
    app = make_app(stub)
    async with app.run_test(size=(120, 36)) as pilot:
        await lookup(pilot, "1001")
        await settle(pilot)
    saved = json.loads((tmp_path / "recent.json").read_text())
    assert saved == [["1001", "Ben New <ben@example.com>"]]
    old = tmp_path / "old.json"
    old.write_text(json.dumps([["55300", "x@example.com · CREATE"], ["1", "LINK by email"]]))
    assert RecentLookups(old).load() == [("55300", "x@example.com"), ("1", "")]


def test_consent_lines_say_double_opt_in_once():
    change = ConsentChange(Channel.EMAIL, ConsentAction.SUBSCRIBE, list_name="Sms Subscribers",
                           double_opt_in=True,
                           note="double opt-in list: Klaviyo sends a consent email; currently "
                                "NEVER_SUBSCRIBED")
    words = consent_words(change)
    assert words.count("double opt-in") == 1 and "NEVER_SUBSCRIBED" in words
    pending = consent_words(ConsentChange(
        Channel.EMAIL, ConsentAction.SUBSCRIBE, double_opt_in=True,
        pending_since="2026-07-01T09:30:00+00:00",
        note="currently NEVER_SUBSCRIBED; consent email sent 2026-07-01, awaiting confirmation"))
    assert pending.count("consent email sent") == 1 and "2026-07-01 09:30:00" in pending
    single = consent_words(ConsentChange(Channel.EMAIL, ConsentAction.SUBSCRIBE))
    assert "(single opt-in)" in single


def test_emails_klaviyo_refuses_are_named():
    assert "no domain ending" in email_problem("ethan.clark@example")
    assert email_problem("ann.dupont@example.com") == ""


@pytest.mark.parametrize(("table", "words"), [
    ({"push": "f5,ctrl+p"}, "ctrl+p is kept for the command palette"),
    ({"push": "f6"}, "f6 is already bound to show-errors"),
    ({"push": "f55"}, "'f55' is not a key a terminal sends"),
    ({"push": "ctrl+u"}, "ctrl+u is taken by the text field on the lookup screen"),
    ({"confirm": "enter"}, "enter presses the focused button in a dialog"),
    ({"nonsense": "f1"}, "unknown binding id 'nonsense'"),
])
def test_a_bad_binding_is_refused_by_name_and_its_default_kept(table, words):
    accepted, refused = check_keymap(table)
    assert accepted == {}
    assert len(refused) == 1 and words in refused[0]
    binding_id = next(iter(table))
    assert binding_id in refused[0]


def test_good_bindings_pass_and_screens_apart_may_share_a_key():
    accepted, refused = check_keymap({"push": "f1", "batch-start": "f1", "retry": "x"})
    assert refused == [] and accepted == {"push": "f1", "batch-start": "f1", "retry": "x"}


async def test_a_refused_binding_is_named_at_start_and_a_remap_is_named_everywhere(stub,
                                                                                   tmp_path):
    said: list[str] = []
    app = ConsoleApp(stub.config, engine_factory=stub_factory(stub),
                     keymap={"push": "f11", "recent": "f55", "show-batch": "f1"},
                     recent_path=tmp_path / "recent.json")
    notify = app.notify
    app.notify = lambda message, **kw: said.append(message) or notify(message, **kw)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        hint = text_of(pilot, "#status")
        assert "F3 recent lookups" in hint and "F1 batch" in hint  # f55 refused: F3 kept
        await lookup(pilot, "55260")
        assert any("recent" in line and "f55" in line for line in said)
        assert "F11 to push" in text_of(pilot, "#status")
        keys = {key.action: key.key for key in app.screen.query("Footer FooterKey")}
        assert keys["push"] == "f11" and keys["recent"] == "f3"
        commands = {c.title: c.help for c in app.get_system_commands(app.screen)}
        assert "(F11)" in commands["Push"]
        await pilot.press("f11")
        await settle(pilot)
        assert isinstance(app.screen, PushConfirmScreen)
