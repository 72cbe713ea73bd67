"""Request checks of the Klaviyo emulator: auth, revision, media types, schemas, email and phone."""

from __future__ import annotations

import json
import uuid

import pytest

from core.sandbox.klaviyo import KlaviyoEmulator
from tests.contract.test_klaviyo_emulator_support import (
    API_KEY,
    BASE,
    HEADERS,
    client,
    profile_doc,
    the_error,
)


@pytest.fixture
def emulator() -> KlaviyoEmulator:
    return KlaviyoEmulator(api_key=API_KEY)


async def test_missing_auth_is_401_not_authenticated(emulator: KlaviyoEmulator) -> None:
    async with client(emulator) as c:
        r = await c.get("/api/profiles", headers={"Authorization": ""})
    assert r.status_code == 401
    assert the_error(r)["code"] == "not_authenticated"


@pytest.mark.parametrize("header", ["Klaviyo-API-Key pk_wrong", f"Bearer {API_KEY}", API_KEY])
async def test_wrong_key_is_401_and_never_echoes_it(emulator: KlaviyoEmulator, header: str) -> None:
    async with client(emulator) as c:
        r = await c.get("/api/profiles", headers={"Authorization": header})
    assert r.status_code == 401
    assert the_error(r)["code"] == "authentication_failed"
    assert "pk_" not in r.text
    assert API_KEY not in repr(emulator)


async def test_error_body_shape(emulator: KlaviyoEmulator) -> None:
    async with client(emulator) as c:
        r = await c.get("/api/profiles/01GDDKASAP8TKDDA2GRZDSVP4H")
    error = the_error(r)
    assert set(error) >= {"id", "status", "code", "title", "detail", "source", "meta"}
    assert uuid.UUID(error["id"]).version == 4
    assert error["status"] == 404
    assert r.headers["content-type"] == "application/vnd.api+json"


@pytest.mark.parametrize(
    ("revision", "ok"),
    [
        (None, False),
        ("yesterday", False),
        ("2026-07-15", True),
        ("2026-10-15", True),
        ("2026-07-15.pre", True),
        ("2021-01-01", False),
    ],
)
async def test_revision_header_is_required_and_checked(
    emulator: KlaviyoEmulator, revision: str | None, ok: bool
) -> None:
    headers = {k: v for k, v in HEADERS.items() if k != "revision"}
    if revision:
        headers["revision"] = revision
    async with client(emulator) as c:
        c.headers.pop("revision")
        r = await c.get("/api/profiles", headers=headers)
    if ok:
        assert r.status_code == 200
    else:
        assert r.status_code == 400
        assert the_error(r)["source"] == {"parameter": "revision"}


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/json", 201),
        ("application/vnd.api+json", 201),
        ("application/json; charset=utf-8", 201),
        ("text/plain", 415),
        ("", 415),
    ],
)
async def test_content_types(emulator: KlaviyoEmulator, content_type: str, status: int) -> None:
    async with client(emulator) as c:
        r = await c.post(
            "/api/profiles",
            headers={"Content-Type": content_type},
            content=json.dumps(profile_doc(email=f"{status}{len(content_type)}@ex.com")),
        )
    assert r.status_code == status
    if status == 415:
        assert the_error(r)["code"] == "unsupported_media_type"


async def test_unknown_content_encoding_is_415(emulator: KlaviyoEmulator) -> None:
    async with client(emulator) as c:
        r = await c.post(
            "/api/profiles",
            headers={"Content-Encoding": "br"},
            content=json.dumps(profile_doc(email="z@example.com")),
        )
    assert r.status_code == 415


async def test_unknown_path_404_and_wrong_method_405(emulator: KlaviyoEmulator) -> None:
    async with client(emulator) as c:
        nowhere = await c.get("/api/nothing-here")
        wrong = await c.delete("/api/profiles")
    assert nowhere.status_code == 404
    assert wrong.status_code == 405


@pytest.mark.parametrize(
    ("body", "pointer", "needle"),
    [
        (
            {"data": {"type": "profile", "attributes": {"email": "a@b.com", "nickname": "x"}}},
            "/data/attributes/nickname",
            "'nickname' is not a valid field for the resource 'profile'.",
        ),
        (
            {
                "data": {
                    "type": "profile",
                    "attributes": {"email": "a@b.com", "location": {"street": "x"}},
                }
            },
            "/data/attributes/location/street",
            "street",
        ),
        (
            {"data": {"type": "profile", "id": "x", "attributes": {"email": "a@b.com"}}},
            "/data/id",
            "'id'",
        ),
        ({"data": {"type": "list", "attributes": {"email": "a@b.com"}}}, "/data/type", "profile"),
        ({"data": {"type": "profile"}}, "/data/attributes", "attributes"),
        ({"email": "a@b.com"}, "/data", "invalid"),
        (
            {"data": {"type": "profile", "attributes": {"first_name": 5, "email": "a@b.com"}}},
            "/data/attributes/first_name",
            "string",
        ),
    ],
)
async def test_json_api_shape_and_strict_schema(
    emulator: KlaviyoEmulator, body: dict[str, object], pointer: str, needle: str
) -> None:
    async with client(emulator) as c:
        r = await c.post("/api/profiles", json=body)
    assert r.status_code == 400
    error = the_error(r)
    assert error["code"] == "invalid"
    assert error["source"]["pointer"] == pointer
    assert needle in error["detail"]


async def test_malformed_json_is_400(emulator: KlaviyoEmulator) -> None:
    async with client(emulator) as c:
        r = await c.post("/api/profiles", content=b"{not json")
    assert r.status_code == 400


@pytest.mark.parametrize("email", ["not-an-email", "a@b", f"{'x' * 95}@example.com", "a b@c.com"])
async def test_invalid_email(emulator: KlaviyoEmulator, email: str) -> None:
    async with client(emulator) as c:
        r = await c.post("/api/profiles", json=profile_doc(email=email))
    assert r.status_code == 400
    error = the_error(r)
    assert error["detail"] == "Invalid email address"
    assert error["source"]["pointer"] == "/data/attributes/email"


@pytest.mark.parametrize("phone", ["2025550143", "+1 202 555 0143", "+1555", "+1202555014355"])
async def test_invalid_phone_alone_is_400(emulator: KlaviyoEmulator, phone: str) -> None:
    async with client(emulator) as c:
        r = await c.post("/api/profiles", json=profile_doc(phone_number=phone))
    assert r.status_code == 400
    error = the_error(r)
    assert (
        error["detail"] == "Invalid phone number format (Example of a valid format: +12345678901)"
    )
    assert error["source"]["pointer"] == "/data/attributes/phone_number"


async def test_invalid_phone_with_valid_email_is_dropped_with_partial_failure(
    emulator: KlaviyoEmulator,
) -> None:
    async with client(emulator) as c:
        r = await c.post(
            "/api/profiles", json=profile_doc(email="pf@example.com", phone_number="555-0143")
        )
    assert r.status_code == 201
    assert r.headers["x-klaviyo-partial-failure"] == "phone_number"
    assert r.json()["data"]["attributes"]["phone_number"] is None


async def test_patch_with_invalid_phone_is_400(emulator: KlaviyoEmulator) -> None:
    ids = emulator.seed([{"attributes": {"email": "pp@example.com"}}], [])
    async with client(emulator) as c:
        r = await c.patch(
            f"/api/profiles/{ids['0']}",
            json={
                "data": {"type": "profile", "id": ids["0"], "attributes": {"phone_number": "12"}}
            },
        )
    assert r.status_code == 400


async def test_profile_payload_over_100kb_is_413(emulator: KlaviyoEmulator) -> None:
    async with client(emulator) as c:
        r = await c.post(
            "/api/profiles",
            json=profile_doc(email="big@example.com", properties={"blob": "x" * 110_000}),
        )
    assert r.status_code == 413


async def test_request_over_5mb_is_413(emulator: KlaviyoEmulator) -> None:
    rows = [
        {
            "type": "profile",
            "attributes": {"email": f"r{n}@example.com", "properties": {"pad": "x" * 600}},
        }
        for n in range(9000)
    ]
    body = {"data": {"type": "profile-bulk-import-job", "attributes": {"profiles": {"data": rows}}}}
    async with client(emulator) as c:
        r = await c.post("/api/profile-bulk-import-jobs", json=body)
    assert r.status_code == 413
    assert BASE.startswith("https://")
