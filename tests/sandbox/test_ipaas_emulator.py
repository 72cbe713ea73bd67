"""The iPaaS.com emulator's routes: auth, errors, search and paging, external-id links, sso."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from core.model import Customer
from core.sandbox.ipaas import ErrorShape, IpaasEmulator, IpaasOptions

from .conftest import SYSTEM, TOKEN, USER, client_for, customer

LINK = f"/customers/v2/External/LookupExternal/{{}}/{SYSTEM}/customer"


async def test_get_customer_returns_snake_case_json_that_parses(api: httpx.AsyncClient) -> None:
    response = await api.get("/customers/v2/Customer/55260")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == 55260  # a JSON number by default
    assert Customer.from_api(body).email_address == "ann@example.com"
    assert body["external_ids"] == [{"id": f"{SYSTEM}-55260", "system_id": int(SYSTEM),
                                     "external_id": "01JPROFILEANN0000000000000",
                                     "internal_id": "55260"}]


async def test_missing_customer_is_404_with_nfnd_code(api: httpx.AsyncClient) -> None:
    response = await api.get("/customers/v2/Customer/999")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "NFND-1005"
    assert "999" in body["message"]
    assert body["help_link"].startswith("https://")


@pytest.mark.parametrize("shape", list(ErrorShape))
async def test_error_body_shape_is_configurable(emulator: IpaasEmulator, shape: ErrorShape) -> None:
    emulator.options = IpaasOptions(error_shape=shape)
    async with client_for(emulator) as api:
        body = (await api.get("/customers/v2/Customer/999")).json()
    code = {
        ErrorShape.FLAT: lambda b: b["code"],
        ErrorShape.ENVELOPE: lambda b: b["errors"][0]["code"],
        ErrorShape.PROBLEM: lambda b: b["code"] if b["status"] == 404 else None,
    }[shape](body)
    assert code == "NFND-1005"


async def test_id_can_be_served_as_text(emulator: IpaasEmulator) -> None:
    emulator.options = IpaasOptions(id_as_number=False)
    async with client_for(emulator) as api:
        assert (await api.get("/customers/v2/Customer/55260")).json()["id"] == "55260"


@pytest.mark.parametrize(
    ("token", "code"),
    [(None, "AUTH-1001"), ("wrong", "AUTH-1003")],
)
async def test_data_routes_need_a_valid_bearer_token(
    emulator: IpaasEmulator, token: str | None, code: str
) -> None:
    async with client_for(emulator, token) as api:
        response = await api.get("/customers/v2/Customer/55260")
    assert response.status_code == 401
    assert response.json()["code"] == code
    assert TOKEN not in response.text


async def test_basic_scheme_is_refused(emulator: IpaasEmulator) -> None:
    async with client_for(emulator, None) as api:
        response = await api.get("/customers/v2/Customer/55260",
                                 headers={"Authorization": f"Basic {TOKEN}"})
    assert response.json()["code"] == "AUTH-1002"


async def test_client_id_is_optional_unless_configured(emulator: IpaasEmulator) -> None:
    async with client_for(emulator) as api:
        assert (await api.get("/customers/v2/Customer/55260")).status_code == 200
        emulator.options = IpaasOptions(require_client_id=True)
        assert (await api.get("/customers/v2/Customer/55260")).status_code == 401
        ok = await api.get("/customers/v2/Customer/55260", headers={"X-Client-Id": "c-1"})
        assert ok.status_code == 200


async def test_duplicate_content_type_header_is_ignored(api: httpx.AsyncClient) -> None:
    response = await api.get("/customers/v2/Customer/55260", headers={"Content_Type": "x/y"})
    assert response.status_code == 200


async def test_routes_match_case_insensitively(api: httpx.AsyncClient) -> None:
    assert (await api.get("/CUSTOMERS/V2/customer/55260")).status_code == 200


async def test_search_by_email_equals_ignores_case(api: httpx.AsyncClient) -> None:
    response = await api.get("/customers/v2/Customers",
                             params={"action": "equals", "EmailAddress": "carol@example.com"})
    assert [c["id"] for c in response.json()] == [55262]


async def test_search_filters_combine_and_contains_works(api: httpx.AsyncClient) -> None:
    both = await api.get("/customers/v2/Customers",
                         params={"action": "equals", "FirstName": "Carol"})
    assert [c["id"] for c in both.json()] == [55262, 55263]
    contains = await api.get("/customers/v2/Customers",
                             params={"action": "contains", "EmailAddress": "EXAMPLE.COM",
                                     "FirstName": "car"})
    assert [c["id"] for c in contains.json()] == [55262]


async def test_search_with_no_hit_is_an_empty_array(api: httpx.AsyncClient) -> None:
    response = await api.get("/customers/v2/Customers",
                             params={"action": "equals", "EmailAddress": "nobody@example.com"})
    assert response.status_code == 200
    assert response.json() == []
    assert json.loads(response.headers["X-Pagination"])["total_Pages"] == 0


async def test_unknown_filter_or_action_is_a_validation_error(api: httpx.AsyncClient) -> None:
    bad_field = await api.get("/customers/v2/Customers", params={"Shoe": "9"})
    assert bad_field.status_code == 400 and bad_field.json()["code"].startswith("VALD-")
    bad_action = await api.get("/customers/v2/Customers", params={"action": "regex"})
    assert bad_action.status_code == 400


def _many(count: int, options: IpaasOptions) -> IpaasEmulator:
    emu = IpaasEmulator(token=TOKEN, system_id=SYSTEM, options=options)
    emu.seed([customer(1000 + i, f"c{i}@example.com") for i in range(count)], {})
    return emu


async def test_paging_walks_every_customer_once_with_the_header() -> None:
    emu = _many(7, IpaasOptions(page_size=3))
    seen, pages = [], []
    async with client_for(emu) as api:
        page = 1
        while True:
            response = await api.get("/customers/v2/Customers", params={"pageNumber": page})
            header = json.loads(response.headers["X-Pagination"])
            pages.append((header["current_Page"], header["total_Pages"], len(response.json())))
            seen += [c["id"] for c in response.json()]
            if header["current_Page"] >= header["total_Pages"]:
                break
            page += 1
    assert pages == [(1, 3, 3), (2, 3, 3), (3, 3, 1)]
    assert seen == list(range(1000, 1007))


async def test_page_base_and_size_parameter_are_configurable() -> None:
    emu = _many(5, IpaasOptions(page_base=0, page_size_param="limit"))
    async with client_for(emu) as api:
        first = await api.get("/customers/v2/Customers", params={"pageNumber": 0, "limit": 2})
        past = await api.get("/customers/v2/Customers", params={"pageNumber": 3, "limit": 2})
        below = await api.get("/customers/v2/Customers", params={"pageNumber": -1})
    header = json.loads(first.headers["X-Pagination"])
    assert (header["current_Page"], header["total_Pages"], header["has_Next"]) == (0, 3, True)
    assert [c["id"] for c in first.json()] == [1000, 1001]
    assert past.json() == []
    assert below.status_code == 400


async def test_lookup_external_returns_a_quoted_raw_string(api: httpx.AsyncClient) -> None:
    response = await api.get(LINK.format(55260))
    assert response.status_code == 200
    assert response.text == '"01JPROFILEANN0000000000000"'


async def test_lookup_external_can_be_unquoted(emulator: IpaasEmulator) -> None:
    emulator.options = IpaasOptions(quote_external_ids=False)
    async with client_for(emulator) as api:
        assert (await api.get(LINK.format(55260))).text == "01JPROFILEANN0000000000000"


async def test_unlinked_is_404_and_deleted_link_keeps_its_prefix(api: httpx.AsyncClient) -> None:
    unlinked = await api.get(LINK.format(55261))
    assert unlinked.status_code == 404
    assert unlinked.json()["code"].startswith("NFND-")
    deleted = await api.get(LINK.format(55262))
    assert deleted.json() == "DELETED:01JGONE"


async def test_invalid_system_id_is_a_validation_error(api: httpx.AsyncClient) -> None:
    response = await api.get("/customers/v2/External/LookupExternal/55260/0/customer")
    assert response.status_code == 400
    assert response.json()["code"] == "VALD-1017"


async def test_update_external_id_stores_the_link(
    api: httpx.AsyncClient, emulator: IpaasEmulator
) -> None:
    body = {"table_name": "customer", "system_id": int(SYSTEM), "external_id": "01JNEW",
            "internal_id": "55261"}
    response = await api.post("/customers/v2/External/UpdateExternalId", json=body)
    assert response.status_code == 200
    assert emulator.changed
    assert (await api.get(LINK.format(55261))).json() == "01JNEW"
    reverse = await api.get(f"/customers/v2/External/LookupSpaceport/{SYSTEM}/customer/01JNEW")
    assert reverse.json() == "55261"
    customer_json = (await api.get("/customers/v2/Customer/55261")).json()
    assert customer_json["external_ids"][0]["external_id"] == "01JNEW"


async def test_customer_shows_a_link_per_system_and_a_new_customer_is_listed_in_order(
    api: httpx.AsyncClient, emulator: IpaasEmulator
) -> None:
    emulator.add_system("1001")  # another subscription of the same company
    body = {"table_name": "customer", "system_id": 1001, "external_id": "other-system-id",
            "internal_id": "55260"}
    assert (await api.post("/customers/v2/External/UpdateExternalId", json=body)).is_success
    shown = (await api.get("/customers/v2/Customer/55260")).json()["external_ids"]
    assert [(item["system_id"], item["external_id"]) for item in shown] == [
        (1001, "other-system-id"), (int(SYSTEM), "01JPROFILEANN0000000000000")]
    listed = [c["id"] for c in (await api.get("/customers/v2/Customers")).json()]
    emulator.upsert_customer(customer(55259, "early@example.com"))
    relisted = [c["id"] for c in (await api.get("/customers/v2/Customers")).json()]
    assert relisted == sorted([*listed, 55259])


async def test_update_external_id_names_a_missing_field(api: httpx.AsyncClient) -> None:
    body = {"table_name": "customer", "system_id": int(SYSTEM), "internal_id": "55261"}
    response = await api.post("/customers/v2/External/UpdateExternalId", json=body)
    assert response.status_code == 400
    assert "external_id" in response.json()["message"]


async def test_update_external_id_for_an_unknown_customer_is_404(api: httpx.AsyncClient) -> None:
    body = {"table_name": "customer", "system_id": SYSTEM, "external_id": "x",
            "internal_id": "1"}
    assert (await api.post("/customers/v2/External/UpdateExternalId", json=body)).status_code == 404


async def test_missing_lists_customers_without_a_link(api: httpx.AsyncClient) -> None:
    response = await api.get(f"/customers/v2/External/Missing/{SYSTEM}/customer")
    # 55262 holds a DELETED: link, which still counts as a stored external id.
    assert response.json() == [55261, 55263]


async def test_delete_link_marks_it_deleted(emulator: IpaasEmulator) -> None:
    emulator.delete_link("55260")
    assert emulator.link_of("55260") == "DELETED:01JPROFILEANN0000000000000"
    assert emulator.changed


async def test_customer_updates_fire_outbound_scopes(emulator: IpaasEmulator) -> None:
    events: list[tuple[str, str]] = []
    emulator.on_change = lambda scope, cid: events.append((scope, cid))
    emulator.update_customer("55261", first_name="Robert")
    new_id = emulator.upsert_customer(customer(60000, "new@example.com"))
    assert events == [("customer/updated", "55261"), ("customer/created", "60000")]
    assert new_id == "60000"
    assert emulator.customers["55261"]["first_name"] == "Robert"
    # Editing a customer keeps its links.
    assert emulator.customers["55260"]["external_ids"]


async def test_put_and_post_customer_routes(
    api: httpx.AsyncClient, emulator: IpaasEmulator
) -> None:
    events: list[tuple[str, str]] = []
    emulator.on_change = lambda scope, cid: events.append((scope, cid))
    put = await api.put("/customers/v2/Customer/55263", json=customer(0, "d@example.com"))
    assert put.status_code == 200 and put.json()["id"] == 55263
    post = await api.post("/customers/v2/Customer", json=customer(0, "e@example.com"))
    assert post.status_code == 201 and post.json()["id"] == 55264
    bad = await api.post("/customers/v2/Customer", json={"addresses": "nope"})
    assert bad.status_code == 400 and "addresses" in bad.json()["message"]
    assert events == [("customer/updated", "55263"), ("customer/created", "55264")]


async def test_unknown_route_and_wrong_method(api: httpx.AsyncClient) -> None:
    assert (await api.get("/customers/v2/Nope")).status_code == 404
    assert (await api.delete("/customers/v2/Customer/55260")).status_code == 405


async def test_login_change_company_and_refresh(emulator: IpaasEmulator) -> None:
    now = [1_000_000.0]
    emulator._clock = lambda: now[0]
    async with client_for(emulator, None) as sso:
        bad = await sso.post("/sso/v2/Auth/Login",
                             json={"email_address": USER.email_address, "password": "nope"})
        assert bad.status_code == 401 and bad.json()["code"].startswith("AUTH-")
        login = (await sso.post("/sso/v2/Auth/Login", json={
            "email_address": USER.email_address, "password": USER.password})).json()
        assert {"access_token", "access_token_expiration", "refresh_token", "id"} <= set(login)
        user_auth = {"Authorization": f"Bearer {login['access_token']}"}
        # A user token is not enough for data: the company token is (ChangeCompany).
        denied = await sso.get("/customers/v2/Customer/55260", headers=user_auth)
        assert denied.status_code == 403
        companies = await sso.get(f"/sso/v2/User/{USER.user_id}/Companies", headers=user_auth)
        assert companies.json()[0]["id"] == USER.company_id
        company = (await sso.get(f"/sso/v2/User/ChangeCompany/{USER.company_id}",
                                 headers=user_auth)).json()
        data_auth = {"Authorization": f"Bearer {company['access_token']}"}
        assert (await sso.get("/customers/v2/Customer/55260", headers=data_auth)).status_code == 200
        now[0] += 3600
        expired = await sso.get("/customers/v2/Customer/55260", headers=data_auth)
        assert expired.status_code == 401 and expired.json()["code"] == "AUTH-1004"
        refreshed = (await sso.post("/sso/v2/Auth/Refresh", json={
            "access_token": company["access_token"],
            "refresh_token": company["refresh_token"]})).json()
        again = {"Authorization": f"Bearer {refreshed['access_token']}"}
        assert (await sso.get("/customers/v2/Customer/55260", headers=again)).status_code == 200
        reused = await sso.post("/sso/v2/Auth/Refresh", json={
            "access_token": company["access_token"], "refresh_token": company["refresh_token"]})
        assert reused.status_code == 401
    # The configured sandbox token never expires.
    async with client_for(emulator) as api:
        assert (await api.get("/customers/v2/Customer/55260")).status_code == 200


async def test_dump_and_load_round_trip(emulator: IpaasEmulator) -> None:
    state = json.loads(json.dumps(emulator.dump()))
    other = IpaasEmulator(token=TOKEN, system_id=SYSTEM)
    other.load(state)
    assert other.customers == emulator.customers
    assert other.links == emulator.links
    with pytest.raises(ValueError, match="malformed"):
        other.load({"customers": 3})


def test_seed_rejects_bad_customers_and_dangling_links() -> None:
    emu = IpaasEmulator(token=TOKEN, system_id=SYSTEM)
    with pytest.raises(ValueError, match=r"customers\[0\]"):
        emu.seed([{"id": None}], {})
    with pytest.raises(ValueError, match="duplicate"):
        emu.seed([customer(1), customer(1)], {})
    with pytest.raises(ValueError, match="not in the seed"):
        emu.seed([customer(1)], {"2": "P"})


@pytest.mark.parametrize("request_for", [
    lambda system: ("GET", f"/customers/v2/External/LookupExternal/55260/{system}/customer", None),
    lambda system: ("GET", f"/customers/v2/External/LookupSpaceport/{system}/customer/01J", None),
    lambda system: ("GET", f"/customers/v2/External/Missing/{system}/customer", None),
    lambda system: ("POST", "/customers/v2/External/UpdateExternalId",
                    {"table_name": "customer", "system_id": int(system),
                     "external_id": "01JNEW", "internal_id": "55261"}),
])
async def test_an_unknown_system_id_is_refused_as_the_reference_says(
    api: httpx.AsyncClient, emulator: IpaasEmulator, request_for: Any
) -> None:
    method, path, body = request_for(int(SYSTEM) + 1)
    response = await api.request(method, path, json=body)
    # Reference §3.3: an invalid System Id is a VALD-1017 / VALD-1023 validation error, so a
    # typo in IPAAS_SYSTEM_ID can never pass for "this customer is not linked".
    assert response.status_code == 400
    assert response.json()["code"] == "VALD-1023"
    assert str(int(SYSTEM) + 1) in response.json()["message"]
    assert not emulator.changed


@pytest.mark.parametrize("shape", list(ErrorShape))
async def test_unknown_system_id_answer_follows_the_error_shape(
    emulator: IpaasEmulator, shape: ErrorShape
) -> None:
    emulator.options = IpaasOptions(error_shape=shape)
    async with client_for(emulator) as api:
        response = await api.get("/customers/v2/External/LookupExternal/55260/4243/customer")
    assert response.status_code == 400
    assert "VALD-1023" in response.text


async def test_systems_holding_links_stay_known_after_a_reload(emulator: IpaasEmulator) -> None:
    emulator.add_system("1001")
    emulator.set_link("1001", "customer", "55261", "other-id")
    reloaded = IpaasEmulator(token=TOKEN, system_id=SYSTEM)
    reloaded.load(emulator.dump())
    async with client_for(reloaded) as api:
        response = await api.get("/customers/v2/External/LookupExternal/55261/1001/customer")
    assert response.json() == "other-id"
