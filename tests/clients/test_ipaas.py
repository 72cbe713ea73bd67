"""The iPaaS.com client tolerates what the API leaves unpublished."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from core.clients.http import ApiError
from core.clients.ipaas import IpaasClient, parse_link, parse_pagination
from core.model import CustomerDataError, ErrorKind
from tests.clients.fakes import TOKEN, Recorder, VirtualClock


def _client(handler: Any) -> IpaasClient:
    clock = VirtualClock()
    recorder = handler if isinstance(handler, Recorder) else Recorder(handler)
    return IpaasClient(TOKEN, "123", base_url="https://api.ipaas.com/",
                       transport=recorder.transport, clock=clock, sleep=clock.sleep)


def _customer(cid: int | str, **extra: Any) -> dict[str, Any]:
    return {"id": cid, "first_name": "Ann", "last_name": "Lee",
            "email_address": f"c{cid}@example.com", **extra}


async def test_get_customer_by_path_with_bearer() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=_customer(55260))

    recorder = Recorder(handler)
    async with _client(recorder) as client:
        customer = await client.get_customer("55260")
    assert customer is not None and customer.id == "55260"
    request = recorder.requests[0]
    assert request.url.path == "/customers/v2/Customer/55260"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("cid", [55260, "55260"])
async def test_id_as_number_or_text(cid: int | str) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=_customer(cid))

    async with _client(handler) as client:
        customer = await client.get_customer("55260")
    assert customer is not None and customer.id == "55260"


async def test_missing_customer_is_none() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"code": "NFND-1005", "message": "not found"})

    async with _client(handler) as client:
        assert await client.get_customer("1") is None


async def test_malformed_record_raises_customer_data_error() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": 7, "addresses": "nope"})

    async with _client(handler) as client:
        with pytest.raises(CustomerDataError, match="addresses"):
            await client.get_customer("7")


async def test_malformed_json_is_an_api_error() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b'{"id": 7, "first', headers={
            "Content-Type": "application/json"})

    async with _client(handler) as client:
        with pytest.raises(ApiError) as caught:
            await client.get_customer("7")
    assert caught.value.code == "malformed_response"


async def test_401_is_auth() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"code": "AUTH-1001", "message": "Token expired"})

    async with _client(handler) as client:
        with pytest.raises(ApiError) as caught:
            await client.get_customer("7")
    assert caught.value.kind is ErrorKind.AUTH and caught.value.code == "AUTH-1001"


@pytest.mark.parametrize(
    ("body", "link"),
    [("01JAFS0VVWGJFE7QE4EJQBA5AS", "01JAFS0VVWGJFE7QE4EJQBA5AS"),
     ('"01JAFS0VVWGJFE7QE4EJQBA5AS"', "01JAFS0VVWGJFE7QE4EJQBA5AS"),
     (' "44552"\n', "44552"), ("DELETED:44552", None), ('"DELETED:44552"', None),
     ("deleted:44552", None), ("", None), ('""', None), ("null", None)],
)
def test_link_bodies(body: str, link: str | None) -> None:
    assert parse_link(body) == link


async def test_lookup_and_store_link() -> None:
    links: dict[str, str] = {}

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            body = json.loads(request.content)
            links[body["internal_id"]] = body["external_id"]
            return httpx.Response(200, json=True)
        cid = request.url.path.split("/")[5]
        if cid not in links:
            return httpx.Response(404, json={"code": "NFND-1005", "message": "no link"})
        return httpx.Response(200, text=json.dumps(links[cid]))

    recorder = Recorder(handler)
    async with _client(recorder) as client:
        assert await client.lookup_link("55260") is None
        await client.store_link("55260", "01JAFS0VVWGJFE7QE4EJQBA5AS")
        assert await client.lookup_link("55260") == "01JAFS0VVWGJFE7QE4EJQBA5AS"
    paths = [r.url.path for r in recorder.requests]
    assert paths[0] == "/customers/v2/External/LookupExternal/55260/123/customer"
    assert paths[1] == "/customers/v2/External/UpdateExternalId"
    assert json.loads(recorder.requests[1].content) == {
        "table_name": "customer", "system_id": 123,
        "external_id": "01JAFS0VVWGJFE7QE4EJQBA5AS", "internal_id": "55260"}


@pytest.mark.parametrize(
    ("header", "expected"),
    [('{"current_Page": 2, "total_Pages": 5}', (2, 5)),
     ('{"currentPage": 2, "totalPages": 5, "pageSize": 50}', (2, 5)),
     ('{"CurrentPage": "2", "TotalPages": "5"}', (2, 5)),
     ('{"current_page": 0, "total_pages": 1}', (0, 1)),
     ("not json", (None, None)), (None, (None, None)), ("[1]", (None, None))],
)
def test_pagination_header_forms(header: str | None, expected: tuple[int, int]) -> None:
    assert parse_pagination(header) == expected


def _paged_server(total: int, per_page: int, first: int, *, header: str | None,
                  refuse_zero: bool = False, clamp: bool = False) -> Recorder:
    pages = max(1, -(-total // per_page))

    async def handler(request: httpx.Request) -> httpx.Response:
        asked = int(request.url.params["pageNumber"])
        if refuse_zero and asked < first:
            return httpx.Response(400, json={"code": "VALD-1001", "message": "bad page"})
        index = asked - first
        if clamp:
            index = min(max(index, 0), pages - 1)
        items = [_customer(i) for i in range(index * per_page, min(total, (index + 1) * per_page))
                 ] if index >= 0 else []
        headers = {}
        if header is not None:
            headers["X-Pagination"] = json.dumps(
                {header[0]: index + first, header[1]: pages})
        return httpx.Response(200, json=items, headers=headers)

    return Recorder(handler)


@pytest.mark.parametrize(
    "server",
    [
        {"first": 1, "header": ("current_Page", "total_Pages")},
        {"first": 0, "header": ("current_Page", "total_Pages")},
        {"first": 1, "header": ("currentPage", "totalPages"), "clamp": True},
        {"first": 1, "header": None},
        {"first": 0, "header": None},
        {"first": 1, "header": None, "refuse_zero": True},
        {"first": 1, "header": None, "clamp": True},
    ],
)
async def test_iter_customers_reads_every_page_once(server: dict[str, Any]) -> None:
    recorder = _paged_server(23, 5, **server)
    async with _client(recorder) as client:
        ids = [c.id async for c in client.iter_customers()]
    assert ids == [str(i) for i in range(23)]
    assert len(recorder.requests) <= 8


async def test_iter_customers_streams_page_by_page() -> None:
    recorder = _paged_server(50, 10, 1, header=("current_Page", "total_Pages"))
    async with _client(recorder) as client:
        stream = client.iter_customers()
        first = await anext(stream)
        assert first.id == "0" and len(recorder.requests) <= 2  # not all five pages
        await stream.aclose()


async def test_search_by_email_and_name() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        assert params.pop("action") == "equals"
        params.pop("pageNumber")
        hits = {("EmailAddress", "c1@example.com"): [_customer(1)],
                ("LastName", "Lee"): [_customer(1), _customer(2)]}
        key = next(iter(params.items()))
        return httpx.Response(200, json=hits.get(key, []),
                              headers={"X-Pagination": '{"current_Page":1,"total_Pages":1}'})

    async with _client(handler) as client:
        assert [c.id for c in await client.search_customers(email="c1@example.com")] == ["1"]
        assert sorted(c.id for c in await client.search_customers(name="Lee")) == ["1", "2"]
