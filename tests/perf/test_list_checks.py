"""List-side membership checks: the emulator's filtered member reads and their buckets."""

from __future__ import annotations

from typing import Any

import httpx

from core.clients.klaviyo import KlaviyoClient
from core.sandbox.klaviyo import KlaviyoEmulator
from tests.contract.test_klaviyo_emulator_support import API_KEY, client

LISTS = [{"name": "Newsletter", "opt_in_process": "single_opt_in"}]


def account() -> tuple[KlaviyoEmulator, str, dict[str, str]]:
    emulator = KlaviyoEmulator(api_key=API_KEY)
    ids = emulator.seed(
        [{"attributes": {"email": "in@example.com", "phone_number": "+13122041187"},
          "lists": ["Newsletter"]},
         {"attributes": {"email": "out@example.com"}}],
        LISTS,
    )
    pids = {"in": ids["0"], "out": ids["1"]}
    return emulator, emulator.state.list_by_name["Newsletter"], pids


async def members(c: httpx.AsyncClient, lid: str, text: str) -> Any:
    return await c.get(f"/api/lists/{lid}/relationships/profiles", params={"filter": text})


async def test_member_ids_filter_by_email_and_phone() -> None:
    emulator, lid, pids = account()
    async with client(emulator) as c:
        hit = await members(c, lid, 'equals(email,"IN@example.com")')
        miss = await members(c, lid, 'equals(email,"out@example.com")')
        phone = await members(c, lid, 'equals(phone_number,"+13122041187")')
        many = await members(c, lid, 'any(email,["in@example.com","out@example.com"])')
        bad = await members(c, lid, 'equals(first_name,"Ann")')
        size = await c.get(f"/api/lists/{lid}/relationships/profiles",
                           params={"page[size]": "101"})
    assert [d["id"] for d in hit.json()["data"]] == [pids["in"]]
    assert miss.json()["data"] == []
    assert [d["id"] for d in phone.json()["data"]] == [pids["in"]]
    assert [d["id"] for d in many.json()["data"]] == [pids["in"]]
    assert bad.status_code == 400
    assert size.status_code == 400  # the spec's page[size] maximum is 100


async def test_list_profiles_read_takes_the_same_filter() -> None:
    emulator, lid, pids = account()
    async with client(emulator) as c:
        r = await c.get(f"/api/lists/{lid}/profiles",
                        params={"filter": 'equals(email,"in@example.com")'})
    assert [d["id"] for d in r.json()["data"]] == [pids["in"]]


async def test_include_lists_has_its_own_one_per_second_bucket() -> None:
    emulator, _, pids = account()
    async with client(emulator) as c:
        first = await c.get(f"/api/profiles/{pids['in']}", params={"include": "lists"})
        second = await c.get(f"/api/profiles/{pids['in']}", params={"include": "lists"})
        plain = await c.get(f"/api/profiles/{pids['in']}")
    assert first.status_code == 200
    assert second.status_code == 429
    assert plain.status_code == 200  # the endpoint's own L bucket still has room


async def test_client_checks_membership_list_side() -> None:
    emulator, lid, pids = account()
    seen: list[httpx.Request] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return await emulator.handle(request)

    async with KlaviyoClient(API_KEY, base_url="http://klaviyo.test",
                             transport=httpx.MockTransport(handle)) as klaviyo:
        by_email = await klaviyo.list_member_ids(lid, emails=["in@example.com"])
        by_phone = await klaviyo.list_member_ids(lid, phone_numbers=["+13122041187"])
        outside = await klaviyo.list_member_ids(lid, emails=["out@example.com"])
    assert by_email == by_phone == {pids["in"]}
    assert outside == frozenset()
    assert all("include" not in r.url.params for r in seen)
    assert {r.url.path for r in seen} == {f"/api/lists/{lid}/relationships/profiles"}
