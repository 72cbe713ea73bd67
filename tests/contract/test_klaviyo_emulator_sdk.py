"""Klaviyo's official Python SDK runs against the emulator on loopback and parses every answer."""

from __future__ import annotations

import asyncio
from typing import Any

from core.loopback import LoopbackServer
from core.sandbox.klaviyo import KlaviyoEmulator
from tests.contract.test_klaviyo_emulator_support import API_KEY


def sdk_session(port: int, list_id: str) -> dict[str, Any]:
    from klaviyo_api import KlaviyoAPI

    k = KlaviyoAPI(API_KEY, max_delay=1, max_retries=1, test_host=f"http://127.0.0.1:{port}")
    out: dict[str, Any] = {}
    created = k.Profiles.create_profile(
        {
            "data": {
                "type": "profile",
                "attributes": {
                    "email": "sdk@example.com",
                    "phone_number": "+12025550143",
                    "first_name": "S",
                },
            }
        }
    )
    pid = created.data.id
    out["get"] = k.Profiles.get_profile(
        pid, additional_fields_profile=["subscriptions"], include=["lists"]
    ).data.attributes.email
    out["by_email"] = [
        p.id for p in k.Profiles.get_profiles(filter='equals(email,"sdk@example.com")').data
    ]
    out["by_phone"] = [
        p.id for p in k.Profiles.get_profiles(filter='equals(phone_number,"+12025550143")').data
    ]
    out["patched"] = k.Profiles.update_profile(
        pid, {"data": {"type": "profile", "id": pid, "attributes": {"last_name": "K"}}}
    ).data.attributes.last_name
    k.Profiles.bulk_subscribe_profiles(
        {
            "data": {
                "type": "profile-subscription-bulk-create-job",
                "attributes": {
                    "profiles": {
                        "data": [
                            {
                                "type": "profile",
                                "attributes": {
                                    "email": "sdk@example.com",
                                    "subscriptions": {
                                        "email": {"marketing": {"consent": "SUBSCRIBED"}}
                                    },
                                },
                            }
                        ]
                    }
                },
                "relationships": {"list": {"data": {"type": "list", "id": list_id}}},
            }
        }
    )
    out["lists_after_subscribe"] = len(k.Profiles.get_profile_lists(pid).data)
    k.Lists.remove_profiles_from_list(list_id, {"data": [{"type": "profile", "id": pid}]})
    k.Lists.add_profiles_to_list(list_id, {"data": [{"type": "profile", "id": pid}]})
    k.Profiles.bulk_unsubscribe_profiles(
        {
            "data": {
                "type": "profile-subscription-bulk-delete-job",
                "attributes": {
                    "profiles": {
                        "data": [
                            {
                                "type": "profile",
                                "attributes": {
                                    "email": "sdk@example.com",
                                    "subscriptions": {
                                        "email": {"marketing": {"consent": "UNSUBSCRIBED"}}
                                    },
                                },
                            }
                        ]
                    }
                },
            }
        }
    )
    out["lists"] = [item.id for item in k.Lists.get_lists(filter='equals(name,"News")').data]
    profile = k.Profiles.get_profile(pid, additional_fields_profile=["subscriptions"])
    out["consent"] = profile.data.attributes.subscriptions.email.marketing.consent
    out["pid"] = pid
    return out


async def test_official_sdk_round_trip() -> None:
    emulator = KlaviyoEmulator(api_key=API_KEY)
    emulator.seed([], [{"name": "News", "opt_in_process": "single_opt_in"}])
    list_id = emulator.state.list_by_name["News"]
    server = LoopbackServer(emulator.handle)
    await server.start()
    try:
        out = await asyncio.to_thread(sdk_session, server.port, list_id)
    finally:
        await server.close()
    assert out["get"] == "sdk@example.com"
    assert out["by_email"] == out["by_phone"] == [out["pid"]]
    assert out["patched"] == "K"
    assert out["lists_after_subscribe"] == 1
    assert out["lists"] == [list_id]
    assert out["consent"] == "UNSUBSCRIBED"


def sdk_member_reads(port: int, list_id: str) -> dict[str, Any]:
    from klaviyo_api import KlaviyoAPI

    k = KlaviyoAPI(API_KEY, max_delay=1, max_retries=1, test_host=f"http://127.0.0.1:{port}")
    wanted = 'any(email,["a@example.com","c@example.com","nobody@example.com"])'
    profiles = k.Lists.get_profiles_for_list(list_id, filter=wanted, page_size=100)
    # With sparse fields the SDK answers a dict rather than its model.
    sparse = k.Lists.get_profiles_for_list(
        list_id, filter=wanted, fields_profile=["email", "phone_number"], page_size=100
    )
    ids = k.Lists.get_profile_ids_for_list(
        list_id, filter='any(phone_number,["+12025550143"])', page_size=100
    )
    return {
        "emails": sorted(p.attributes.email for p in profiles.data),
        "joined": all(p.attributes.joined_group_at for p in profiles.data),
        "sparse": sorted(p["attributes"]["email"] for p in sparse["data"]),
        "phone_ids": [item.id for item in ids.data],
    }


async def test_official_sdk_reads_list_members_by_identifiers() -> None:
    emulator = KlaviyoEmulator(api_key=API_KEY)
    ids = emulator.seed(
        [
            {"attributes": {"email": "a@example.com", "phone_number": "+12025550143"},
             "lists": ["News"]},
            {"attributes": {"email": "b@example.com"}},
            {"attributes": {"email": "c@example.com"}, "lists": ["News"]},
        ],
        [{"name": "News", "opt_in_process": "single_opt_in"}],
    )
    list_id = emulator.state.list_by_name["News"]
    server = LoopbackServer(emulator.handle)
    await server.start()
    try:
        out = await asyncio.to_thread(sdk_member_reads, server.port, list_id)
    finally:
        await server.close()
    assert out == {"emails": ["a@example.com", "c@example.com"], "joined": True,
                   "sparse": ["a@example.com", "c@example.com"], "phone_ids": [ids["0"]]}
