"""Profiles on the Klaviyo emulator: create, read, filter, page, patch, upsert and their errors."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pytest

from core.sandbox.klaviyo import KlaviyoEmulator
from core.sandbox.klaviyo.ids import is_ulid
from tests.contract.test_klaviyo_emulator_support import (
    API_KEY,
    client,
    profile_doc,
    the_error,
)


@pytest.fixture
def emulator() -> KlaviyoEmulator:
    return KlaviyoEmulator(api_key=API_KEY)


async def test_create_returns_201_with_location_and_full_profile(emulator: KlaviyoEmulator) -> None:
    async with client(emulator) as c:
        r = await c.post(
            "/api/profiles",
            json=profile_doc(
                email="sarah@example.com",
                phone_number="+12025550143",
                first_name="Sarah",
                location={"city": "Boston", "latitude": 42.36},
                properties={"tier": "gold"},
            ),
        )
    assert r.status_code == 201
    assert r.headers["content-type"] == "application/vnd.api+json"
    data = r.json()["data"]
    assert is_ulid(data["id"])
    assert r.headers["location"].endswith(f"/api/profiles/{data['id']}/")
    attrs = data["attributes"]
    assert attrs["email"] == "sarah@example.com"
    assert attrs["last_name"] is None
    assert attrs["location"]["city"] == "Boston"
    assert attrs["properties"] == {"tier": "gold"}
    assert attrs["created"].endswith("+00:00")
    assert "subscriptions" not in attrs


@pytest.mark.parametrize("path", ["/api/profiles", "/api/profiles/"])
async def test_both_slash_forms_answer_without_redirect(
    emulator: KlaviyoEmulator, path: str
) -> None:
    async with client(emulator) as c:
        r = await c.post(path, json=profile_doc(email="x@example.com"))
    assert r.status_code == 201


async def test_duplicate_email_or_phone_is_409_naming_the_owner(emulator: KlaviyoEmulator) -> None:
    async with client(emulator) as c:
        first = (
            await c.post(
                "/api/profiles",
                json=profile_doc(email="dup@example.com", phone_number="+12025550143"),
            )
        ).json()["data"]["id"]
        by_email = await c.post("/api/profiles", json=profile_doc(email="DUP@example.com"))
        by_phone = await c.post(
            "/api/profiles",
            json=profile_doc(email="other@example.com", phone_number="+12025550143"),
        )
    for r in (by_email, by_phone):
        assert r.status_code == 409
        error = the_error(r)
        assert error["code"] == "duplicate_profile"
        assert error["meta"]["duplicate_profile_id"] == first
        assert error["source"]["pointer"] == "/data/attributes"


async def test_external_id_alone_does_not_conflict(emulator: KlaviyoEmulator) -> None:
    async with client(emulator) as c:
        a = await c.post("/api/profiles", json=profile_doc(external_id="crm-1"))
        b = await c.post("/api/profiles", json=profile_doc(external_id="crm-1"))
        found = await c.get("/api/profiles", params={"filter": 'equals(external_id,"crm-1")'})
    assert (a.status_code, b.status_code) == (201, 201)
    assert len(found.json()["data"]) == 2


async def test_get_unknown_profile_is_404_body(emulator: KlaviyoEmulator) -> None:
    async with client(emulator) as c:
        r = await c.get("/api/profiles/01GDDKASAP8TKDDA2GRZDSVP4H")
    assert r.status_code == 404
    assert the_error(r)["code"] == "not_found"


async def test_get_with_subscriptions_lists_and_sparse_fields(emulator: KlaviyoEmulator) -> None:
    ids = emulator.seed(
        [
            {
                "attributes": {"email": "m@example.com", "first_name": "M"},
                "subscriptions": {"email": "SUBSCRIBED"},
                "lists": ["Newsletter"],
            }
        ],
        [{"name": "Newsletter", "opt_in_process": "single_opt_in"}],
    )
    async with client(emulator) as c:
        r = await c.get(
            f"/api/profiles/{ids['0']}/",
            params={
                "additional-fields[profile]": "subscriptions",
                "include": "lists",
                "fields[profile]": "email,subscriptions",
            },
        )
    doc = r.json()
    assert set(doc["data"]["attributes"]) == {"email", "subscriptions"}
    marketing = doc["data"]["attributes"]["subscriptions"]["email"]["marketing"]
    assert marketing["consent"] == "SUBSCRIBED"
    assert marketing["can_receive_email_marketing"] is True
    lists = doc["data"]["relationships"]["lists"]["data"]
    assert [item["type"] for item in lists] == ["list"]
    assert doc["included"][0]["attributes"]["name"] == "Newsletter"


async def test_bad_include_names_the_parameter(emulator: KlaviyoEmulator) -> None:
    ids = emulator.seed([{"attributes": {"email": "i@example.com"}}], [])
    async with client(emulator) as c:
        r = await c.get(f"/api/profiles/{ids['0']}", params={"include": "profiless"})
    assert r.status_code == 400
    assert the_error(r)["source"] == {"parameter": "include"}


@pytest.mark.parametrize(
    "raw_filter",
    [
        'equals(email,"f@example.com")',
        "equals(email,'f@example.com')",
        'any(email,["nobody@example.com","f@example.com"])',
        'equals(email,["f@example.com"])',
        'equals(phone_number,"+12025550143")',
        'equals(email,"f@example.com"),equals(phone_number,"+12025550143")',
    ],
)
async def test_filter_forms_find_the_profile(emulator: KlaviyoEmulator, raw_filter: str) -> None:
    ids = emulator.seed(
        [
            {"attributes": {"email": "f@example.com", "phone_number": "+12025550143"}},
            {"attributes": {"email": "g@example.com"}},
        ],
        [],
    )
    async with client(emulator) as c:
        r = await c.get("/api/profiles", params={"filter": raw_filter})
    assert [p["id"] for p in r.json()["data"]] == [ids["0"]]


async def test_percent_encoded_and_raw_filters_agree(emulator: KlaviyoEmulator) -> None:
    ids = emulator.seed(
        [{"attributes": {"email": "f@example.com", "phone_number": "+12025550143"}}], []
    )
    async with client(emulator) as c:
        encoded = await c.get(
            "/api/profiles?filter=equals%28phone_number%2C%22%2B12025550143%22%29"
        )
        raw = await c.get('/api/profiles/?filter=equals(email,"f@example.com")')
        plus_unencoded = await c.get('/api/profiles?filter=equals(phone_number,"+12025550143")')
    assert [p["id"] for p in encoded.json()["data"]] == [ids["0"]]
    assert [p["id"] for p in raw.json()["data"]] == [ids["0"]]
    # An unencoded '+' decodes to a space, exactly as on the real service.
    assert plus_unencoded.json()["data"] == []


@pytest.mark.parametrize(
    ("raw_filter", "needle"),
    [
        ('equals(first_name,"x")', "first_name"),
        ('contains(email,"x")', "contains"),
        ("equals(email,unquoted)", "quoted"),
        ('equals(email,"x"', "expected"),
        ('or(equals(email,"a"),equals(email,"b"))', "or"),
    ],
)
async def test_bad_filters_are_400_on_the_filter_parameter(
    emulator: KlaviyoEmulator, raw_filter: str, needle: str
) -> None:
    async with client(emulator) as c:
        r = await c.get("/api/profiles", params={"filter": raw_filter})
    assert r.status_code == 400
    error = the_error(r)
    assert error["source"] == {"parameter": "filter"}
    assert needle in error["detail"]


async def test_cursor_paging_walks_every_profile_once(emulator: KlaviyoEmulator) -> None:
    emulator.seed([{"attributes": {"email": f"p{n}@example.com"}} for n in range(45)], [])
    seen: list[str] = []
    async with client(emulator) as c:
        r = await c.get("/api/profiles", params={"page[size]": "20"})
        while True:
            doc = r.json()
            seen.extend(p["id"] for p in doc["data"])
            if not doc["links"]["next"]:
                break
            r = await c.get(doc["links"]["next"])
        prev = await c.get(doc["links"]["prev"])
    assert len(seen) == 45 == len(set(seen))
    assert seen == sorted(seen)
    assert [p["id"] for p in prev.json()["data"]] == seen[20:40]
    cursor = parse_qs(urlsplit(doc["links"]["prev"]).query)["page[cursor]"][0]
    assert base64.urlsafe_b64decode(cursor + "==").decode().startswith("prev::id::")


@pytest.mark.parametrize("size", ["0", "101", "many"])
async def test_page_size_out_of_range_is_400(emulator: KlaviyoEmulator, size: str) -> None:
    async with client(emulator) as c:
        r = await c.get("/api/profiles", params={"page[size]": size})
    assert r.status_code == 400
    assert the_error(r)["source"] == {"parameter": "page[size]"}


async def test_default_page_is_20(emulator: KlaviyoEmulator) -> None:
    emulator.seed([{"attributes": {"email": f"d{n}@example.com"}} for n in range(25)], [])
    async with client(emulator) as c:
        r = await c.get("/api/profiles")
    assert len(r.json()["data"]) == 20


async def test_patch_omitted_keeps_null_clears_properties_merge(emulator: KlaviyoEmulator) -> None:
    ids = emulator.seed(
        [
            {
                "attributes": {
                    "email": "p@example.com",
                    "first_name": "Pat",
                    "last_name": "Lee",
                    "properties": {"a": 1, "b": 2},
                }
            }
        ],
        [],
    )
    pid = ids["0"]
    async with client(emulator) as c:
        r = await c.patch(
            f"/api/profiles/{pid}",
            json={
                "data": {
                    "type": "profile",
                    "id": pid,
                    "attributes": {
                        "last_name": None,
                        "organization": "Acme",
                        "properties": {"b": 3},
                    },
                }
            },
        )
    attrs = r.json()["data"]["attributes"]
    assert r.status_code == 200
    assert attrs["first_name"] == "Pat"
    assert attrs["last_name"] is None
    assert attrs["organization"] == "Acme"
    assert attrs["properties"] == {"a": 1, "b": 3}


async def test_patch_properties_append_unappend_unset(emulator: KlaviyoEmulator) -> None:
    ids = emulator.seed(
        [
            {
                "attributes": {
                    "email": "pp@example.com",
                    "properties": {"skus": ["1", "2"], "gone": True},
                }
            }
        ],
        [],
    )
    pid = ids["0"]
    async with client(emulator) as c:
        r = await c.patch(
            f"/api/profiles/{pid}",
            json={
                "data": {
                    "type": "profile",
                    "id": pid,
                    "attributes": {},
                    "meta": {
                        "patch_properties": {
                            "append": {"skus": "3"},
                            "unappend": {"skus": "1"},
                            "unset": "gone",
                        }
                    },
                }
            },
        )
        bad = await c.patch(
            f"/api/profiles/{pid}",
            json={
                "data": {
                    "type": "profile",
                    "id": pid,
                    "attributes": {},
                    "meta": {"patch_properties": {"unset": 5}},
                }
            },
        )
    assert r.json()["data"]["attributes"]["properties"] == {"skus": ["2", "3"]}
    assert bad.status_code == 400
    assert the_error(bad)["source"]["pointer"] == "/data/attributes/meta/patch_properties/unset"


async def test_patch_conflicts_and_identifier_loss(emulator: KlaviyoEmulator) -> None:
    ids = emulator.seed(
        [
            {"attributes": {"email": "one@example.com"}},
            {"attributes": {"email": "two@example.com"}},
        ],
        [],
    )
    async with client(emulator) as c:
        taken = await c.patch(
            f"/api/profiles/{ids['1']}",
            json={
                "data": {
                    "type": "profile",
                    "id": ids["1"],
                    "attributes": {"email": "one@example.com"},
                }
            },
        )
        empty = await c.patch(
            f"/api/profiles/{ids['1']}",
            json={"data": {"type": "profile", "id": ids["1"], "attributes": {"email": None}}},
        )
        missing = await c.patch(
            "/api/profiles/01GDDKASAP8TKDDA2GRZDSVP4H",
            json={
                "data": {"type": "profile", "id": "01GDDKASAP8TKDDA2GRZDSVP4H", "attributes": {}}
            },
        )
        no_attrs = await c.patch(
            f"/api/profiles/{ids['1']}", json={"data": {"type": "profile", "id": ids["1"]}}
        )
    assert taken.status_code == 409
    assert the_error(taken)["meta"]["duplicate_profile_id"] == ids["0"]
    assert empty.status_code == 400
    assert the_error(empty)["detail"] == "One or more identifiers is required"
    assert missing.status_code == 404
    assert no_attrs.status_code == 400
    assert the_error(no_attrs)["source"]["pointer"] == "/data/attributes"
    assert emulator.profile_id_for_email("two@example.com") == ids["1"]


async def test_patch_moves_the_identity_index(emulator: KlaviyoEmulator) -> None:
    ids = emulator.seed([{"attributes": {"email": "old@example.com"}}], [])
    async with client(emulator) as c:
        await c.patch(
            f"/api/profiles/{ids['0']}",
            json={
                "data": {
                    "type": "profile",
                    "id": ids["0"],
                    "attributes": {"email": "new@example.com"},
                }
            },
        )
        reuse = await c.post("/api/profiles", json=profile_doc(email="old@example.com"))
    assert emulator.profile_id_for_email("new@example.com") == ids["0"]
    assert reuse.status_code == 201


async def test_profile_import_creates_201_then_updates_200(emulator: KlaviyoEmulator) -> None:
    doc = {
        "data": {"type": "profile", "attributes": {"email": "imp@example.com", "first_name": "I"}}
    }
    async with client(emulator) as c:
        created = await c.post("/api/profile-import", json=doc)
        doc["data"]["attributes"] = {"email": "imp@example.com", "first_name": "J"}
        updated = await c.post("/api/profile-import/", json=doc)
    assert created.status_code == 201
    assert updated.status_code == 200
    assert updated.json()["data"]["id"] == created.json()["data"]["id"]
    assert updated.json()["data"]["attributes"]["first_name"] == "J"


async def test_profile_import_with_identifiers_of_two_profiles_is_409(
    emulator: KlaviyoEmulator,
) -> None:
    ids = emulator.seed(
        [
            {"attributes": {"email": "e@example.com"}},
            {"attributes": {"email": "f@example.com", "phone_number": "+12025550143"}},
        ],
        [],
    )
    async with client(emulator) as c:
        r = await c.post(
            "/api/profile-import",
            json={
                "data": {
                    "type": "profile",
                    "attributes": {"email": "e@example.com", "phone_number": "+12025550143"},
                }
            },
        )
        by_phone = await c.post(
            "/api/profile-import",
            json={
                "data": {
                    "type": "profile",
                    "attributes": {"email": "new@example.com", "phone_number": "+12025550143"},
                }
            },
        )
    assert r.status_code == 409
    assert the_error(r)["meta"]["duplicate_profile_id"] == ids["1"]
    assert by_phone.status_code == 200
    assert by_phone.json()["data"]["id"] == ids["1"]
    assert by_phone.json()["data"]["attributes"]["email"] == "new@example.com"


async def test_profile_lists_endpoint(emulator: KlaviyoEmulator) -> None:
    ids = emulator.seed(
        [{"attributes": {"email": "l@example.com"}, "lists": ["B", "A"]}],
        [
            {"name": "A", "opt_in_process": "single_opt_in"},
            {"name": "B", "opt_in_process": "double_opt_in"},
        ],
    )
    async with client(emulator) as c:
        r = await c.get(f"/api/profiles/{ids['0']}/lists")
    assert [item["attributes"]["name"] for item in r.json()["data"]] == ["A", "B"]
