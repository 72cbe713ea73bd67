"""Round trips of the real clients against the sandbox's emulators, in process."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.clients.http import ApiError, RetryPolicy
from core.clients.ipaas import IpaasClient
from core.clients.klaviyo import ConsentSubject, KlaviyoClient
from core.engine.import_jobs import Write
from core.engine.shared import BatchCalls
from core.model import Channel, ConsentState, ErrorKind, OptIn, Route
from core.sandbox import Sandbox
from core.sandbox.credentials import SandboxCredentials
from core.sandbox.ipaas import ErrorShape, IpaasOptions
from core.sandbox.klaviyo import KlaviyoEmulator
from core.sandbox.knobs import Knobs
from tests.clients.fakes import VirtualClock

SEED: dict[str, Any] = {
    "customers": [
        {"id": 55260 + i, "customer_number": f"C{i}", "first_name": "Ann" if i % 2 else "Bo",
         "last_name": "Lee", "email_address": f"c{i}@example.com",
         "addresses": [{"first_name": "Ann", "last_name": "Lee", "phone_number": "4155552671",
                        "address_1": "1 Main St", "city": "Oslo", "region": "Oslo",
                        "country": "Norway", "postal_code": "0150",
                        "is_primary_billing": True}],
         "custom_fields": [{"custom_field_name": "SubscribeProfile", "value": "true"}]}
        for i in range(7)
    ],
    "profiles": [
        {"attributes": {"email": "kept@example.com", "first_name": "Kept",
                        "phone_number": "+12025550123"},
         "subscriptions": {"email": "SUBSCRIBED"}, "lists": ["Preview List"]},
    ],
    "lists": [{"name": "Preview List", "opt_in_process": "single_opt_in"},
              {"name": "Sms Subscribers", "opt_in_process": "double_opt_in"}],
    "links": {},
}


def _sandbox(tmp_path: Path, clock: VirtualClock, *, knobs: Knobs | None = None,
             options: IpaasOptions | None = None, seed: int = 7) -> Sandbox:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(SEED), encoding="utf-8")
    knobs = knobs or Knobs()
    # The Klaviyo emulator keeps its windows and job timers on the same virtual clock.
    emulator = KlaviyoEmulator(api_key=SandboxCredentials().klaviyo_api_key,
                               rate_scale=knobs.rate_scale, clock=clock)
    return Sandbox(None, seed=path, knobs=knobs, rng=random.Random(seed), klaviyo=emulator,
                   ipaas_options=options, clock=clock, sleep=clock.sleep)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def sandbox(tmp_path: Path, clock: VirtualClock) -> Sandbox:
    return _sandbox(tmp_path, clock)


def _klaviyo(sandbox: Sandbox, clock: VirtualClock, **kw: Any) -> KlaviyoClient:
    creds = sandbox.credentials
    return KlaviyoClient(creds.klaviyo_api_key, base_url=creds.base_url,
                         transport=sandbox.transport, clock=clock, sleep=clock.sleep, **kw)


def _ipaas(sandbox: Sandbox, clock: VirtualClock, **kw: Any) -> IpaasClient:
    creds = sandbox.credentials
    return IpaasClient(creds.ipaas_token, creds.ipaas_system_id, base_url=creds.base_url,
                       transport=sandbox.transport, clock=clock, sleep=clock.sleep, **kw)


@pytest.fixture
async def klaviyo(sandbox: Sandbox, clock: VirtualClock) -> AsyncIterator[KlaviyoClient]:
    async with _klaviyo(sandbox, clock) as client:
        yield client


async def test_profile_round_trip(klaviyo: KlaviyoClient) -> None:
    made = await klaviyo.create_profile(
        {"email": "new@example.com", "phone_number": "+14155552671", "first_name": "New",
         "location": {"city": "Oslo", "country": "Norway"}, "properties": {"Tier": "gold"}})
    assert len(made.id) == 26 and made.subscriptions is not None
    by_email = await klaviyo.find_profile_by_email("new@example.com")
    by_phone = await klaviyo.find_profile_by_phone("+14155552671")
    assert by_email is not None and by_phone is not None
    assert by_email.id == by_phone.id == made.id
    patched = await klaviyo.patch_profile(made.id, {"first_name": "Newer", "location": None})
    assert patched.attributes["first_name"] == "Newer"
    fetched = await klaviyo.get_profile(made.id)
    assert fetched is not None and fetched.attributes["first_name"] == "Newer"
    assert fetched.list_ids == frozenset()
    assert await klaviyo.get_profile("01J00000000000000000000000") is None


async def test_duplicate_create_names_the_existing_profile(klaviyo: KlaviyoClient) -> None:
    existing = await klaviyo.find_profile_by_email("kept@example.com")
    assert existing is not None
    with pytest.raises(ApiError) as caught:
        await klaviyo.create_profile({"email": "kept@example.com"})
    assert caught.value.kind is ErrorKind.CONFLICT
    assert caught.value.duplicate_profile_id == existing.id


async def test_a_rejected_phone_is_its_own_kind(klaviyo: KlaviyoClient) -> None:
    with pytest.raises(ApiError) as caught:
        await klaviyo.create_profile({"phone_number": "+1555"})
    assert caught.value.kind is ErrorKind.PHONE_REJECTED, str(caught.value)
    kept = await klaviyo.create_profile({"email": "p@example.com", "phone_number": "+1555"})
    assert kept.partial_failure == ("phone_number",)


async def test_consent_and_lists_round_trip(klaviyo: KlaviyoClient, sandbox: Sandbox) -> None:
    preview = await klaviyo.find_list_by_name("Preview List")
    sms = await klaviyo.find_list_by_name("Sms Subscribers")
    assert preview is not None and sms is not None
    assert (preview.opt_in_process, sms.opt_in_process) == (OptIn.SINGLE, OptIn.DOUBLE)
    made = await klaviyo.create_profile({"email": "c@example.com", "phone_number": "+12015550123"})
    subject = ConsentSubject("c@example.com", "+12015550123", made.id)

    await klaviyo.subscribe([subject], channels={Channel.EMAIL}, list_id=preview.id)
    profile = await klaviyo.get_profile(made.id)
    assert profile is not None and profile.subscriptions is not None
    assert profile.subscriptions.email is ConsentState.SUBSCRIBED
    assert profile.list_ids == frozenset({preview.id})

    await klaviyo.subscribe([subject], channels={Channel.EMAIL}, list_id=sms.id)
    assert any(mail.get("list_id") == sms.id for mail in sandbox.klaviyo.outbox)  # type: ignore[attr-defined]

    await klaviyo.unsubscribe([subject], channels={Channel.EMAIL})
    profile = await klaviyo.get_profile(made.id, include_lists=False)
    assert profile is not None and profile.subscriptions is not None
    assert profile.subscriptions.email is ConsentState.UNSUBSCRIBED

    await klaviyo.add_to_list(sms.id, [made.id])
    assert {item.id for item in await klaviyo.profile_lists(made.id)} >= {sms.id}
    await klaviyo.remove_from_list(sms.id, [made.id])
    assert sms.id not in {item.id for item in await klaviyo.profile_lists(made.id)}


async def test_bulk_import_round_trip(klaviyo: KlaviyoClient, clock: VirtualClock) -> None:
    preview = await klaviyo.find_list_by_name("Preview List")
    assert preview is not None
    job = await klaviyo.bulk_import(
        [{"email": f"bulk{i}@example.com"} for i in range(5)] + [{"email": "not-an-email"}],
        list_id=preview.id)
    for _ in range(100):
        status = await klaviyo.get_import_job(job)
        if status["attributes"]["status"] == "complete":
            break
        await clock.sleep(1.0)
    assert status["attributes"]["status"] == "complete"
    assert status["attributes"]["total_count"] == 6
    errors = await klaviyo.import_errors(job)
    assert len(errors) == status["attributes"]["failed_count"] >= 1
    assert await klaviyo.find_profile_by_email("bulk3@example.com") is not None


async def test_wrong_key_is_auth(sandbox: Sandbox, clock: VirtualClock) -> None:
    async with KlaviyoClient("pk_wrong_key_000", base_url=sandbox.credentials.base_url,
                             transport=sandbox.transport, clock=clock, sleep=clock.sleep) as c:
        with pytest.raises(ApiError) as caught:
            await c.find_profile_by_email("a@b.co")
    assert caught.value.kind is ErrorKind.AUTH and "pk_wrong_key_000" not in str(caught.value)


@pytest.mark.parametrize(
    "options",
    [IpaasOptions(), IpaasOptions(page_base=0, page_size=3, id_as_number=False,
                                  quote_external_ids=False, error_shape=ErrorShape.ENVELOPE),
     IpaasOptions(page_size=2, error_shape=ErrorShape.PROBLEM)],
    ids=["defaults", "zero-based", "problem-details"],
)
async def test_ipaas_round_trip(tmp_path: Path, clock: VirtualClock,
                                options: IpaasOptions) -> None:
    sandbox = _sandbox(tmp_path, clock, options=options)
    async with _ipaas(sandbox, clock) as ipaas:
        customer = await ipaas.get_customer("55261")
        assert customer is not None and customer.email_address == "c1@example.com"
        assert customer.primary_billing is not None
        assert await ipaas.get_customer("1") is None
        ids = [c.id async for c in ipaas.iter_customers()]
        assert sorted(ids) == [str(55260 + i) for i in range(7)] and len(set(ids)) == 7
        assert [c.id for c in await ipaas.search_customers(email="c3@example.com")] == ["55263"]
        assert await ipaas.lookup_link("55260") is None
        await ipaas.store_link("55260", "01JAFS0VVWGJFE7QE4EJQBA5AS")
        assert await ipaas.lookup_link("55260") == "01JAFS0VVWGJFE7QE4EJQBA5AS"
        sandbox.ipaas.delete_link("55260")
        assert await ipaas.lookup_link("55260") is None


async def test_ipaas_bad_token_is_auth_with_its_code(sandbox: Sandbox,
                                                     clock: VirtualClock) -> None:
    async with IpaasClient("not-the-token", "4242", base_url=sandbox.credentials.base_url,
                           transport=sandbox.transport, clock=clock, sleep=clock.sleep) as c:
        with pytest.raises(ApiError) as caught:
            await c.get_customer("55260")
    assert caught.value.kind is ErrorKind.AUTH
    assert (caught.value.code or "").startswith("AUTH-")


async def test_clients_ride_through_injected_failures(tmp_path: Path,
                                                      clock: VirtualClock) -> None:
    sandbox = _sandbox(tmp_path, clock, knobs=Knobs(failure_rate=0.3, latency_ms=20), seed=3)
    policy = RetryPolicy(max_attempts=8)
    async with _klaviyo(sandbox, clock, retry=policy) as klaviyo, \
            _ipaas(sandbox, clock, retry=policy) as ipaas:
        for i in range(15):
            customer = await ipaas.get_customer(str(55260 + i % 7))
            assert customer is not None
            try:
                await klaviyo.create_profile({"email": f"f{i}@example.com"})
            except ApiError as error:
                # A create that landed before its answer was lost comes back as a duplicate.
                assert error.kind is ErrorKind.CONFLICT and error.duplicate_profile_id
            assert await klaviyo.find_profile_by_email(f"f{i}@example.com") is not None


async def test_klaviyo_down_is_unavailable(tmp_path: Path, clock: VirtualClock) -> None:
    sandbox = _sandbox(tmp_path, clock, knobs=Knobs(klaviyo_down=True))
    async with _klaviyo(sandbox, clock, retry=RetryPolicy(max_attempts=3)) as klaviyo:
        with pytest.raises(ApiError) as caught:
            await klaviyo.find_profile_by_email("a@b.co")
    assert caught.value.kind is ErrorKind.API_UNAVAILABLE and caught.value.attempts == 3


async def test_scaled_limits_are_matched_without_429(tmp_path: Path,
                                                     clock: VirtualClock) -> None:
    sandbox = _sandbox(tmp_path, clock, knobs=Knobs(rate_scale=0.01))
    async with _klaviyo(sandbox, clock, rate_scale=0.01) as klaviyo:
        preview = await klaviyo.find_list_by_name("Preview List")
        assert preview is not None
        made = [await klaviyo.create_profile({"email": f"s{i}@example.com"}) for i in range(30)]
        for profile in made:
            await klaviyo.add_to_list(preview.id, [profile.id])
            await klaviyo.get_profile(profile.id)
        throttled = sum(state.throttled for state in klaviyo.rate_limits().values())
    assert throttled == 0


async def test_an_import_row_refused_on_submit_fails_alone(tmp_path: Path) -> None:
    # The emulator refuses a job naming an unknown attribute, with a pointer to its row: that
    # customer fails with the API's own error and the job is sent again without the row.
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(SEED), encoding="utf-8")
    sandbox = Sandbox(None, seed=path, knobs=Knobs(rate_scale=0.001))
    creds = sandbox.credentials
    async with KlaviyoClient(creds.klaviyo_api_key, base_url=creds.base_url,
                             transport=sandbox.transport, rate_scale=0.001) as client:
        calls = BatchCalls(client, linger=0.0, bulk=True)
        writes = [Write(Route.CREATE, None, {"email": "a@example.com"}),
                  Write(Route.CREATE, None, {"email": "b@example.com", "shoe_size": "9"}),
                  Write(Route.CREATE, None, {"email": "c@example.com"})]
        outcomes = await asyncio.gather(*(calls.write(w) for w in writes),
                                        return_exceptions=True)
        await calls.drain()
    refused = outcomes[1]
    assert isinstance(refused, ApiError) and refused.pointer is not None
    assert "shoe_size" in refused.pointer
    made = [o for i, o in enumerate(outcomes) if i != 1]
    assert [p.attributes["email"] for p in made if not isinstance(p, BaseException)] == [
        "a@example.com", "c@example.com"]
    assert calls.jobs == 2  # the refused submit and the one without the row
    assert await sandbox_profile(sandbox, "b@example.com") is None


async def sandbox_profile(sandbox: Sandbox, email: str) -> object:
    creds = sandbox.credentials
    async with KlaviyoClient(creds.klaviyo_api_key, base_url=creds.base_url,
                             transport=sandbox.transport) as client:
        return await client.find_profile_by_email(email)
