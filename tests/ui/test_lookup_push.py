"""Lookup, preview of every route and push, driven by keys on a deterministic engine."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest
from textual.widgets import Input

from console.app import ConsoleApp
from console.screens.confirm import PushConfirmScreen
from console.screens.lookup import LookupScreen
from console.screens.recent import PickCustomerScreen
from console.widgets.screenbar import ScreenBar
from tests.ui.helpers import lookup, settle, text_of, until
from tests.ui.stub_engine import StubConfig, stub_factory


async def test_opens_on_the_lookup_with_the_cursor_in_the_customer_field(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LookupScreen)
        assert app.focused is app.screen.query_one("#customer", Input)
        assert app.screen.query_one(ScreenBar).sandbox  # the banner line is drawn


@pytest.mark.parametrize(
    ("customer_id", "title", "reason"),
    [
        ("1001", "CREATE", "no profile has this email or phone"),
        ("55260", "UPDATE", "linked via external id"),
        ("1002", "LINK by email", "email cara@example.com matched"),
        ("1003", "LINK by phone", "phone +14155550123 matched"),
        ("1004", "BLOCKED", "no valid identifier"),
    ],
)
async def test_preview_shows_each_route_with_its_reason(make_app, stub, customer_id, title,
                                                        reason):
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await lookup(pilot, customer_id)
        banner = text_of(pilot, "#route")
        assert f" {title} " in banner
        assert reason in banner
        assert app.screen.query_one("#route").has_class(f"-{title.split()[0].lower()}")


async def test_blocked_plan_cannot_be_pushed(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await lookup(pilot, "1004")
        await pilot.press("f5")
        await settle(pilot)
        assert not isinstance(app.screen, PushConfirmScreen)
        assert stub.pushes == []
        # The reason is said once, in the banner, not again under the warnings.
        assert "no valid identifier" in text_of(pilot, "#route")
        assert "no valid identifier" not in text_of(pilot, "#notes")


async def test_email_search_with_one_match_previews_it(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await lookup(pilot, "cara@example.com")
        assert app.screen.plan.customer_id == "1002"
        assert app.screen.query_one("#customer", Input).value == "1002"


async def test_name_search_with_several_matches_lets_the_operator_pick(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press(*"example", "enter")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, PickCustomerScreen)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, LookupScreen)
        assert app.screen.plan.customer_id == "1001"


async def test_unknown_customer_is_a_message_not_a_crash(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await lookup(pilot, "999999")
        assert "does not exist" in text_of(pilot, "#status")
        assert app.screen.plan is None


async def test_push_of_a_created_customer_refreshes_to_update(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await lookup(pilot, "1001")
        await pilot.press("f5")
        await pilot.pause()
        assert isinstance(app.screen, PushConfirmScreen)
        summary = str(app.screen.query_one("#confirm-summary").render())
        assert "Create a new profile" in summary
        assert "⚠" not in summary
        await pilot.press("y")
        await settle(pilot)
        assert stub.pushes == [("1001", True)]
        assert " UPDATE " in text_of(pilot, "#route")
        assert "Pushed customer 1001" in text_of(pilot, "#status")


async def test_push_with_consent_changes_names_them_and_defaults_to_cancel(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await lookup(pilot, "1005")
        assert "consent changes need confirmation" in text_of(pilot, "#route")
        await pilot.press("f5")
        await pilot.pause()
        summary = str(app.screen.query_one("#confirm-summary").render())
        assert "Unsubscribe email marketing" in summary
        assert "double opt-in" in summary
        assert app.focused.id == "cancel-push"
        await pilot.press("enter")  # the focused button is Cancel
        await settle(pilot)
        assert stub.pushes == []
        await pilot.press("f5")
        await pilot.pause()
        await pilot.click("#do-push")
        await settle(pilot)
        assert stub.pushes == [("1005", True)]


async def test_a_second_push_cannot_start_while_one_is_in_flight(make_app, stub):
    release = asyncio.Event()
    real_push = stub.push

    async def slow_push(customer_id, **kwargs):
        await release.wait()
        return await real_push(customer_id, **kwargs)

    stub.push = slow_push
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await lookup(pilot, "55260")
        await pilot.press("f5", "y")
        await pilot.pause()
        assert app.screen.pushing
        await pilot.press("f5")
        await pilot.pause()
        assert not isinstance(app.screen, PushConfirmScreen)
        release.set()
        await settle(pilot)
        assert stub.pushes == [("55260", True)]
        assert not app.screen.pushing


async def test_failed_push_is_reported_and_recorded(make_app, stub):
    stub.fail_ids.add("55260")
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await lookup(pilot, "55260")
        await pilot.press("f5", "y")
        await settle(pilot)
        assert "failed" in text_of(pilot, "#status")
        assert stub.errors.count() == 1


async def test_recent_lookups_persist_and_are_one_key_away(tmp_path, stub):
    path = tmp_path / "recent.json"
    first = ConsoleApp(stub.config, engine_factory=stub_factory(stub), keymap={},
                       recent_path=path)
    async with first.run_test(size=(80, 24)) as pilot:
        await lookup(pilot, "1002")
        await lookup(pilot, "55260")
    assert [cid for cid, _ in json.loads(path.read_text())] == ["55260", "1002"]
    second = ConsoleApp(stub.config, engine_factory=stub_factory(stub), keymap={},
                        recent_path=path)
    async with second.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await pilot.pause()
        assert isinstance(second.screen, PickCustomerScreen)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert second.screen.plan.customer_id == "1002"


async def test_engine_that_cannot_open_leaves_a_working_console(tmp_path):
    async def broken(config):
        raise ValueError("incomplete credentials: set IPAAS_SYSTEM_ID (or run with --sandbox)")

    app = ConsoleApp(StubConfig(state_dir=tmp_path), engine_factory=broken, keymap={},
                     recent_path=tmp_path / "r.json")
    async with app.run_test(size=(80, 24)) as pilot:
        await lookup(pilot, "55260")
        assert "IPAAS_SYSTEM_ID" in text_of(pilot, "#status")
        await pilot.press("f6")
        await settle(pilot)
        assert app.is_running


async def test_palette_finds_customers_through_the_engine(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"cara")
        for _ in range(20):
            await pilot.pause(0.05)
            options = app.screen.query("CommandList").first().option_count
            if options:
                break
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.plan.customer_id == "1002"


async def test_engine_is_closed_on_exit(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
    assert stub.closed


def push_key(app):
    return next(key for key in app.screen.query("Footer FooterKey") if key.action == "push")


async def test_a_repeat_lookup_shows_the_kept_plan_until_the_fresh_one_replaces_it(make_app,
                                                                                   stub):
    release = asyncio.Event()
    real_preview = stub.preview
    calls = 0

    async def gated_preview(customer_id):
        nonlocal calls
        calls += 1
        plan = await real_preview(customer_id)
        if calls == 1:
            return plan
        await release.wait()
        return dataclasses.replace(plan, reason="refreshed: profile changed since")

    stub.preview = gated_preview
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await lookup(pilot, "55260")
        first = app.screen.plan
        assert "linked via external id" in text_of(pilot, "#route")

        field = app.screen.query_one("#customer", Input)
        field.value = "55260"
        field.focus()
        await pilot.press("enter")
        await until(pilot, lambda: calls == 2)
        assert app.screen.plan is first  # the kept plan, shown while the refresh runs
        assert app.screen.stale
        status = text_of(pilot, "#status")
        assert "from" in status and "ago" in status and "Refreshing" in status
        assert "linked via external id" in text_of(pilot, "#route")
        await pilot.press("f5")
        await pilot.pause()
        assert not isinstance(app.screen, PushConfirmScreen)  # never confirm a kept plan
        assert app.screen.check_action("push", ()) is None
        assert push_key(app).has_class("-disabled")  # F5 dimmed in the footer

        release.set()
        await settle(pilot)
        assert app.screen.plan is not first
        assert not app.screen.stale
        assert "refreshed: profile changed since" in text_of(pilot, "#route")
        assert "ago" not in text_of(pilot, "#status")
        assert app.screen.check_action("push", ()) is True
        assert not push_key(app).has_class("-disabled")
        await pilot.press("f5")
        await pilot.pause()
        assert isinstance(app.screen, PushConfirmScreen)


async def test_switching_back_displays_the_customers_drawn_pane(make_app, stub, monkeypatch):
    from console.screens import lookup as lookup_module
    from console.widgets.preview import PreviewPane

    monkeypatch.setattr(lookup_module, "KEPT_PANES", 2)
    app = make_app(stub)
    async with app.run_test(size=(120, 40)) as pilot:
        await lookup(pilot, "55260")
        kept = app.screen.panes["55260"]
        await lookup(pilot, "1001")
        assert " CREATE " in text_of(pilot, "#route")
        await lookup(pilot, "55260")
        panes = list(app.screen.query(PreviewPane))
        assert panes[0] is kept  # the same pane, not drawn again, and first for queries
        assert [pane.display for pane in panes] == [True, False]
        assert "customer 55260" in text_of(pilot, "#route")
        await lookup(pilot, "1002")  # a third customer: the least recent pane (1001) goes
        assert sorted(app.screen.panes) == ["1002", "55260"]
        assert len(app.screen.query(PreviewPane)) == 2
        assert " LINK by email " in text_of(pilot, "#route")


async def test_the_screen_bar_switches_screens_on_a_click_and_shows_the_banner(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        bar = app.screen.query_one(ScreenBar)
        assert bar.render_line(0).text.startswith(" F4 Lookup   F6 Errors ")
        assert "SANDBOX · emulated Klaviyo" in bar.render_line(1).text
        await pilot.click(ScreenBar, offset=(14, 0))  # on " F6 Errors "
        await settle(pilot)
        assert app.current_mode == "errors"


async def test_the_customer_field_starts_focused_and_blurs_and_refocuses(make_app, stub):
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        field = app.screen.query_one("#customer", Input)
        assert app.focused is field and field.has_focus
        focused_border = field.styles.border_top
        app.screen.set_focus(None)
        await pilot.pause()
        assert not field.has_focus and field.styles.border_top != focused_border
        field.focus()
        await pilot.pause()
        assert field.has_focus and field.styles.border_top == focused_border
