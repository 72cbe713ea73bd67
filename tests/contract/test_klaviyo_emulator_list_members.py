"""List-member reads filtered by identifiers as lists.json allows: operators, pages, tier."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from core.sandbox.klaviyo import KlaviyoEmulator
from core.sandbox.klaviyo.lists import MEMBER_FILTERS, MEMBER_SORTS
from core.sandbox.klaviyo.ratelimit import L
from core.sandbox.klaviyo.routes import match_route
from tests.contract.test_klaviyo_emulator_support import API_KEY, FakeClock, client, the_error

LISTS_SPEC = Path(__file__).parents[1] / "fixtures" / "klaviyo-openapi" / "lists.json"
READS = ("profiles", "relationships/profiles")
# Members 0..4 carry a phone; 5..9 an email only; "Outsider" profiles are on no list.
PHONES = [f"+1202555014{n}" for n in range(5)]


def seed_people(emulator: KlaviyoEmulator, members: int = 10) -> tuple[str, dict[str, str]]:
    people: list[dict[str, Any]] = []
    for n in range(members):
        attributes: dict[str, Any] = {"email": f"m{n}@example.com"}
        if n < len(PHONES):
            attributes["phone_number"] = PHONES[n]
        people.append({"attributes": attributes, "lists": ["Members"]})
    people.append({"attributes": {"email": "out@example.com", "phone_number": "+12025550199"}})
    ids = emulator.seed(people, [{"name": "Members", "opt_in_process": "single_opt_in"}])
    return emulator.state.list_by_name["Members"], ids


@pytest.fixture
def emulator() -> KlaviyoEmulator:
    return KlaviyoEmulator(api_key=API_KEY, rate_scale=0)


def ids_of(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize(
    ("raw_filter", "wanted"),
    [
        ('any(email,["m1@example.com","out@example.com","nobody@example.com","m7@example.com"])',
         ["1", "7"]),
        ("any(email,['M3@Example.com'])", ["3"]),
        ('equals(email,"m2@example.com")', ["2"]),
        ("equals(email,['m2@example.com'])", ["2"]),
        ('equals(email,"out@example.com")', []),
        ('any(email,[])', []),
        (f'any(phone_number,["{PHONES[0]}","{PHONES[4]}","+12025550199"])', ["0", "4"]),
        (f'equals(phone_number,"{PHONES[3]}")', ["3"]),
        (f'any(email,["m0@example.com","m1@example.com"]),'
         f'equals(phone_number,"{PHONES[1]}")', ["1"]),
    ],
)
async def test_identifier_filters_name_only_members(
    emulator: KlaviyoEmulator, read: str, raw_filter: str, wanted: list[str]
) -> None:
    lid, ids = seed_people(emulator)
    async with client(emulator) as c:
        r = await c.get(f"/api/lists/{lid}/{read}", params={"filter": raw_filter})
    assert sorted(ids_of(r)) == sorted(ids[n] for n in wanted)


@pytest.mark.parametrize("read", READS)
async def test_a_raw_plus_in_a_phone_filter_is_a_space_and_matches_nobody(
    emulator: KlaviyoEmulator, read: str
) -> None:
    lid, ids = seed_people(emulator)
    raw = f'any(phone_number,["{PHONES[2]}"])'
    async with client(emulator) as c:
        encoded = await c.get(f"/api/lists/{lid}/{read}", params={"filter": raw})
        unencoded = await c.get(f"/api/lists/{lid}/{read}?filter={raw}")
    assert ids_of(encoded) == [ids["2"]]
    assert ids_of(unencoded) == []


async def test_the_profiles_read_carries_the_matched_identifiers_and_join_time(
    emulator: KlaviyoEmulator,
) -> None:
    lid, ids = seed_people(emulator)
    async with client(emulator) as c:
        r = await c.get(
            f"/api/lists/{lid}/profiles",
            params={"filter": 'any(email,["m0@example.com","m6@example.com"])',
                    "fields[profile]": "email,phone_number"},
        )
    assert r.status_code == 200
    rows = {item["id"]: item["attributes"] for item in r.json()["data"]}
    assert rows == {ids["0"]: {"email": "m0@example.com", "phone_number": PHONES[0]},
                    ids["6"]: {"email": "m6@example.com", "phone_number": None}}
    assert all(item["type"] == "profile" for item in r.json()["data"])


async def test_without_fields_the_member_view_has_joined_group_at(
    emulator: KlaviyoEmulator,
) -> None:
    lid, _ = seed_people(emulator)
    async with client(emulator) as c:
        r = await c.get(f"/api/lists/{lid}/profiles",
                        params={"filter": 'equals(email,"m0@example.com")'})
    (member,) = r.json()["data"]
    assert member["attributes"]["joined_group_at"].endswith("+00:00")


@pytest.mark.parametrize("read", READS)
async def test_filtered_pages_follow_klaviyos_size_rules(
    emulator: KlaviyoEmulator, read: str
) -> None:
    lid, ids = seed_people(emulator, members=130)
    emails = ",".join(f'"m{n}@example.com"' for n in range(0, 130, 2))  # 65 members
    query = {"filter": f"any(email,[{emails}])"}
    async with client(emulator) as c:
        default = await c.get(f"/api/lists/{lid}/{read}", params=query)
        seen: list[str] = []
        url: str | None = f"/api/lists/{lid}/{read}"
        params: dict[str, str] | None = {**query, "page[size]": "30"}
        while url:
            page = await c.get(url, params=params)
            seen.extend(ids_of(page))
            url, params = page.json()["links"]["next"], None
        widest = await c.get(f"/api/lists/{lid}/{read}", params={**query, "page[size]": "100"})
    assert len(ids_of(default)) == 20
    assert sorted(seen) == sorted(ids[str(n)] for n in range(0, 130, 2))
    assert len(seen) == len(set(seen)) == 65
    assert len(ids_of(widest)) == 65
    assert widest.json()["links"]["next"] is None
    assert parse_qs(urlsplit(default.json()["links"]["next"]).query)["filter"] == [query["filter"]]


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("size", ["0", "101", "ten"])
async def test_page_sizes_outside_1_to_100_are_refused(
    emulator: KlaviyoEmulator, read: str, size: str
) -> None:
    lid, _ = seed_people(emulator)
    async with client(emulator) as c:
        r = await c.get(f"/api/lists/{lid}/{read}", params={"page[size]": size})
    assert r.status_code == 400
    assert the_error(r)["source"] == {"parameter": "page[size]"}


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize(
    "raw_filter",
    ['equals(first_name,"Ann")', 'contains(email,"example")', 'any(email,"m0@example.com")',
     'equals(external_id,"55260")', 'any(email,["m0@example.com"]'],
)
async def test_filters_lists_json_does_not_allow_are_400(
    emulator: KlaviyoEmulator, read: str, raw_filter: str
) -> None:
    lid, _ = seed_people(emulator)
    async with client(emulator) as c:
        r = await c.get(f"/api/lists/{lid}/{read}", params={"filter": raw_filter})
    assert r.status_code == 400
    assert the_error(r)["source"] == {"parameter": "filter"}


@pytest.mark.parametrize("read", READS)
async def test_an_unknown_list_is_404(emulator: KlaviyoEmulator, read: str) -> None:
    async with client(emulator) as c:
        r = await c.get(f"/api/lists/ZZZZZZ/{read}",
                        params={"filter": 'any(email,["m0@example.com"])'})
    assert r.status_code == 404


@pytest.mark.parametrize("read", READS)
async def test_member_reads_are_on_the_l_tier(read: str) -> None:
    clock = FakeClock()
    emulator = KlaviyoEmulator(api_key=API_KEY, clock=clock)
    lid, _ = seed_people(emulator)
    query = {"filter": 'any(email,["m0@example.com"])'}
    async with client(emulator) as c:
        burst = [await c.get(f"/api/lists/{lid}/{read}", params=query) for _ in range(L.burst)]
        throttled = await c.get(f"/api/lists/{lid}/{read}", params=query)
        profiles_bucket = await c.get("/api/profiles", params=query)
        clock.advance(1.0)
        after = await c.get(f"/api/lists/{lid}/{read}", params=query)
    assert all(r.status_code == 200 for r in burst)
    assert burst[0].headers["ratelimit-limit"] == "750"
    assert burst[-1].headers["ratelimit-remaining"] == str(750 - L.burst)
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "1"
    assert profiles_bucket.status_code == 200
    assert after.status_code == 200


def _spec_operation(path: str) -> dict[str, Any]:
    spec = json.loads(LISTS_SPEC.read_text())
    operation: dict[str, Any] = spec["paths"][path]["get"]
    return operation


@pytest.mark.parametrize(
    "path", ["/api/lists/{id}/profiles", "/api/lists/{id}/relationships/profiles"]
)
def test_the_emulator_allows_what_lists_json_allows(path: str) -> None:
    operation = _spec_operation(path)
    allowed = {
        field: frozenset(op for kind in spec["operators"].values() for op in kind)
        for field, spec in operation["x-klaviyo-filters"].items()
    }
    assert allowed == MEMBER_FILTERS
    size = next(p for p in operation["parameters"] if p.get("name") == "page[size]")["schema"]
    assert (size["default"], size["minimum"], size["maximum"]) == (20, 1, 100)
    burst, steady = (int(re.match(r"\d+", operation["x-klaviyo-ratelimit"][key]).group())  # type: ignore[union-attr]
                     for key in ("burst", "steady"))
    route, _ = match_route(tuple(path.strip("/").replace("{id}", "X").split("/")))
    assert route is not None
    _, _, tier = route.methods["GET"]
    assert (tier.burst, tier.steady) == (burst, steady) == (L.burst, L.steady)


@pytest.mark.parametrize("read", READS)
async def test_sort_by_join_time_both_ways_across_pages(read: str) -> None:
    moment = [datetime(2026, 1, 1, tzinfo=UTC)]
    emulator = KlaviyoEmulator(api_key=API_KEY, rate_scale=0, wall_clock=lambda: moment[0])
    ids = emulator.seed([{"attributes": {"email": f"j{n}@example.com"}} for n in range(5)],
                        [{"name": "Joined", "opt_in_process": "single_opt_in"}])
    lid = emulator.state.list_by_name["Joined"]
    joining = [ids[n] for n in ("3", "0", "4", "1", "2")]
    async with client(emulator) as c:
        for pid in joining:
            moment[0] += timedelta(minutes=1)
            body = {"data": [{"type": "profile", "id": pid}]}
            assert (await c.post(f"/api/lists/{lid}/relationships/profiles",
                                 json=body)).status_code == 204
        orders = {}
        for sort in ("joined_group_at", "-joined_group_at"):
            seen: list[str] = []
            url: str | None = f"/api/lists/{lid}/{read}"
            params: dict[str, str] | None = {
                "sort": sort, "page[size]": "2",
                "filter": 'any(email,["j0@example.com","j1@example.com","j2@example.com",'
                          '"j3@example.com","j4@example.com"])'}
            while url:
                r = await c.get(url, params=params)
                seen.extend(ids_of(r))
                url, params = r.json()["links"]["next"], None
            orders[sort] = seen
    assert orders["joined_group_at"] == joining
    assert orders["-joined_group_at"] == joining[::-1]


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("sort", ["email", "created", "joined_group_at,email"])
async def test_sorts_lists_json_does_not_allow_are_400(
    emulator: KlaviyoEmulator, read: str, sort: str
) -> None:
    lid, _ = seed_people(emulator)
    async with client(emulator) as c:
        r = await c.get(f"/api/lists/{lid}/{read}", params={"sort": sort})
    assert r.status_code == 400
    assert the_error(r)["source"] == {"parameter": "sort"}


@pytest.mark.parametrize(
    "path", ["/api/lists/{id}/profiles", "/api/lists/{id}/relationships/profiles"]
)
def test_the_emulator_sorts_as_lists_json_allows(path: str) -> None:
    sort = next(p for p in _spec_operation(path)["parameters"] if p.get("name") == "sort")
    assert frozenset(sort["schema"]["enum"]) == MEMBER_SORTS
