"""Parts of emails and names find customers in the lookup and the palette (real engine, sandbox)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from textual.command import CommandPalette
from textual.widgets import Input, OptionList

from console.screens.lookup import LookupScreen
from console.screens.recent import PickCustomerScreen
from tests.ui.helpers import settle, text_of, until
from tests.ui.sandbox_app import sandbox_app


class HoldListing(httpx.AsyncBaseTransport):
    """Holds iPaaS.com's plain customer listing (what an index refresh pages) until released."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.release = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        listing = request.url.path.endswith("/Customers") and "action" not in request.url.params
        if listing:
            await self.release.wait()
        return await self._inner.handle_async_request(request)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


async def type_query(pilot, text: str) -> None:
    field = pilot.app.screen.query_one("#customer", Input)
    field.value = ""
    await pilot.click("#customer")
    await pilot.press(*text, "enter")


async def test_a_partial_email_previews_the_only_customer_it_finds():
    app = sandbox_app(Path("state"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)  # the index is built after launch
        await type_query(pilot, "keiko.tanaka@")
        await settle(pilot)
        assert app.screen.plan.customer_id == "55264"
        assert app.screen.query_one("#customer", Input).value == "55264"


async def test_several_hits_are_listed_with_what_matched_and_the_chosen_one_previews():
    app = sandbox_app(Path("state"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await type_query(pilot, "family@")
        await until(pilot, lambda: isinstance(app.screen, PickCustomerScreen))
        picker = app.screen
        assert "2 customers match 'family@'" in str(picker.query_one(".dialog-title").render())
        choices = picker.query_one("#choices", OptionList)
        labels = [str(choices.get_option_at_index(i).prompt) for i in range(choices.option_count)]
        assert labels == ["55320  Ruth Adler <family@example.org>  · email",
                          "55321  Saul Adler <family@example.org>  · email"]
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, LookupScreen)
        assert app.screen.plan.customer_id == "55321"


async def test_a_domain_lists_its_customers_and_names_a_name_match():
    app = sandbox_app(Path("state"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await type_query(pilot, "Example")
        await until(pilot, lambda: isinstance(app.screen, PickCustomerScreen))
        assert "42 customers match 'Example'" in str(
            app.screen.query_one(".dialog-title").render())
        await pilot.press("escape")
        await settle(pilot)
        await type_query(pilot, "adl")
        await until(pilot, lambda: isinstance(app.screen, PickCustomerScreen))
        choices = app.screen.query_one("#choices", OptionList)
        assert "Ruth Adler <family@example.org>  · name" in str(choices.get_option_at_index(0)
                                                                    .prompt)


async def test_the_status_says_the_index_is_building_and_a_miss_says_so_too():
    held: list[HoldListing] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        held.append(HoldListing(inner))
        return held[0]

    app = sandbox_app(Path("state"), wrap=wrap)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "Building the customer index" in text_of(pilot, "#status"))
        await type_query(pilot, "keiko.tanaka@")
        await until(pilot, lambda: "No customer matches" in text_of(pilot, "#status"))
        assert "still being built" in text_of(pilot, "#status")
        held[0].release.set()
        await settle(pilot)
        await type_query(pilot, "keiko.tanaka@")
        await settle(pilot)
        assert app.screen.plan.customer_id == "55264"


async def test_a_miss_names_the_index_size_and_how_to_refresh_it():
    app = sandbox_app(Path("state"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await type_query(pilot, "nobody-here")
        await settle(pilot)
        status = text_of(pilot, "#status")
        assert "No customer matches 'nobody-here'" in status
        assert "the customer index holds 49 customers, refreshed 2026-07-01 09:30 UTC" in status
        assert "refresh the customer index" in status


async def open_palette_with(pilot, text: str) -> CommandPalette:
    await pilot.press("ctrl+p")
    await pilot.pause()
    palette = pilot.app.screen
    assert isinstance(palette, CommandPalette)
    await pilot.press(*text)
    await until(pilot, lambda: any(
        "customer" in str(palette.query("CommandList").first().get_option_at_index(i).prompt)
        .lower() for i in range(palette.query("CommandList").first().option_count)))
    return palette


async def test_the_palette_finds_a_partial_name_and_opens_its_preview():
    app = sandbox_app(Path("state"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        palette = await open_palette_with(pilot, "tanak")
        await settle(pilot)
        options = palette.query("CommandList").first()
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        keiko = next(i for i, p in enumerate(prompts) if "customer 55264" in p)
        assert "Keiko Tanaka <keiko.tanaka@example.jp>" in prompts[keiko]
        assert "Matched on email, name (the customer index)" in prompts[keiko]
        options.highlighted = keiko
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, LookupScreen)
        assert app.screen.plan.customer_id == "55264"


async def test_a_palette_miss_offers_to_refresh_the_index():
    app = sandbox_app(Path("state"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        palette = await open_palette_with(pilot, "zzqq")
        options = palette.query("CommandList").first()
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert any("No customer matches 'zzqq': refresh the customer index" in p
                   for p in prompts)
        assert any("holds 49 customers" in p for p in prompts)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, LookupScreen)
        assert any("Customer index refreshed: 49 customers" in str(n.message)
                   for n in app._notifications)
