"""The iPaaS.com emulator answers any request with a JSON error below 500, never a crash."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.sandbox.ipaas import ErrorShape, IpaasEmulator, IpaasOptions, SsoUser
from tests.property.strategies import BOUNDED, VALID, awkward_text, json_values, mutated

TOKEN = "ipaas-property-token-0123456789"
SYSTEM = "123"
BASE = "https://api.ipaas.com"
USER = SsoUser("op@example.com", "hunter2-property", "C0FFEE")
LINK = {"table_name": "customer", "system_id": 123, "external_id": "01HPROFILE",
        "internal_id": "55260"}

# (method, path, a valid body or None)
ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/customers/v2/Customer/55260", None),
    ("PUT", "/customers/v2/Customer/55260", VALID),
    ("POST", "/customers/v2/Customer", VALID),
    ("GET", "/customers/v2/Customers", None),
    ("GET", "/customers/v2/External/LookupExternal/55260/123/customer", None),
    ("GET", "/customers/v2/External/LookupSpaceport/123/customer/01HPROFILE", None),
    ("POST", "/customers/v2/External/UpdateExternalId", LINK),
    ("GET", "/customers/v2/External/Missing/123/customer", None),
    ("POST", "/sso/v2/auth/login", {"email_address": USER.email_address,
                                    "password": USER.password}),
    ("POST", "/sso/v2/auth/refresh", {"access_token": TOKEN, "refresh_token": "r"}),
    ("GET", "/sso/v2/user/changecompany/C0FFEE", None),
    ("GET", f"/sso/v2/user/{USER.user_id}/companies", None),
]
segments = st.one_of(
    st.sampled_from(["55260", "123", "0", "-1", "007", "²", "١٢٣", "customer", "CUSTOMER",
                     "DELETED:01H", "%2F", " ", "9" * 30]),
    awkward_text.map(lambda s: s.encode("utf-8", "replace").decode().replace("/", "")),
)
param_names = st.sampled_from([
    "action", "pageNumber", "pageSize", "EmailAddress", "emailaddress", "FirstName", "Id",
    "LastName", "Bogus", "filter", "sortBy",
])
param_values = st.one_of(
    st.sampled_from(["equals", "contains", "startswith", "0", "1", "-1", "501", "²", "١",
                     "1e3", "", "ann@example.com"]),
    awkward_text.map(lambda s: s.encode("utf-8", "replace").decode()),
)


@dataclass
class Sent:
    method: str
    path: str
    params: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes

    def __repr__(self) -> str:
        body = self.body if len(self.body) <= 200 else self.body[:200] + b"..."
        return (f"Sent({self.method!r}, {self.path!r}, {self.params!r}, {self.headers!r}, "
                f"{body!r} ({len(self.body)} bytes))")


@st.composite
def requests(draw: st.DrawFn) -> Sent:
    method, path, valid = draw(st.sampled_from(ROUTES))
    if draw(st.integers(min_value=0, max_value=3)) == 0:
        parts = path.split("/")
        index = draw(st.integers(min_value=4, max_value=max(4, len(parts) - 1)))
        if index < len(parts):
            parts[index] = quote(draw(segments), safe="")
        path = "/".join(parts)
    if draw(st.integers(min_value=0, max_value=19)) == 0:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]))
    kind = draw(st.sampled_from(["mutated", "mutated", "valid", "json", "bytes"]))
    if kind == "valid" or (valid is None and kind == "mutated"):
        document = valid
    elif kind == "mutated":
        document = draw(mutated(valid))
    else:
        document = draw(json_values)
    if kind == "bytes":
        body = draw(st.binary(max_size=40))
    else:
        body = b"" if document is None else json.dumps(document).encode()
    headers: dict[str, str] = {"Content-Type": "application/json"}
    auth = draw(st.sampled_from(["good", "good", "good", "none", "basic", "bad", "empty"]))
    if auth != "none":
        headers["Authorization"] = {"good": f"Bearer {TOKEN}", "basic": f"Basic {TOKEN}",
                                    "bad": "Bearer nope", "empty": "Bearer "}[auth]
    params = draw(st.lists(st.tuples(param_names, param_values), max_size=3))
    return Sent(method, path, params, headers, body)


def _emulator(shape: ErrorShape) -> IpaasEmulator:
    emulator = IpaasEmulator(token=TOKEN, system_id=SYSTEM, user=USER,
                             options=IpaasOptions(error_shape=shape))
    emulator.seed([VALID, {"id": 55261, "email_address": "bob@example.com"}],
                  {"55260": "01HPROFILE"})
    return emulator


def _strict_json(content: bytes) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(content, parse_constant=refuse)


async def _send(sent: Sent, shape: ErrorShape) -> httpx.Response:
    request = httpx.Request(sent.method, BASE + sent.path, params=sent.params,
                            headers=sent.headers, content=sent.body)
    return await _emulator(shape).handle(request)


def _assert_answer(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        document = _strict_json(response.content)
        text = json.dumps(document)
        assert "message" in text or "title" in text, text
    elif response.headers.get("Content-Type", "").startswith("application/json"):
        _strict_json(response.content)
    assert TOKEN not in response.text and USER.password not in response.text


@BOUNDED
@given(requests(), st.sampled_from(list(ErrorShape)))
def test_any_request_gets_an_answer_below_500(sent: Sent, shape: ErrorShape) -> None:
    _assert_answer(asyncio.run(_send(sent, shape)))


PER_ROUTE = settings(BOUNDED, max_examples=40)
BODY_ROUTES = [(method, path, valid) for method, path, valid in ROUTES if valid is not None]


@pytest.mark.parametrize(("method", "path", "valid"), BODY_ROUTES,
                         ids=[f"{m} {p}" for m, p, _ in BODY_ROUTES])
def test_damaged_bodies_get_an_answer_below_500(method: str, path: str, valid: Any) -> None:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}

    @PER_ROUTE
    @given(mutated(valid), st.sampled_from(list(ErrorShape)))
    def check(document: Any, shape: ErrorShape) -> None:
        sent = Sent(method, path, [], headers, json.dumps(document).encode())
        _assert_answer(asyncio.run(_send(sent, shape)))

    check()
