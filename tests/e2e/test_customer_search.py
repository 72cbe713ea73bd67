"""Finding customers by part of an email or name: the engine's index on the demo sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.config import Config
from core.engine import Engine
from core.engine.customer_index import SEARCH_CAP
from core.model import Customer

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> datetime:
        return self.at


def config(state: Path, **env: str) -> Config:
    return Config.load(env={"XDG_CONFIG_HOME": str(state / "no-config"), **env},
                       state_dir=state, sandbox=True)


async def test_partial_email_and_domain_find_nothing_until_the_index_holds_them(
        tmp_path: Path) -> None:
    async with await Engine.open(config(tmp_path)) as engine:
        assert (await engine.search_customers("keiko.tanaka@")).hits == []
        status = await engine.refresh_customer_index()
        assert status is not None and status.customers == 49 and not status.building
        found = await engine.search_customers("keiko.tanaka@")
        assert [(h.id, h.matched_on, h.exact) for h in found.hits] == [
            ("55264", ("email",), False)]
        assert found.index is not None and found.index.customers == 49
        example = await engine.search_customers("example")
        assert "55264" in {h.id for h in example.hits} and "55260" in {h.id for h in example.hits}
        assert len(example.hits) == example.total == 42  # every demo address at an example domain
        assert all("email" in h.matched_on for h in example.hits)
        bakery = next(h for h in example.hits if h.id == "55311")
        assert bakery.matched_on == ("email", "company") and bakery.why == "email, company"


async def test_an_exact_match_comes_first_and_says_it_is_exact(tmp_path: Path) -> None:
    async with await Engine.open(config(tmp_path)) as engine:
        await engine.refresh_customer_index()
        found = await engine.search_customers("Dupont")
        assert found.hits[0].id == "55260" and found.hits[0].exact
        assert found.hits[0].why == "exact name"
        assert [h.id for h in found.hits] == ["55260"]  # the index's own hit is not repeated
        by_name = await engine.search_customers("tana")
        assert [(h.id, h.why) for h in by_name.hits] == [("55264", "email, name")]


async def test_a_digit_string_is_still_an_id_lookup(tmp_path: Path) -> None:
    async with await Engine.open(config(tmp_path)) as engine:
        found = await engine.search_customers(" 55264 ")
        assert [(h.id, h.matched_on, h.exact) for h in found.hits] == [("55264", ("id",), True)]
        assert found.index is None
        assert (await engine.search_customers("99999999")).hits == []


async def test_previews_and_a_batch_fill_the_index_without_a_refresh(tmp_path: Path) -> None:
    async with await Engine.open(config(tmp_path)) as engine:
        await engine.preview("55271")
        await engine.customer_index()  # the index is written in the background
        assert await _found(engine, "garc") == ["55271"]  # "Sofia García", accent folded
        await engine.sync(["55264", "55302"])
        await engine.customer_index()
        assert await _found(engine, "keiko.tanaka@") == ["55264"]
        assert await _found(engine, "山田") == ["55302"]
        status = await engine.customer_index()
        assert status.customers == 3 and status.refreshed_at is None


async def test_a_report_of_all_customers_fills_the_index(tmp_path: Path) -> None:
    async with await Engine.open(config(tmp_path)) as engine:
        await engine.report(None)
        assert (await engine.customer_index()).customers == 49
        assert await _found(engine, "keiko") == ["55264"]


async def test_the_refresh_is_due_by_the_configured_age_and_drops_deleted_customers(
        tmp_path: Path) -> None:
    clock = Clock()
    async with await Engine.open(config(tmp_path), clock=clock) as engine:
        # Read once, then deleted in iPaaS.com: the next complete refresh no longer lists it.
        engine._indexer.index.remember([_customer(1)], START.isoformat())
        clock.at = START + timedelta(minutes=1)
        assert await engine.refresh_customer_index(if_older=True) is not None
        first = await engine.customer_index()
        assert first.refreshed_at == clock.at.isoformat() and first.customers == 49
        assert await _found(engine, "bulk") == []
        clock.at = START + timedelta(hours=23)
        assert await engine.refresh_customer_index(if_older=True) is None
        clock.at = START + timedelta(hours=24, minutes=1)
        assert await engine.refresh_customer_index(if_older=True) is not None


async def test_the_age_comes_from_the_config(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[console]\ncustomer_index_hours = 0.5\n", encoding="utf-8")
    cfg = Config.load(env={}, config_file=path, state_dir=tmp_path, sandbox=True)
    assert cfg.customer_index_hours == 0.5
    path.write_text("[console]\ncustomer_index_hours = 0\n", encoding="utf-8")
    with pytest.raises(ValueError, match="customer_index_hours"):
        Config.load(env={}, config_file=path, state_dir=tmp_path, sandbox=True)


async def test_many_matches_are_capped_with_a_count_of_the_rest(tmp_path: Path) -> None:
    async with await Engine.open(config(tmp_path)) as engine:
        engine._indexer.index.remember(
            [_customer(n) for n in range(120)], "2026-12-07T09:00:00+00:00")
        found = await engine.search_customers("bulk")
        assert len(found.hits) == SEARCH_CAP and found.more == 70 and found.total == 120
        assert not found.more_is_lower_bound


async def test_two_refreshes_at_once_page_the_customers_once(tmp_path: Path) -> None:
    import asyncio

    async with await Engine.open(config(tmp_path)) as engine:
        pages: list[int] = []
        first, second = await asyncio.gather(
            engine.refresh_customer_index(on_progress=pages.append),
            engine.refresh_customer_index(on_progress=pages.append))
        assert first == second and pages == list(range(50))


async def _found(engine: Engine, query: str) -> list[str]:
    return [h.id for h in (await engine.search_customers(query)).hits]


def _customer(n: int) -> Customer:
    return Customer(id=str(900_000 + n), first_name="Bulk", last_name=f"Person{n}",
                    email_address=f"bulk{n}@example.net")


async def test_a_stale_hit_is_a_suggestion_that_opening_corrects(tmp_path: Path) -> None:
    async with await Engine.open(config(tmp_path)) as engine:
        await engine.refresh_customer_index()
        assert engine.sandbox is not None
        engine.sandbox.ipaas.update_customer("55264", last_name="Sato",
                                             email_address="keiko.sato@example.jp")
        assert await _found(engine, "tanaka") == ["55264"]  # what the index saw last
        plan = await engine.preview("55264")  # opening it reads iPaaS.com afresh
        assert plan.customer_id == "55264"
        await engine.customer_index()
        assert await _found(engine, "tanaka") == []
        assert await _found(engine, "keiko.sato@") == ["55264"]
