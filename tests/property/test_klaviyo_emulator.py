"""The Klaviyo emulator answers any request with a JSON:API document, never a crash or a 500."""

from __future__ import annotations

import asyncio
import gzip
import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.sandbox.klaviyo import KlaviyoEmulator
from tests.property.strategies import BOUNDED, awkward_text, json_values, mutated

PER_ROUTE = settings(BOUNDED, max_examples=40)

KEY = "pk_property_test_key_0123456789"
BASE = "https://a.klaviyo.com"
PID = "PID"  # placeholders replaced by the seeded ids
LID = "LID"
JID = "JID"


def _profile(**extra: Any) -> dict[str, Any]:
    return {
        "type": "profile",
        "attributes": {
            "email": "ann@example.com", "phone_number": "+14155552671", "first_name": "Ann",
            "location": {"city": "Boise", "latitude": 43.6, "zip": "83702"},
            "properties": {"tier": "gold"},
        },
        **extra,
    }


def _consent(consent: str, *, with_id: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "profile",
        "attributes": {
            "email": "ann@example.com", "phone_number": "+14155552671",
            "subscriptions": {
                "email": {"marketing": {"consent": consent}},
                "sms": {"marketing": {"consent": consent}},
            },
        },
    }
    if with_id:
        item["id"] = PID
    return item


LIST_REL = {"list": {"data": {"type": "list", "id": LID}}}
MEMBERS = {"data": [{"type": "profile", "id": PID}]}

# (method, path, a valid body or None)
ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/profiles", None),
    ("POST", "/api/profiles", {"data": _profile()}),
    ("GET", f"/api/profiles/{PID}", None),
    ("PATCH", f"/api/profiles/{PID}", {"data": _profile(
        id=PID, meta={"patch_properties": {"append": {"tags": "a"}, "unset": ["old"]}})}),
    ("GET", f"/api/profiles/{PID}/lists", None),
    ("GET", f"/api/profiles/{PID}/relationships/lists", None),
    ("POST", "/api/profile-import", {"data": _profile(id=PID)}),
    ("POST", "/api/profile-subscription-bulk-create-jobs", {"data": {
        "type": "profile-subscription-bulk-create-job",
        "attributes": {"custom_source": "console", "historical_import": False,
                       "profiles": {"data": [_consent("SUBSCRIBED", with_id=True)]}},
        "relationships": LIST_REL}}),
    ("POST", "/api/profile-subscription-bulk-delete-jobs", {"data": {
        "type": "profile-subscription-bulk-delete-job",
        "attributes": {"profiles": {"data": [_consent("UNSUBSCRIBED", with_id=False)]}},
        "relationships": LIST_REL}}),
    ("GET", "/api/lists", None),
    ("POST", "/api/lists", {"data": {"type": "list", "attributes": {
        "name": "Fresh", "opt_in_process": "double_opt_in"}}}),
    ("GET", f"/api/lists/{LID}", None),
    ("GET", f"/api/lists/{LID}/profiles", None),
    ("GET", f"/api/lists/{LID}/relationships/profiles", None),
    ("POST", f"/api/lists/{LID}/relationships/profiles", MEMBERS),
    ("DELETE", f"/api/lists/{LID}/relationships/profiles", MEMBERS),
    ("GET", "/api/profile-bulk-import-jobs", None),
    ("POST", "/api/profile-bulk-import-jobs", {"data": {
        "type": "profile-bulk-import-job",
        "attributes": {"profiles": {"data": [_profile()]}},
        "relationships": {"lists": {"data": [{"type": "list", "id": LID}]}}}}),
    ("GET", f"/api/profile-bulk-import-jobs/{JID}", None),
    ("GET", f"/api/profile-bulk-import-jobs/{JID}/import-errors", None),
    ("GET", f"/api/profile-bulk-import-jobs/{JID}/relationships/profiles", None),
]

QUERY_KEYS = [
    "filter", "page[size]", "page[cursor]", "fields[profile]", "additional-fields[profile]",
    "include", "sort", "fields[list]", "additional-fields[list]", "bogus",
]
filter_tokens = st.sampled_from([
    "equals(", "any(", "greater-than(", "less-than(", "and(", "or(", "has(", "email", "id",
    "phone_number", "external_id", "created", "updated", "name", "_kx", ",", ")", "(", "[",
    "]", '"', "'", '"a@b.com"', "2024-01-01T00:00:00Z", "2024-13-45", "1", "null", "true",
    " ", "\\", "x",
])
query_values = st.one_of(
    st.lists(filter_tokens, max_size=10).map("".join),
    st.sampled_from(["0", "1", "100", "101", "-1", "1e3", "lists", "subscriptions",
                     "predictive_analytics", "profile_count", "-id", "created", "email,name",
                     "bmV4dDo6aWQ6Ong", "bmV4dA", "!!!", ""]),
    awkward_text,
)
queries = st.dictionaries(st.sampled_from(QUERY_KEYS), query_values, max_size=3)

header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
auth_headers = st.one_of(
    st.just(f"Klaviyo-API-Key {KEY}"), st.just(f"Klaviyo-API-Key {KEY}"),
    st.just(f"Klaviyo-API-Key {KEY}"), st.just(f"Bearer {KEY}"), st.none(), header_text,
)
revisions = st.one_of(
    st.just("2026-07-15"), st.just("2026-07-15"), st.just("2026-07-15"),
    st.sampled_from(["2020-01-01", "2026-07-15.pre", "tomorrow", "2026-7-15", ""]), st.none(),
)
content_types = st.one_of(
    st.just("application/vnd.api+json"), st.just("application/json"),
    st.sampled_from(["text/html", "application/json; charset=utf-8", "", "multipart/form-data"]),
    st.none(),
)


@dataclass
class Sent:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def __repr__(self) -> str:
        body = self.body if len(self.body) <= 200 else self.body[:200] + b"..."
        return (f"Sent({self.method!r}, {self.path!r}, {self.query!r}, {self.headers!r}, "
                f"{body!r} ({len(self.body)} bytes))")


@st.composite
def requests(draw: st.DrawFn) -> Sent:
    method, path, valid = draw(st.sampled_from(ROUTES))
    if draw(st.integers(min_value=0, max_value=19)) == 0:
        method = draw(st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT", "HEAD"]))
    if draw(st.integers(min_value=0, max_value=19)) == 0:
        path = draw(st.sampled_from([path + "/", path + "/extra", "/api", "/", "/api/profiles/",
                                     path.replace(PID, "%2F..%2F"), path.replace(LID, "")]))
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "valid", "json", "bytes"]))
    if kind == "valid" or (valid is None and kind == "mutated"):
        document = valid
    elif kind == "mutated":
        document = draw(mutated(valid))
    else:
        document = draw(json_values)
    if kind == "bytes":
        body = draw(st.one_of(st.binary(max_size=40),
                              st.just(json.dumps(valid or {}).encode()[:-3])))
    elif document is None:
        body = b""
    else:
        body = json.dumps(document).encode()
    headers: dict[str, str] = {}
    for name, values in (("Authorization", auth_headers), ("revision", revisions),
                         ("Content-Type", content_types)):
        value = draw(values)
        if value is not None:
            headers[name] = value
    encoding = draw(st.sampled_from([None, None, None, "gzip", "gzip-broken", "br"]))
    if encoding == "gzip":
        headers["Content-Encoding"] = "gzip"
        body = gzip.compress(body)
    elif encoding is not None:
        headers["Content-Encoding"] = "gzip" if encoding == "gzip-broken" else encoding
    # Lone surrogates cannot be put on the wire at all.
    query = {k: v.encode("utf-8", "replace").decode() for k, v in draw(queries).items()}
    return Sent(method, path, query, headers, body)


def _emulator() -> tuple[KlaviyoEmulator, dict[str, str]]:
    ticks = iter(range(0, 10**9, 1000))
    emulator = KlaviyoEmulator(api_key=KEY, clock=lambda: float(next(ticks)))
    lists = [{"name": "Newsletter", "opt_in_process": "single_opt_in"},
             {"name": "Double", "opt_in_process": "double_opt_in"}]
    ids = emulator.seed([{"attributes": {"email": "ann@example.com"}},
                         {"attributes": {"email": "bob@example.com",
                                         "phone_number": "+14155552672"}}], lists)
    lid = next(iter(emulator.state.lists))
    return emulator, {PID: ids["0"], LID: lid}


async def _job(emulator: KlaviyoEmulator, ids: dict[str, str]) -> str:
    body = json.dumps(ROUTES[17][2]).replace(LID, ids[LID]).encode()
    request = httpx.Request("POST", f"{BASE}/api/profile-bulk-import-jobs", content=body,
                            headers={"Authorization": f"Klaviyo-API-Key {KEY}",
                                     "revision": "2026-07-15",
                                     "Content-Type": "application/vnd.api+json"})
    response = await emulator.handle(request)
    assert response.status_code == 202, response.text
    return str(response.json()["data"]["id"])


def _fill(text: str, ids: dict[str, str]) -> str:
    for placeholder, real in ids.items():
        text = text.replace(placeholder, real)
    return text


async def _send(sent: Sent) -> httpx.Response:
    emulator, ids = _emulator()
    ids[JID] = await _job(emulator, ids)
    body = _fill(sent.body.decode("latin-1"), ids).encode("latin-1")
    request = httpx.Request(
        sent.method, BASE + _fill(sent.path, ids),
        params={k: _fill(v, ids) for k, v in sent.query.items()},
        headers=sent.headers, content=body,
    )
    return await emulator.handle(request)


def _strict_json(content: bytes) -> Any:
    """RFC 8259 JSON: NaN and Infinity, which Python would accept, are refused."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(content, parse_constant=refuse)


def _assert_answer(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code < 400:
        if response.content:
            _strict_json(response.content)
        return
    document = _strict_json(response.content)
    assert response.headers["Content-Type"] == "application/vnd.api+json"
    (error,) = document["errors"]
    assert error["status"] == response.status_code
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["detail"], str) and error["detail"]
    assert isinstance(error["source"], dict)
    assert KEY not in response.text


GOOD_HEADERS = {"Authorization": f"Klaviyo-API-Key {KEY}", "revision": "2026-07-15",
                "Content-Type": "application/vnd.api+json"}


def _import_job(relationships: Any) -> Sent:
    body = {"data": {"type": "profile-bulk-import-job",
                     "attributes": {"profiles": {"data": [_profile()]}},
                     "relationships": relationships}}
    return Sent("POST", "/api/profile-bulk-import-jobs", {}, GOOD_HEADERS,
                json.dumps(body).encode())


def _create(body: bytes) -> Sent:
    return Sent("POST", "/api/profiles", {}, GOOD_HEADERS, body)


@BOUNDED
@given(requests())
@example(_import_job({"lists": [1]}))
@example(_import_job({"lists": {"data": 5}}))
@example(_import_job([]))
@example(_create(b"[" * 100_000 + b"]" * 100_000))
@example(_create(b'{"data": {"type": "profile", "attributes": {"email": "x@y.com", '
                 b'"properties": {"score": NaN}}}}'))
@example(_create(b'{"data": {"type": "profile", "attributes": {"email": "x@y.com", '
                 b'"location": {"latitude": 1e999}}}}'))
@example(Sent("GET", "/api/profiles", {"filter": "equals(id," + "[" * 3000 + "]" * 3000 + ")"},
              GOOD_HEADERS, b""))
@example(Sent("GET", "/api/lists", {"filter": "and(" * 1500 + 'equals(name,"x")' + ")" * 1500},
              GOOD_HEADERS, b""))
def test_any_request_gets_a_json_api_answer(sent: Sent) -> None:
    _assert_answer(asyncio.run(_send(sent)))


BODY_ROUTES = [(method, path, valid) for method, path, valid in ROUTES if valid is not None]


@pytest.mark.parametrize(("method", "path", "valid"), BODY_ROUTES,
                         ids=[f"{m} {p}" for m, p, _ in BODY_ROUTES])
def test_damaged_bodies_get_a_json_api_answer(method: str, path: str, valid: Any) -> None:
    @PER_ROUTE
    @given(mutated(valid))
    def check(document: Any) -> None:
        body = json.dumps(document).encode()
        _assert_answer(asyncio.run(_send(Sent(method, path, {}, GOOD_HEADERS, body))))

    check()
