"""Consent and lists on the Klaviyo emulator: single and double opt-in, unsubscribe, members."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from core.sandbox.klaviyo import KlaviyoEmulator
from tests.contract.test_klaviyo_emulator_support import (
    API_KEY,
    client,
    email_subject,
    subscribe_doc,
    the_error,
    unsubscribe_doc,
)

LISTS = [
    {"name": "Single", "opt_in_process": "single_opt_in"},
    {"name": "Double", "opt_in_process": "double_opt_in"},
]


@pytest.fixture
def emulator() -> KlaviyoEmulator:
    # Consent reads use include=lists, which has its own 1/s bucket; these tests are about
    # consent, so limiting is off (the rate-limit tests cover the buckets).
    emulator = KlaviyoEmulator(api_key=API_KEY, rate_scale=0)
    emulator.seed([], LISTS)
    return emulator


def list_id(emulator: KlaviyoEmulator, name: str) -> str:
    return emulator.state.list_by_name[name]


async def consent_of(c: httpx.AsyncClient, pid: str) -> dict[str, Any]:
    r = await c.get(
        f"/api/profiles/{pid}",
        params={"additional-fields[profile]": "subscriptions", "include": "lists"},
    )
    data: dict[str, Any] = r.json()["data"]
    return data


async def test_single_opt_in_list_subscribes_and_adds(emulator: KlaviyoEmulator) -> None:
    lid = list_id(emulator, "Single")
    async with client(emulator) as c:
        r = await c.post(
            "/api/profile-subscription-bulk-create-jobs",
            json=subscribe_doc([email_subject("s@example.com")], lid, custom_source="Checkout"),
        )
        pid = emulator.profile_id_for_email("s@example.com")
        assert pid is not None
        data = await consent_of(c, pid)
    assert r.status_code == 202
    assert r.content == b""
    marketing = data["attributes"]["subscriptions"]["email"]["marketing"]
    assert marketing["consent"] == "SUBSCRIBED"
    assert marketing["custom_method_detail"] == "Checkout"
    assert marketing["consent_timestamp"].endswith("+00:00")
    assert [x["id"] for x in data["relationships"]["lists"]["data"]] == [lid]
    assert emulator.outbox == []


async def test_double_opt_in_list_stays_pending_until_confirmed(emulator: KlaviyoEmulator) -> None:
    lid = list_id(emulator, "Double")
    async with client(emulator) as c:
        r = await c.post(
            "/api/profile-subscription-bulk-create-jobs",
            json=subscribe_doc([email_subject("d@example.com")], lid),
        )
        pid = emulator.profile_id_for_email("d@example.com")
        assert pid is not None
        pending = await consent_of(c, pid)
        assert emulator.outbox == [
            {
                "to": "d@example.com",
                "list_id": lid,
                "list_name": "Double",
                "profile_id": pid,
                "at": emulator.outbox[0]["at"],
            }
        ]
        assert emulator.confirm_consent("d@example.com") == [lid]
        confirmed = await consent_of(c, pid)
    assert r.status_code == 202
    assert (
        pending["attributes"]["subscriptions"]["email"]["marketing"]["consent"]
        == "NEVER_SUBSCRIBED"
    )
    assert pending["relationships"]["lists"]["data"] == []
    marketing = confirmed["attributes"]["subscriptions"]["email"]["marketing"]
    assert marketing["consent"] == "SUBSCRIBED"
    assert marketing["double_optin"] is True
    assert [x["id"] for x in confirmed["relationships"]["lists"]["data"]] == [lid]
    with pytest.raises(KeyError):
        emulator.confirm_consent("d@example.com")


async def test_no_list_on_a_single_opt_in_account_subscribes_at_once(
    emulator: KlaviyoEmulator,
) -> None:
    ids = emulator.seed(
        [{"attributes": {"email": "n@example.com"}}], [], {"opt_in_process": "single_opt_in"}
    )
    async with client(emulator) as c:
        await c.post(
            "/api/profile-subscription-bulk-create-jobs",
            json=subscribe_doc(
                [
                    {
                        "type": "profile",
                        "id": ids["0"],
                        "attributes": {
                            "email": "n@example.com",
                            "subscriptions": {"email": {"marketing": {"consent": "SUBSCRIBED"}}},
                        },
                    }
                ]
            ),
        )
        data = await consent_of(c, ids["0"])
    assert data["attributes"]["subscriptions"]["email"]["marketing"]["consent"] == "SUBSCRIBED"
    assert data["relationships"]["lists"]["data"] == []


async def test_sms_consent_needs_a_phone(emulator: KlaviyoEmulator) -> None:
    sms = {
        "type": "profile",
        "attributes": {
            "email": "sms@example.com",
            "subscriptions": {"sms": {"marketing": {"consent": "SUBSCRIBED"}}},
        },
    }
    async with client(emulator) as c:
        missing = await c.post(
            "/api/profile-subscription-bulk-create-jobs", json=subscribe_doc([sms])
        )
        sms["attributes"]["phone_number"] = "+12025550143"  # type: ignore[index]
        ok = await c.post("/api/profile-subscription-bulk-create-jobs", json=subscribe_doc([sms]))
        pid = emulator.profile_id_for_email("sms@example.com")
        assert pid is not None
        data = await consent_of(c, pid)
    assert missing.status_code == 400
    assert "'phone_number' must not be empty" in the_error(missing)["detail"]
    assert ok.status_code == 202
    sms_state = data["attributes"]["subscriptions"]["sms"]["marketing"]
    assert sms_state["consent"] == "SUBSCRIBED"
    assert sms_state["can_receive_sms_marketing"] is True


async def test_subscribe_drops_a_bad_phone_when_the_email_is_valid(
    emulator: KlaviyoEmulator,
) -> None:
    subject = email_subject("bp@example.com", phone_number="555-0100")
    async with client(emulator) as c:
        r = await c.post(
            "/api/profile-subscription-bulk-create-jobs", json=subscribe_doc([subject])
        )
    assert r.status_code == 202
    assert r.headers["x-klaviyo-partial-failure"] == "phone_number"


@pytest.mark.parametrize(
    ("mutate", "pointer"),
    [
        (
            lambda s: s["attributes"].update(first_name="X"),
            "/data/attributes/profiles/data/0/attributes/first_name",
        ),
        (
            lambda s: s["attributes"]["subscriptions"]["email"]["marketing"].update(consent="YES"),
            "/data/attributes/profiles/data/0/attributes/subscriptions/email/marketing/consent",
        ),
        (
            lambda s: s["attributes"]["subscriptions"]["email"]["marketing"].update(
                consented_at="2024-01-01T00:00:00Z"
            ),
            "/data/attributes/profiles/data/0/attributes/subscriptions/email/marketing/consented_at",
        ),
        (
            lambda s: s["attributes"].pop("subscriptions"),
            "/data/attributes/profiles/data/0/attributes/subscriptions",
        ),
    ],
)
async def test_subscribe_schema_is_strict(
    emulator: KlaviyoEmulator, mutate: Any, pointer: str
) -> None:
    subject = email_subject("strict@example.com")
    mutate(subject)
    async with client(emulator) as c:
        r = await c.post(
            "/api/profile-subscription-bulk-create-jobs", json=subscribe_doc([subject])
        )
    assert r.status_code == 400
    assert the_error(r)["source"]["pointer"] == pointer
    assert emulator.profile_id_for_email("strict@example.com") is None


async def test_historical_import_needs_a_past_consented_at(emulator: KlaviyoEmulator) -> None:
    subject = email_subject("h@example.com")
    subject["attributes"]["subscriptions"]["email"]["marketing"]["consented_at"] = (
        "2023-03-01T10:00:00+00:00"
    )
    async with client(emulator) as c:
        r = await c.post(
            "/api/profile-subscription-bulk-create-jobs",
            json=subscribe_doc([subject], list_id(emulator, "Double"), historical_import=True),
        )
        pid = emulator.profile_id_for_email("h@example.com")
        assert pid is not None
        data = await consent_of(c, pid)
    assert r.status_code == 202
    marketing = data["attributes"]["subscriptions"]["email"]["marketing"]
    assert marketing["consent"] == "SUBSCRIBED"
    assert marketing["consent_timestamp"] == "2023-03-01T10:00:00+00:00"
    assert emulator.outbox == []


async def test_batch_caps(emulator: KlaviyoEmulator) -> None:
    subs = [email_subject(f"c{n}@example.com") for n in range(1001)]
    unsubs = [email_subject(f"c{n}@example.com", "UNSUBSCRIBED") for n in range(101)]
    async with client(emulator) as c:
        too_many = await c.post(
            "/api/profile-subscription-bulk-create-jobs", json=subscribe_doc(subs)
        )
        ok = await c.post(
            "/api/profile-subscription-bulk-create-jobs", json=subscribe_doc(subs[:1000])
        )
        too_many_un = await c.post(
            "/api/profile-subscription-bulk-delete-jobs", json=unsubscribe_doc(unsubs)
        )
        ok_un = await c.post(
            "/api/profile-subscription-bulk-delete-jobs", json=unsubscribe_doc(unsubs[:100])
        )
    assert (too_many.status_code, ok.status_code) == (400, 202)
    assert (too_many_un.status_code, ok_un.status_code) == (400, 202)


async def test_unsubscribe_without_list_is_global(emulator: KlaviyoEmulator) -> None:
    ids = emulator.seed(
        [
            {
                "attributes": {"email": "u@example.com"},
                "subscriptions": {"email": "SUBSCRIBED"},
                "lists": ["Single"],
            }
        ],
        [],
    )
    async with client(emulator) as c:
        r = await c.post(
            "/api/profile-subscription-bulk-delete-jobs",
            json=unsubscribe_doc([email_subject("u@example.com", "UNSUBSCRIBED")]),
        )
        data = await consent_of(c, ids["0"])
    marketing = data["attributes"]["subscriptions"]["email"]["marketing"]
    assert r.status_code == 202
    assert marketing["consent"] == "UNSUBSCRIBED"
    assert marketing["can_receive_email_marketing"] is False
    assert marketing["suppression"][0]["reason"] == "UNSUBSCRIBE"


async def test_unsubscribe_with_list_removes_members_and_globally_unsubscribes_others(
    emulator: KlaviyoEmulator,
) -> None:
    lid = list_id(emulator, "Single")
    ids = emulator.seed(
        [
            {
                "attributes": {"email": "in@example.com"},
                "subscriptions": {"email": "SUBSCRIBED"},
                "lists": ["Single"],
            },
            {"attributes": {"email": "out@example.com"}, "subscriptions": {"email": "SUBSCRIBED"}},
        ],
        [],
    )
    async with client(emulator) as c:
        await c.post(
            "/api/profile-subscription-bulk-delete-jobs",
            json=unsubscribe_doc(
                [
                    email_subject("in@example.com", "UNSUBSCRIBED"),
                    email_subject("out@example.com", "UNSUBSCRIBED"),
                ],
                lid,
            ),
        )
        member = await consent_of(c, ids["0"])
        other = await consent_of(c, ids["1"])
    member_marketing = member["attributes"]["subscriptions"]["email"]["marketing"]
    assert member["relationships"]["lists"]["data"] == []
    assert member_marketing["consent"] == "SUBSCRIBED"
    assert member_marketing["list_suppressions"][0]["list_id"] == lid
    assert other["attributes"]["subscriptions"]["email"]["marketing"]["consent"] == "UNSUBSCRIBED"


async def test_unsubscribe_has_no_profile_id_field(emulator: KlaviyoEmulator) -> None:
    subject = email_subject("noid@example.com", "UNSUBSCRIBED")
    subject["id"] = "01GDDKASAP8TKDDA2GRZDSVP4H"
    async with client(emulator) as c:
        r = await c.post(
            "/api/profile-subscription-bulk-delete-jobs", json=unsubscribe_doc([subject])
        )
    assert r.status_code == 400
    assert the_error(r)["source"]["pointer"] == "/data/attributes/profiles/data/0/id"


async def test_list_members_add_remove_leave_consent_alone(emulator: KlaviyoEmulator) -> None:
    lid = list_id(emulator, "Double")
    ids = emulator.seed(
        [{"attributes": {"email": "m1@example.com"}}, {"attributes": {"email": "m2@example.com"}}],
        [],
    )
    body = {"data": [{"type": "profile", "id": ids["0"]}, {"type": "profile", "id": ids["1"]}]}
    async with client(emulator) as c:
        added = await c.post(f"/api/lists/{lid}/relationships/profiles/", json=body)
        again = await c.post(f"/api/lists/{lid}/relationships/profiles", json=body)
        members = await c.get(f"/api/lists/{lid}/relationships/profiles")
        count = await c.get(
            f"/api/lists/{lid}", params={"additional-fields[list]": "profile_count"}
        )
        removed = await c.request(
            "DELETE", f"/api/lists/{lid}/relationships/profiles", json={"data": body["data"][:1]}
        )
        data = await consent_of(c, ids["0"])
        unknown_list = await c.post("/api/lists/ZZZZZZ/relationships/profiles", json=body)
        unknown_profile = await c.post(
            f"/api/lists/{lid}/relationships/profiles",
            json={"data": [{"type": "profile", "id": "01GDDKASAP8TKDDA2GRZDSVP4H"}]},
        )
        too_many = await c.post(
            f"/api/lists/{lid}/relationships/profiles",
            json={"data": [{"type": "profile", "id": ids["0"]}] * 1001},
        )
    assert (added.status_code, again.status_code, removed.status_code) == (204, 204, 204)
    assert sorted(x["id"] for x in members.json()["data"]) == sorted(ids.values())
    assert count.json()["data"]["attributes"]["profile_count"] == 2
    assert data["relationships"]["lists"]["data"] == []
    assert (
        data["attributes"]["subscriptions"]["email"]["marketing"]["consent"] == "NEVER_SUBSCRIBED"
    )
    assert unknown_list.status_code == 404
    assert unknown_profile.status_code == 400
    assert the_error(unknown_profile)["source"]["pointer"] == "/data/0/id"
    assert too_many.status_code == 400
    assert emulator.outbox == []


@pytest.mark.parametrize(
    "raw_filter",
    ["equals(name,'Double')", 'equals(name,["Double"])', 'any(name,["Nope","Double"])'],
)
async def test_get_lists_filter_by_name(emulator: KlaviyoEmulator, raw_filter: str) -> None:
    async with client(emulator) as c:
        r = await c.get("/api/lists", params={"filter": raw_filter})
    data = r.json()["data"]
    assert [x["attributes"]["name"] for x in data] == ["Double"]
    assert data[0]["attributes"]["opt_in_process"] == "double_opt_in"
    assert len(data[0]["id"]) == 6


async def test_lists_page_at_most_10(emulator: KlaviyoEmulator) -> None:
    emulator.seed([], [{"name": f"L{n:02d}"} for n in range(13)])
    async with client(emulator) as c:
        first = await c.get("/api/lists")
        second = await c.get(first.json()["links"]["next"])
        too_big = await c.get("/api/lists", params={"page[size]": "11"})
    names = [x["attributes"]["name"] for x in first.json()["data"] + second.json()["data"]]
    assert len(first.json()["data"]) == 10
    assert names == ["Single", "Double"] + [f"L{n:02d}" for n in range(13)]
    assert second.json()["links"]["next"] is None
    assert too_big.status_code == 400


async def test_get_unknown_list_is_404(emulator: KlaviyoEmulator) -> None:
    async with client(emulator) as c:
        r = await c.get("/api/lists/AbC123")
    assert r.status_code == 404
