"""Klaviyo's official Python SDK runs against the emulator on loopback and parses every answer."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.models import (
    ListMembersAddQuery,
    ListMembersDeleteQuery,
    PatchProfileResponse,
    PostProfileResponse,
    ProfileCreateQuery,
    ProfileCreateQueryResourceObjectAttributes,
    ProfileEnum,
    ProfilePartialUpdateQuery,
    ProfilePartialUpdateQueryResourceObject,
    SubscriptionCreateJobCreateQuery,
    SubscriptionDeleteJobCreateQuery,
)
from pydantic import BaseModel

from core.loopback import LoopbackServer
from core.sandbox import Sandbox, serve_sandbox

SEED = {
    "customers": [],
    "profiles": [{"attributes": {"email": "kept@example.com", "first_name": "Kept"},
                  "subscriptions": {"email": "SUBSCRIBED"}}],
    "lists": [{"name": "Preview List", "opt_in_process": "single_opt_in"}],
    "links": {},
}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Sandbox, str]]:
    """The sandbox on 127.0.0.1, served from its own thread and event loop."""
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(SEED), encoding="utf-8")
    sandbox = Sandbox(None, seed=seed)
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def on_ready(server: LoopbackServer) -> None:
        holder["url"] = server.url
        ready.set()

    def run() -> None:
        loop = asyncio.new_event_loop()
        holder["loop"] = loop
        holder["task"] = loop.create_task(serve_sandbox(sandbox, ready=on_ready))
        try:
            loop.run_until_complete(holder["task"])
        except asyncio.CancelledError:
            pass
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="sandbox-loopback", daemon=True)
    thread.start()
    assert ready.wait(10), "the loopback sandbox did not start"
    try:
        yield sandbox, holder["url"]
    finally:
        holder["loop"].call_soon_threadsafe(holder["task"].cancel)
        thread.join(10)


def _parsed(response: Any, model: type[BaseModel] | None = None) -> Any:
    """The SDK returned a model (not a dict fallback), of the expected class when named."""
    assert isinstance(response, BaseModel), type(response)
    if model is not None:
        assert isinstance(response, model)
    return response


def test_official_sdk_round_trip(served: tuple[Sandbox, str]) -> None:
    sandbox, url = served
    assert url.startswith("http://127.0.0.1:")
    sdk = KlaviyoAPI(sandbox.credentials.klaviyo_api_key, test_host=url, max_retries=1,
                     max_delay=1)

    created = _parsed(sdk.Profiles.create_profile(ProfileCreateQuery.from_dict({"data": {
        "type": "profile", "attributes": {
            "email": "sdk@example.com", "phone_number": "+14155552671", "first_name": "Sdk",
            "location": {"city": "Oslo", "country": "Norway"},
            "properties": {"Tier": "gold"}}}})), PostProfileResponse)
    pid = created.data.id
    assert created.data.attributes.email == "sdk@example.com"

    got = _parsed(sdk.Profiles.get_profile(pid, additional_fields_profile=["subscriptions"]))
    assert got.data.id == pid
    assert got.data.attributes.subscriptions is not None

    by_email = _parsed(sdk.Profiles.get_profiles(filter='equals(email,"sdk@example.com")'))
    by_phone = _parsed(sdk.Profiles.get_profiles(filter='equals(phone_number,"+14155552671")'))
    assert [p.id for p in by_email.data] == [p.id for p in by_phone.data] == [pid]

    # Built with constructors: from_dict marks every attribute as set, so the SDK would send
    # explicit nulls and clear the identifiers (klaviyo-api-python#71), which Klaviyo and
    # the emulator both refuse with "One or more identifiers is required".
    patch = ProfilePartialUpdateQuery(data=ProfilePartialUpdateQueryResourceObject(
        type=ProfileEnum.PROFILE, id=pid,
        attributes=ProfileCreateQueryResourceObjectAttributes(first_name="Patched")))
    patched = _parsed(sdk.Profiles.update_profile(pid, patch), PatchProfileResponse)
    assert patched.data.attributes.first_name == "Patched"

    lists = _parsed(sdk.Lists.get_lists(filter='equals(name,"Preview List")'))
    list_id = lists.data[0].id

    subscribe = {"data": {"type": "profile-subscription-bulk-create-job", "attributes": {
        "profiles": {"data": [{"type": "profile", "attributes": {
            "email": "sdk@example.com",
            "subscriptions": {"email": {"marketing": {"consent": "SUBSCRIBED"}}}}}]}},
        "relationships": {"list": {"data": {"type": "list", "id": list_id}}}}}
    assert sdk.Profiles.bulk_subscribe_profiles(
        SubscriptionCreateJobCreateQuery.from_dict(subscribe)) is None
    after = _parsed(sdk.Profiles.get_profile(pid, additional_fields_profile=["subscriptions"]))
    assert after.data.attributes.subscriptions.email.marketing.consent == "SUBSCRIBED"

    unsubscribe = {"data": {"type": "profile-subscription-bulk-delete-job", "attributes": {
        "profiles": {"data": [{"type": "profile", "attributes": {
            "email": "sdk@example.com",
            "subscriptions": {"email": {"marketing": {"consent": "UNSUBSCRIBED"}}}}}]}}}}
    assert sdk.Profiles.bulk_unsubscribe_profiles(
        SubscriptionDeleteJobCreateQuery.from_dict(unsubscribe)) is None
    after = _parsed(sdk.Profiles.get_profile(pid, additional_fields_profile=["subscriptions"]))
    assert after.data.attributes.subscriptions.email.marketing.consent == "UNSUBSCRIBED"

    members = {"data": [{"type": "profile", "id": pid}]}
    assert sdk.Lists.add_profiles_to_list(
        list_id, ListMembersAddQuery.from_dict(members)) is None
    profile_lists = _parsed(sdk.Profiles.get_lists_for_profile(pid))
    assert list_id in [item.id for item in profile_lists.data]
    assert sdk.Lists.remove_profiles_from_list(
        list_id, ListMembersDeleteQuery.from_dict(members)) is None
    profile_lists = _parsed(sdk.Profiles.get_lists_for_profile(pid))
    assert list_id not in [item.id for item in profile_lists.data]


def test_official_sdk_reads_list_members(served: tuple[Sandbox, str]) -> None:
    sandbox, url = served
    sdk = KlaviyoAPI(sandbox.credentials.klaviyo_api_key, test_host=url, max_retries=1,
                     max_delay=1)
    kept = _parsed(sdk.Profiles.get_profiles(filter='equals(email,"kept@example.com")'))
    list_id = _parsed(sdk.Lists.get_lists(filter='equals(name,"Preview List")')).data[0].id
    sdk.Lists.add_profiles_to_list(list_id, ListMembersAddQuery.from_dict(
        {"data": [{"type": "profile", "id": kept.data[0].id}]}))
    in_list = _parsed(sdk.Lists.get_profiles_for_list(list_id))
    assert kept.data[0].id in [p.id for p in in_list.data]
