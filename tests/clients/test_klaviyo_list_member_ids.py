"""KlaviyoClient.list_member_ids: a batch's list membership read 100 identifiers a request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from core.clients.http import ApiError
from core.clients.klaviyo import KlaviyoClient
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
    found = await client.list_member_ids(news, emails=emails, phone_numbers=phones)

    members = ids_by_email(emulator, *(f"m{n}@example.com" for n in range(MEMBERS)))
    assert found == frozenset(members.values())

    assert {r.url.path for r in recorder.requests} == {
        f"/api/lists/{news}/relationships/profiles"}
    filters = [r.url.params["filter"] for r in recorder.requests]
    assert sorted(f.split(",")[0] for f in filters) == [
        "any(email", "any(email", "any(phone_number"]
    asked = [f.count("'") // 2 for f in filters]
    assert sorted(asked) == [15, 96, 100]
    for request in recorder.requests:
        assert request.method == "GET"
        assert request.url.params["page[size]"] == "100"
    phone_request = next(r for r in recorder.requests if "phone_number" in r.url.params["filter"])
    assert b"%2B1202555" in phone_request.url.raw_path  # a raw '+' would arrive as a space


async def test_every_spelling_of_an_email_is_asked(
    client: KlaviyoClient, emulator: KlaviyoEmulator, recorder: Recorder
) -> None:
    news = emulator.state.list_by_name["News"]
    pid = emulator.profile_id_for_email("m3@example.com")
    found = await client.list_member_ids(news, emails=["M3@Example.COM", "m3@example.com",
                                                      "m3@example.com"])
    assert found == {pid}
    [request] = recorder.requests
    assert request.url.params["filter"] == "any(email,['M3@Example.COM','m3@example.com'])"


async def test_nobody_asked_sends_nothing(client: KlaviyoClient, recorder: Recorder) -> None:
    found = await client.list_member_ids("AbCdEf", emails=["", ""], phone_numbers=())
    assert found == frozenset()
    assert recorder.requests == []


async def test_an_empty_list_has_no_members(
    client: KlaviyoClient, emulator: KlaviyoEmulator
) -> None:
    empty = emulator.state.list_by_name["Empty"]
    found = await client.list_member_ids(empty, emails=["m0@example.com"],
                                         phone_numbers=[PHONE.format(0)])
    assert found == frozenset()


async def test_an_unknown_list_raises_one_api_error(client: KlaviyoClient) -> None:
    emails = [f"m{n}@example.com" for n in range(250)]
    with pytest.raises(ApiError) as caught:
        await client.list_member_ids("ZZZZZZ", emails=emails)
    assert caught.value.status == 404


async def test_reads_count_against_the_member_ids_l_bucket(
    client: KlaviyoClient, emulator: KlaviyoEmulator
) -> None:
    news = emulator.state.list_by_name["News"]
    await client.list_member_ids(news, emails=[f"m{n}@example.com" for n in range(150)])
    state = client.rate_limits()["GET /api/lists/{id}/relationships/profiles"]
    assert state.sent == 2
    assert state.limit == 750


async def test_every_page_of_an_answer_is_read() -> None:
    pages = {
        None: ("P1", "https://a.klaviyo.com/api/lists/L/relationships/profiles"
                     "?page%5Bcursor%5D=two"),
        "two": ("P2", None),
    }

    async def handler(request: httpx.Request) -> httpx.Response:
        pid, nxt = pages[request.url.params.get("page[cursor]")]
        return jsonapi(200, {"data": [{"type": "profile", "id": pid}],
                             "links": {"self": str(request.url), "next": nxt, "prev": None}})

    async with KlaviyoClient(KEY, transport=httpx.MockTransport(handler)) as c:
        found = await c.list_member_ids("L", emails=["a@example.com", "b@example.com"])
    assert found == {"P1", "P2"}


async def test_rows_without_an_id_are_ignored() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        rows = [{"type": "profile", "id": "P9"}, {"type": "profile"}, "garbage"]
        return jsonapi(200, {"data": rows, "links": {"self": "x", "next": None, "prev": None}})

    async with KlaviyoClient(KEY, transport=httpx.MockTransport(handler)) as c:
        found = await c.list_member_ids("L", emails=["a@example.com"])
    assert found == {"P9"}
