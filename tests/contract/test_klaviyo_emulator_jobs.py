"""Bulk import jobs, rate limits, and seed/dump/load of the Klaviyo emulator."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.sandbox.klaviyo import KlaviyoEmulator
from tests.contract.test_klaviyo_emulator_support import (
    API_KEY,
    FakeClock,
    client,
    email_subject,
    profile_doc,
    subscribe_doc,
    the_error,
)


def import_doc(rows: list[dict[str, Any]], list_ids: list[str] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": "profile-bulk-import-job",
        "attributes": {"profiles": {"data": rows}},
    }
    if list_ids:
        data["relationships"] = {"lists": {"data": [{"type": "list", "id": i} for i in list_ids]}}
    return {"data": data}


def row(**attributes: Any) -> dict[str, Any]:
    return {"type": "profile", "attributes": attributes}


async def test_bulk_import_advances_with_the_clock_and_reports_row_errors() -> None:
    clock = FakeClock()
    emulator = KlaviyoEmulator(api_key=API_KEY, clock=clock)
    emulator.seed(
        [{"attributes": {"email": "old@example.com", "first_name": "Old"}}],
        [{"name": "Imported", "opt_in_process": "double_opt_in"}],
    )
    lid = emulator.state.list_by_name["Imported"]
    rows = [
        row(email="old@example.com", first_name="New"),
        row(email="fresh@example.com"),
        row(email="badphone@example.com", phone_number="+1555"),
        row(email="not-an-email"),
        row(first_name="No identifier"),
    ]
    async with client(emulator) as c:
        created = await c.post("/api/profile-bulk-import-jobs", json=import_doc(rows, [lid]))
        job = created.json()["data"]
        url = f"/api/profile-bulk-import-jobs/{job['id']}"
        statuses = [job["attributes"]["status"]]
        assert emulator.profile_id_for_email("fresh@example.com") is None
        clock.advance(1.5)
        statuses.append((await c.get(url)).json()["data"]["attributes"]["status"])
        clock.advance(5)
        done = (await c.get(url + "/")).json()["data"]["attributes"]
        errors = (await c.get(url + "/import-errors")).json()["data"]
        members = await c.get(f"/api/lists/{lid}/relationships/profiles")
    assert created.status_code == 202
    assert job["type"] == "profile-bulk-import-job"
    assert len(job["id"]) == 26
    assert statuses == ["queued", "processing"]
    assert done["status"] == "complete"
    assert (done["total_count"], done["completed_count"], done["failed_count"]) == (5, 2, 3)
    assert done["completed_at"].endswith("+00:00")
    by_row = {e["attributes"]["source"]["pointer"]: e["attributes"] for e in errors}
    phone = by_row["/data/attributes/profiles/data/2/attributes/phone_number"]
    assert phone["original_payload"]["attributes"]["email"] == "badphone@example.com"
    assert phone["detail"].startswith("Invalid phone number format")
    assert "/data/attributes/profiles/data/3/attributes/email" in by_row
    assert "/data/attributes/profiles/data/4" in by_row
    old = emulator.profile_id_for_email("old@example.com")
    assert old is not None
    assert emulator.state.profiles[old]["attributes"]["first_name"] == "New"
    assert len(members.json()["data"]) == 2
    # Import adds to lists without consent emails.
    assert emulator.outbox == []


async def test_bulk_import_limits_and_strict_rows() -> None:
    emulator = KlaviyoEmulator(api_key=API_KEY)
    async with client(emulator) as c:
        too_many = await c.post(
            "/api/profile-bulk-import-jobs", json=import_doc([row(email="a@example.com")] * 10_001)
        )
        unknown = await c.post(
            "/api/profile-bulk-import-jobs",
            json=import_doc([row(email="a@example.com", shoe_size="9")]),
        )
        bad_list = await c.post(
            "/api/profile-bulk-import-jobs",
            json=import_doc([row(email="a@example.com")], ["NoSuch"]),
        )
        missing = await c.get("/api/profile-bulk-import-jobs/01GSQPBF74KQ5YTDEPP41T1BZH")
    assert too_many.status_code == 400
    assert unknown.status_code == 400
    assert (
        the_error(unknown)["source"]["pointer"]
        == "/data/attributes/profiles/data/0/attributes/shoe_size"
    )
    assert bad_list.status_code == 400
    assert missing.status_code == 404


async def test_oversized_import_row_is_a_row_error() -> None:
    clock = FakeClock()
    emulator = KlaviyoEmulator(api_key=API_KEY, clock=clock)
    async with client(emulator) as c:
        job = (
            await c.post(
                "/api/profile-bulk-import-jobs",
                json=import_doc(
                    [
                        row(email="big@example.com", properties={"x": "y" * 103_000}),
                        row(email="small@example.com"),
                    ]
                ),
            )
        ).json()["data"]
        clock.advance(10)
        errors = (await c.get(f"/api/profile-bulk-import-jobs/{job['id']}/import-errors")).json()
    assert [e["attributes"]["source"]["pointer"] for e in errors["data"]] == [
        "/data/attributes/profiles/data/0"
    ]


async def test_burst_past_the_limit_gets_429_then_recovers() -> None:
    clock = FakeClock()
    emulator = KlaviyoEmulator(api_key=API_KEY, clock=clock)
    ids = emulator.seed([{"attributes": {"email": "r@example.com"}}], [])
    async with client(emulator) as c:
        ok = [await c.get(f"/api/profiles/{ids['0']}/lists") for _ in range(3)]
        throttled = await c.get(f"/api/profiles/{ids['0']}/lists")
        other_bucket = await c.get(f"/api/profiles/{ids['0']}")
        clock.advance(1.0)
        after = await c.get(f"/api/profiles/{ids['0']}/lists")
    assert [r.status_code for r in ok] == [200, 200, 200]
    assert ok[0].headers["ratelimit-limit"] == "60"
    assert [r.headers["ratelimit-remaining"] for r in ok] == ["59", "58", "57"]
    assert ok[0].headers["ratelimit-reset"] == "60"
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "1"
    assert "ratelimit-limit" not in throttled.headers
    error = the_error(throttled)
    assert error["code"] == "throttled"
    assert error["detail"] == "Request was throttled. Expected available in 1 second."
    assert other_bucket.status_code == 200
    assert after.status_code == 200


async def test_steady_window_throttles_until_the_minute_ends() -> None:
    clock = FakeClock()
    emulator = KlaviyoEmulator(api_key=API_KEY, clock=clock)
    ids = emulator.seed([{"attributes": {"email": "s@example.com"}}], [])
    async with client(emulator) as c:
        for _ in range(20):
            for _ in range(3):
                assert (await c.get(f"/api/profiles/{ids['0']}/lists")).status_code == 200
            clock.advance(1.0)
        blocked = await c.get(f"/api/profiles/{ids['0']}/lists")
        clock.advance(40.0)
        free = await c.get(f"/api/profiles/{ids['0']}/lists")
    assert blocked.status_code == 429
    assert blocked.headers["retry-after"] == "40"
    assert free.status_code == 200


async def test_scaled_windows_shrink_in_time_not_in_count() -> None:
    clock = FakeClock()
    emulator = KlaviyoEmulator(api_key=API_KEY, clock=clock, rate_scale=0.01)
    ids = emulator.seed([{"attributes": {"email": "sc@example.com"}}], [])
    async with client(emulator) as c:
        ok = [await c.get(f"/api/profiles/{ids['0']}/lists") for _ in range(3)]
        throttled = await c.get(f"/api/profiles/{ids['0']}/lists")
        clock.advance(0.011)
        after = await c.get(f"/api/profiles/{ids['0']}/lists")
    assert all(r.status_code == 200 for r in ok)
    assert ok[0].headers["ratelimit-reset"] == "0.600"
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "0.010"
    assert after.status_code == 200


async def test_rate_scale_zero_disables_limits() -> None:
    emulator = KlaviyoEmulator(api_key=API_KEY, rate_scale=0)
    ids = emulator.seed([{"attributes": {"email": "z@example.com"}}], [])
    async with client(emulator) as c:
        codes = {(await c.get(f"/api/profiles/{ids['0']}/lists")).status_code for _ in range(10)}
    assert codes == {200}


async def test_dump_load_round_trip_keeps_everything() -> None:
    clock = FakeClock()
    emulator = KlaviyoEmulator(api_key=API_KEY, clock=clock)
    ids = emulator.seed(
        [
            {
                "attributes": {"email": "keep@example.com", "properties": {"k": [1, 2]}},
                "subscriptions": {"email": "SUBSCRIBED", "sms": "NEVER_SUBSCRIBED"},
                "lists": ["S"],
            }
        ],
        [
            {"name": "S", "opt_in_process": "single_opt_in"},
            {"name": "D", "opt_in_process": "double_opt_in"},
        ],
    )
    async with client(emulator) as c:
        await c.post(
            "/api/profile-subscription-bulk-create-jobs",
            json=subscribe_doc(
                [email_subject("wait@example.com")], emulator.state.list_by_name["D"]
            ),
        )
        await c.post(
            "/api/profile-bulk-import-jobs", json=import_doc([row(email="job@example.com")])
        )
    assert emulator.changed
    text = json.dumps(emulator.dump())
    restored = KlaviyoEmulator(api_key=API_KEY, clock=FakeClock())
    restored.load(json.loads(text))
    assert not restored.changed
    assert restored.profile_id_for_email("keep@example.com") == ids["0"]
    assert restored.profile_id_for_email("job@example.com") is not None
    assert restored.outbox == emulator.outbox
    assert restored.state.lists_of(ids["0"]) == [restored.state.list_by_name["S"]]
    assert restored.confirm_consent("wait@example.com") == [restored.state.list_by_name["D"]]
    async with client(restored) as c:
        again = await c.post("/api/profiles", json=profile_doc(email="KEEP@example.com"))
        newer = await c.post("/api/profiles", json=profile_doc(email="newer@example.com"))
    assert the_error(again)["meta"]["duplicate_profile_id"] == ids["0"]
    assert newer.json()["data"]["id"] > ids["0"]


def test_list_ids_are_stable_and_derived_from_names() -> None:
    one = KlaviyoEmulator(api_key=API_KEY)
    two = KlaviyoEmulator(api_key=API_KEY)
    one.seed([], [{"name": "VIP"}, {"name": "News"}])
    two.seed([], [{"name": "News"}, {"name": "VIP"}])
    assert one.state.list_by_name == two.state.list_by_name


@pytest.mark.parametrize(
    ("profiles", "lists", "needle"),
    [
        ([{"attributes": {"email": "x@example.com"}, "lists": ["Nope"]}], [], "Nope"),
        ([{"attributes": {"email": "bad"}}], [], "seed profile 0"),
        (
            [{"attributes": {"email": "x@example.com"}, "subscriptions": {"email": "YES"}}],
            [],
            "email",
        ),
        (
            [
                {"attributes": {"email": "x@example.com"}},
                {"attributes": {"email": "x@example.com"}},
            ],
            [],
            "seed profile 1",
        ),
        ([], [{"name": "L", "opt_in_process": "triple"}], "opt_in_process"),
    ],
)
def test_bad_seed_says_what_to_fix(
    profiles: list[dict[str, Any]], lists: list[dict[str, Any]], needle: str
) -> None:
    with pytest.raises(ValueError, match=needle):
        KlaviyoEmulator(api_key=API_KEY).seed(profiles, lists)


async def test_identity_lookup_in_a_large_account() -> None:
    emulator = KlaviyoEmulator(api_key=API_KEY, rate_scale=0)
    ids = emulator.seed(
        [{"attributes": {"email": f"user{n}@example.com"}} for n in range(20_000)], []
    )
    async with client(emulator) as c:
        r = await c.get("/api/profiles", params={"filter": 'equals(email,"user19999@example.com")'})
        phone = await c.get("/api/profiles", params={"filter": 'any(email,["user7@example.com"])'})
    assert [p["id"] for p in r.json()["data"]] == [ids["19999"]]
    assert [p["id"] for p in phone.json()["data"]] == [ids["7"]]
