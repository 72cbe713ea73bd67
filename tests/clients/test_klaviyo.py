"""The Klaviyo client's wire protocol: headers, query parameters, bodies, chunks and parsing."""

from __future__ import annotations

import json

import httpx
import pytest

from core.clients.http import ApiError
from core.clients.klaviyo import (
    IMPORT_MAX_BYTES,
    ConsentSubject,
    KlaviyoClient,
    filter_string,
    import_jobs,
)
from core.model import Channel, ConsentState, ErrorKind, OptIn
from tests.clients.fakes import KEY, FakeKlaviyo, Recorder, VirtualClock, jsonapi, profile_resource


@pytest.fixture
def fake() -> FakeKlaviyo:
    return FakeKlaviyo()


@pytest.fixture
def recorder(fake: FakeKlaviyo) -> Recorder:
    return Recorder(fake)


@pytest.fixture
async def client(recorder: Recorder):  # type: ignore[no-untyped-def]
    clock = VirtualClock()
    async with KlaviyoClient(KEY, transport=recorder.transport, clock=clock,
                             sleep=clock.sleep) as made:
        yield made


async def test_headers_pin_the_revision_and_media_type(client: KlaviyoClient,
                                                       recorder: Recorder) -> None:
    await client.create_profile({"email": "ann@example.com"})
    headers = recorder.requests[0].headers
    assert headers["Authorization"] == f"Klaviyo-API-Key {KEY}"
    assert headers["revision"] == "2026-07-15"
    assert headers["Accept"] == "application/vnd.api+json"
    assert headers["Content-Type"] == "application/vnd.api+json"


async def test_revision_is_configurable(recorder: Recorder) -> None:
    async with KlaviyoClient(KEY, transport=recorder.transport, revision="2025-10-15") as c:
        await c.find_profile_by_email("a@b.co")
    assert recorder.requests[0].headers["revision"] == "2025-10-15"


async def test_create_then_get_with_consent_and_lists(client: KlaviyoClient,
                                                      fake: FakeKlaviyo,
                                                      recorder: Recorder) -> None:
    created = await client.create_profile(
        {"email": "ann@example.com", "first_name": "Ann", "location": {"city": "Oslo"},
         "properties": {"Tier": "gold"}})
    assert recorder.bodies()[0] == {"data": {"type": "profile", "attributes": {
        "email": "ann@example.com", "first_name": "Ann", "location": {"city": "Oslo"},
        "properties": {"Tier": "gold"}}}}
    fake.members["Y6nRLr"].add(created.id)
    profile = await client.get_profile(created.id)
    assert profile is not None
    assert profile.subscriptions is not None
    assert profile.subscriptions.email is ConsentState.NEVER_SUBSCRIBED
    assert profile.list_ids == frozenset({"Y6nRLr"})
    params = recorder.requests[-1].url.params
    assert params["additional-fields[profile]"] == "subscriptions"
    assert params["include"] == "lists"


async def test_get_without_lists_skips_the_slow_include(client: KlaviyoClient,
                                                        recorder: Recorder) -> None:
    created = await client.create_profile({"email": "a@b.co"})
    await client.get_profile(created.id, include_lists=False)
    assert "include" not in recorder.requests[-1].url.params


async def test_missing_profile_is_none(client: KlaviyoClient) -> None:
    assert await client.get_profile("01J99999999999999999999999") is None


async def test_duplicate_create_carries_the_existing_id(client: KlaviyoClient) -> None:
    first = await client.create_profile({"email": "ann@example.com"})
    with pytest.raises(ApiError) as caught:
        await client.create_profile({"email": "ann@example.com", "first_name": "Dup"})
    assert caught.value.kind is ErrorKind.CONFLICT
    assert caught.value.duplicate_profile_id == first.id


async def test_find_by_email_and_phone(client: KlaviyoClient, recorder: Recorder) -> None:
    made = await client.create_profile({"email": "ann@example.com",
                                        "phone_number": "+15005550006"})
    by_email = await client.find_profile_by_email("ann@example.com")
    by_phone = await client.find_profile_by_phone("+15005550006")
    assert by_email is not None and by_phone is not None
    assert by_email.id == by_phone.id == made.id
    assert await client.find_profile_by_email("nobody@example.com") is None
    phone_request = recorder.requests[2]
    assert phone_request.url.params["filter"] == "equals(phone_number,'+15005550006')"
    # A raw '+' would arrive as a space: it must travel percent-encoded.
    assert b"%2B15005550006" in phone_request.url.raw_path
    assert phone_request.url.params["additional-fields[profile]"] == "subscriptions"


def test_filter_strings_escape_quotes_and_backslashes() -> None:
    assert filter_string("o'neil@example.com") == "'o\\'neil@example.com'"
    assert filter_string('o"neil@example.com') == "'o\"neil@example.com'"
    assert filter_string("a\\b") == "'a\\\\b'"


async def test_find_by_email_with_a_quote(client: KlaviyoClient, recorder: Recorder) -> None:
    await client.find_profile_by_email("o'neil@example.com")
    assert recorder.requests[0].url.params["filter"] == "equals(email,'o\\'neil@example.com')"


@pytest.mark.parametrize("email", ["o'neil+news@example.com", "a&b=c;d#e%f@example.com",
                                   'quote"back\\slash@example.com', "space here@example.com"])
async def test_an_email_of_any_character_is_found_through_the_query(
        client: KlaviyoClient, recorder: Recorder, email: str) -> None:
    made = await client.create_profile({"email": email})
    found = await client.find_profile_by_email(email)
    assert found is not None and found.id == made.id and found.email == email
    assert recorder.requests[-1].url.params["filter"] == f"equals(email,{filter_string(email)})"


async def test_a_plain_filter_travels_without_escapes(client: KlaviyoClient,
                                                      recorder: Recorder) -> None:
    await client.find_profile_by_email("ann.lee-1@example.com")
    query = recorder.requests[0].url.query
    assert b"filter=equals(email,'ann.lee-1@example.com')" in query


async def test_patch_sends_id_and_nulls(client: KlaviyoClient, recorder: Recorder) -> None:
    made = await client.create_profile({"email": "a@b.co", "first_name": "A",
                                        "organization": "Acme"})
    patched = await client.patch_profile(made.id, {"first_name": "B", "organization": None})
    assert recorder.bodies()[-1] == {"data": {"type": "profile", "id": made.id, "attributes": {
        "first_name": "B", "organization": None}}}
    assert recorder.requests[-1].method == "PATCH"
    assert patched.attributes["first_name"] == "B"
    assert "organization" not in patched.attributes


async def test_partial_failure_header_is_reported() -> None:
    resource = profile_resource("01J0000000000000000000000A", {"email": "a@b.co"})
    response = jsonapi(201, {"data": resource}, {"X-Klaviyo-Partial-Failure": "phone_number"})

    async def handler(request: httpx.Request) -> httpx.Response:
        return response

    async with KlaviyoClient(KEY, transport=httpx.MockTransport(handler)) as c:
        profile = await c.create_profile({"email": "a@b.co", "phone_number": "+1555"})
    assert profile.partial_failure == ("phone_number",)


async def test_subscribe_body_per_channel_with_list(client: KlaviyoClient,
                                                    recorder: Recorder) -> None:
    await client.subscribe(
        [ConsentSubject("ann@example.com", "+15005550006", "01J0000000000000000000000A"),
         ConsentSubject("bo@example.com", None)],
        channels={Channel.EMAIL, Channel.SMS}, list_id="XUepkK")
    assert recorder.bodies()[0] == {"data": {
        "type": "profile-subscription-bulk-create-job",
        "attributes": {"profiles": {"data": [
            {"type": "profile", "id": "01J0000000000000000000000A", "attributes": {
                "email": "ann@example.com", "phone_number": "+15005550006",
                "subscriptions": {"email": {"marketing": {"consent": "SUBSCRIBED"}},
                                  "sms": {"marketing": {"consent": "SUBSCRIBED"}}}}},
            {"type": "profile", "attributes": {
                "email": "bo@example.com",
                "subscriptions": {"email": {"marketing": {"consent": "SUBSCRIBED"}}}}},
        ]}},
        "relationships": {"list": {"data": {"type": "list", "id": "XUepkK"}}}}}


async def test_unsubscribe_email_only_without_list(client: KlaviyoClient,
                                                   recorder: Recorder) -> None:
    await client.unsubscribe([ConsentSubject("ann@example.com", "+15005550006", "01J0A")],
                             channels={Channel.EMAIL})
    assert recorder.bodies()[0] == {"data": {
        "type": "profile-subscription-bulk-delete-job",
        "attributes": {"profiles": {"data": [{"type": "profile", "attributes": {
            "email": "ann@example.com",
            "subscriptions": {"email": {"marketing": {"consent": "UNSUBSCRIBED"}}}}}]}}}}


async def test_consent_jobs_are_chunked(client: KlaviyoClient, recorder: Recorder) -> None:
    subjects = [ConsentSubject(f"p{i}@example.com", None) for i in range(2001)]
    await client.subscribe(subjects, channels={Channel.EMAIL})
    sizes = [len(b["data"]["attributes"]["profiles"]["data"]) for b in recorder.bodies()]
    assert sizes == [1000, 1000, 1]
    recorder.requests.clear()
    await client.unsubscribe(subjects[:250], channels={Channel.EMAIL})
    sizes = [len(b["data"]["attributes"]["profiles"]["data"]) for b in recorder.bodies()]
    assert sizes == [100, 100, 50]


async def test_a_subject_without_the_channels_identifier_is_refused(
        client: KlaviyoClient, recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="phone for sms"):
        await client.subscribe([ConsentSubject("a@b.co", None)], channels={Channel.SMS})
    assert recorder.requests == []


async def test_list_membership_round_trip(client: KlaviyoClient, fake: FakeKlaviyo,
                                          recorder: Recorder) -> None:
    made = await client.create_profile({"email": "a@b.co"})
    await client.add_to_list("Y6nRLr", [made.id])
    assert [item.id for item in await client.profile_lists(made.id)] == ["Y6nRLr"]
    await client.remove_from_list("Y6nRLr", [made.id])
    assert await client.profile_lists(made.id) == []
    add, remove = (r for r in recorder.requests if "relationships" in r.url.path)
    assert (add.method, remove.method) == ("POST", "DELETE")
    assert json.loads(remove.content) == {"data": [{"type": "profile", "id": made.id}]}


async def test_list_members_are_chunked_by_1000(client: KlaviyoClient,
                                                recorder: Recorder) -> None:
    await client.add_to_list("Y6nRLr", [f"01J{i:023d}" for i in range(2500)])
    assert [len(b["data"]) for b in recorder.bodies()] == [1000, 1000, 500]


async def test_find_list_by_name_is_cached(client: KlaviyoClient,
                                           recorder: Recorder) -> None:
    found = await client.find_list_by_name("Sms Subscribers")
    assert found is not None
    assert (found.id, found.opt_in_process) == ("XUepkK", OptIn.DOUBLE)
    assert recorder.requests[0].url.params["filter"] == "equals(name,'Sms Subscribers')"
    assert await client.find_list_by_name("Sms Subscribers") == found
    assert len(recorder.requests) == 1
    assert await client.find_list_by_name("Nope") is None
    assert await client.find_list_by_name("Nope") is None
    assert len(recorder.requests) == 3  # misses are asked again: the list may appear


async def test_bulk_import_job_and_errors(client: KlaviyoClient, recorder: Recorder) -> None:
    job = await client.bulk_import([{"email": f"p{i}@example.com"} for i in range(3)],
                                   list_id="Y6nRLr")
    body = recorder.bodies()[0]
    assert body["data"]["type"] == "profile-bulk-import-job"
    assert body["data"]["relationships"] == {"lists": {"data": [{"type": "list",
                                                                  "id": "Y6nRLr"}]}}
    assert body["data"]["attributes"]["profiles"]["data"][0] == {
        "type": "profile", "attributes": {"email": "p0@example.com"}}
    status = await client.get_import_job(job)
    assert status["attributes"]["total_count"] == 3
    errors = await client.import_errors(job)
    assert [e["id"] for e in errors] == ["e0-0", "e0-1", "e1-0", "e1-1", "e2-0", "e2-1"]
    cursors = [r.url.params.get("page[cursor]") for r in recorder.requests[-3:]]
    assert cursors == [None, "1", "2"]


async def test_big_imports_split_into_jobs_and_combine(client: KlaviyoClient,
                                                       recorder: Recorder) -> None:
    job = await client.bulk_import([{"email": f"p{i}@example.com"} for i in range(10_001)])
    assert job.count(",") == 1
    assert [len(b["data"]["attributes"]["profiles"]["data"]) for b in recorder.bodies()] == [
        10_000, 1]
    combined = await client.get_import_job(job)
    assert combined["attributes"]["total_count"] == 10_001
    assert combined["attributes"]["failed_count"] == 2
    assert combined["attributes"]["status"] == "complete"


def test_import_jobs_respect_five_megabytes() -> None:
    items = [{"type": "profile", "attributes": {"email": f"p{i}@example.com",
                                                "properties": {"blob": "x" * 60_000}}}
             for i in range(200)]
    jobs = import_jobs(items)
    assert sum(len(job.profiles) for job in jobs) == 200 and len(jobs) > 1
    for job in jobs:
        assert len(job.body()) <= IMPORT_MAX_BYTES


def test_an_import_body_is_the_document_the_profiles_make() -> None:
    profiles = [{"email": "ann@example.com", "first_name": "Ånn"},
                {"type": "profile", "id": "01HZ", "attributes": {"phone_number": "+15005550006"}}]
    resources = [{"type": "profile", "attributes": profiles[0]},
                 {"type": "profile", "id": "01HZ", "attributes": profiles[1]["attributes"]}]
    for lists in ((), ("Y6nRLr",), ("Y6nRLr", "Xa3bC9", "Y6nRLr")):
        (job,) = import_jobs(profiles, lists)
        document = {"data": {"type": "profile-bulk-import-job",
                             "attributes": {"profiles": {"data": resources}}}}
        if lists:
            document["data"]["relationships"] = {"lists": {"data": [
                {"type": "list", "id": lid} for lid in dict.fromkeys(lists)]}}
        assert json.loads(job.body()) == document
        assert json.loads(job.without(0).body())["data"]["attributes"]["profiles"]["data"] == [
            resources[1]]


def test_an_oversized_profile_is_refused_before_sending() -> None:
    items = [{"type": "profile", "attributes": {"properties": {"blob": "x" * 120_000}}}]
    with pytest.raises(ApiError) as caught:
        import_jobs(items)
    assert caught.value.kind is ErrorKind.VALIDATION and "100,000" in str(caught.value)


def test_bad_keys_are_refused_without_echoing_them() -> None:
    with pytest.raises(ValueError) as caught:
        KlaviyoClient("pk_abc def")
    assert "abc" not in str(caught.value)
    with pytest.raises(ValueError):
        KlaviyoClient("")


async def test_a_forgotten_list_is_asked_for_again(client: KlaviyoClient,
                                                   recorder: Recorder) -> None:
    await client.find_list_by_name("Sms Subscribers")
    client.forget_list("Sms Subscribers")
    assert await client.find_list_by_name("Sms Subscribers") is not None
    assert len(recorder.requests) == 2
