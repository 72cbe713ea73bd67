"""KlaviyoClient.list_members: a batch's list membership read 100 identifiers a request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from core.clients.http import ApiError
from core.clients.klaviyo import KlaviyoClient, ListMembers
from core.sandbox.klaviyo import KlaviyoEmulator
from tests.clients.fakes import KEY, Recorder, VirtualClock, jsonapi

MEMBERS = 130  # m0..m129 on "News"; n0..n29 exist but are on no list
PHONE = "+1202555{:04d}"


@pytest.fixture
def emulator() -> KlaviyoEmulator:
    emulator = KlaviyoEmulator(api_key=KEY, rate_scale=0)
    people: list[dict[str, Any]] = [
        {"attributes": {"email": f"m{n}@example.com", "phone_number": PHONE.format(n)},
         "lists": ["News"]}
        for n in range(MEMBERS)
    ]
    people += [{"attributes": {"email": f"n{n}@example.com",
                               "phone_number": PHONE.format(5000 + n)}} for n in range(30)]
    emulator.seed(people, [{"name": "News", "opt_in_process": "double_opt_in"},
                           {"name": "Empty", "opt_in_process": "single_opt_in"}])
    return emulator


@pytest.fixture
def recorder(emulator: KlaviyoEmulator) -> Recorder:
    return Recorder(emulator.handle)


@pytest.fixture
async def client(recorder: Recorder) -> AsyncIterator[KlaviyoClient]:
    clock = VirtualClock()
    async with KlaviyoClient(KEY, transport=recorder.transport, clock=clock,
                             sleep=clock.sleep) as made:
        yield made


def ids_by_email(emulator: KlaviyoEmulator, *emails: str) -> dict[str, str]:
    return {email: pid for email in emails
            if (pid := emulator.profile_id_for_email(email)) is not None}


async def test_members_among_many_identifiers_are_found_100_a_request(
    client: KlaviyoClient, emulator: KlaviyoEmulator, recorder: Recorder
) -> None:
    news = emulator.state.list_by_name["News"]
    emails = [f"m{n}@example.com" for n in range(0, MEMBERS, 2)]  # 65 members
    emails += [f"n{n}@example.com" for n in range(30)]  # profiles, not members
    emails += [f"ghost{n}@example.com" for n in range(20)]  # nobody
    phones = [PHONE.format(n) for n in range(1, MEMBERS, 2)]  # the other 65 members
    phones += [PHONE.format(5000 + n) for n in range(30)] + ["+12025559999"]
    found = await client.list_members(news, emails=emails, phone_numbers=phones)

    members = ids_by_email(emulator, *(f"m{n}@example.com" for n in range(MEMBERS)))
    assert found.list_id == news
    assert found.by_email == {f"m{n}@example.com": members[f"m{n}@example.com"]
                              for n in range(0, MEMBERS, 2)}
    assert found.by_phone == {PHONE.format(n): members[f"m{n}@example.com"]
                              for n in range(1, MEMBERS, 2)}
    assert found.profile_ids == frozenset(members.values())
    assert found.emails == frozenset(found.by_email)
    assert found.phone_numbers == frozenset(found.by_phone)

    assert {r.url.path for r in recorder.requests} == {f"/api/lists/{news}/profiles"}
    filters = [r.url.params["filter"] for r in recorder.requests]
    assert sorted(f.split(",")[0] for f in filters) == [
        "any(email", "any(email", "any(phone_number"]
    asked = [f.count('"') // 2 for f in filters]
    assert sorted(asked) == [15, 96, 100]
    for request in recorder.requests:
        assert request.method == "GET"
        assert request.url.params["page[size]"] == "100"
        assert request.url.params["fields[profile]"] == "email,phone_number"
    phone_request = next(r for r in recorder.requests if "phone_number" in r.url.params["filter"])
    assert b"%2B1202555" in phone_request.url.raw_path  # a raw '+' would arrive as a space


async def test_an_email_matches_whatever_case_the_caller_used(
    client: KlaviyoClient, emulator: KlaviyoEmulator
) -> None:
    news = emulator.state.list_by_name["News"]
    pid = emulator.profile_id_for_email("m3@example.com")
    found = await client.list_members(news, emails=["M3@Example.COM", "m3@example.com"])
    assert found.by_email == {"M3@Example.COM": pid, "m3@example.com": pid}
    assert found.member_id(email="M3@Example.COM") == pid


async def test_member_id_prefers_the_email_then_the_phone(
    client: KlaviyoClient, emulator: KlaviyoEmulator
) -> None:
    news = emulator.state.list_by_name["News"]
    found = await client.list_members(news, emails=["m1@example.com"],
                                      phone_numbers=[PHONE.format(2)])
    ids = ids_by_email(emulator, "m1@example.com", "m2@example.com")
    assert found.member_id(email="m1@example.com", phone_number=PHONE.format(2)) == ids[
        "m1@example.com"]
    assert found.member_id(email="n1@example.com", phone_number=PHONE.format(2)) == ids[
        "m2@example.com"]
    assert found.member_id(email="n1@example.com") is None
    assert found.member_id() is None


async def test_nobody_asked_sends_nothing(client: KlaviyoClient, recorder: Recorder) -> None:
    found = await client.list_members("AbCdEf", emails=["", ""], phone_numbers=())
    assert found == ListMembers("AbCdEf")
    assert recorder.requests == []


async def test_an_empty_list_has_no_members(
    client: KlaviyoClient, emulator: KlaviyoEmulator
) -> None:
    empty = emulator.state.list_by_name["Empty"]
    found = await client.list_members(empty, emails=["m0@example.com"],
                                      phone_numbers=[PHONE.format(0)])
    assert found.profile_ids == frozenset()


async def test_an_unknown_list_raises_one_api_error(client: KlaviyoClient) -> None:
    emails = [f"m{n}@example.com" for n in range(250)]
    with pytest.raises(ApiError) as caught:
        await client.list_members("ZZZZZZ", emails=emails)
    assert caught.value.status == 404


async def test_reads_count_against_the_list_members_l_bucket(
    client: KlaviyoClient, emulator: KlaviyoEmulator
) -> None:
    news = emulator.state.list_by_name["News"]
    await client.list_members(news, emails=[f"m{n}@example.com" for n in range(150)])
    state = client.rate_limits()["GET /api/lists/{id}/profiles"]
    assert state.sent == 2
    assert state.limit == 750


async def test_every_page_of_an_answer_is_read() -> None:
    pages = {
        None: ({"id": "P1", "attributes": {"email": "a@example.com", "phone_number": None}},
               "https://a.klaviyo.com/api/lists/L/profiles?page%5Bcursor%5D=two"),
        "two": ({"id": "P2", "attributes": {"email": "B@example.com", "phone_number": None}},
                None),
    }

    async def handler(request: httpx.Request) -> httpx.Response:
        row, nxt = pages[request.url.params.get("page[cursor]")]
        return jsonapi(200, {"data": [{"type": "profile", **row}],
                             "links": {"self": str(request.url), "next": nxt, "prev": None}})

    async with KlaviyoClient(KEY, transport=httpx.MockTransport(handler)) as c:
        found = await c.list_members("L", emails=["a@example.com", "b@example.com"])
    assert found.by_email == {"a@example.com": "P1", "b@example.com": "P2"}


async def test_rows_that_match_nothing_asked_are_ignored() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        rows = [{"type": "profile", "id": "P9", "attributes": {"email": "other@example.com"}},
                {"type": "profile", "attributes": {"email": "a@example.com"}},
                {"type": "profile", "id": "P8"}]
        return jsonapi(200, {"data": rows, "links": {"self": "x", "next": None, "prev": None}})

    async with KlaviyoClient(KEY, transport=httpx.MockTransport(handler)) as c:
        found = await c.list_members("L", emails=["a@example.com"])
    assert found == ListMembers("L")
