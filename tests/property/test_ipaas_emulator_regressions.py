"""Inputs that once crashed the iPaaS.com emulator: each now gets a clean 4xx answer."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

from hypothesis import example, given
from hypothesis import strategies as st

from core.sandbox.ipaas import ErrorShape
from tests.property.strategies import BOUNDED
from tests.property.test_ipaas_emulator import LINK, TOKEN, Sent, _assert_answer, _send

H = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}


@BOUNDED
@given(st.sampled_from(["²", "³", "¹", "9" * 5000]),
       st.sampled_from(["lookup", "missing", "spaceport", "update"]))
def test_ipaas_emulator_system_id_that_int_refuses(system_id: str, route: str) -> None:
    path = {
        "lookup": f"/customers/v2/External/LookupExternal/55260/{quote(system_id)}/customer",
        "missing": f"/customers/v2/External/Missing/{quote(system_id)}/customer",
        "spaceport": f"/customers/v2/External/LookupSpaceport/{quote(system_id)}/customer/x",
        "update": "/customers/v2/External/UpdateExternalId",
    }[route]
    body = json.dumps({**LINK, "system_id": system_id}).encode() if route == "update" else b""
    sent = Sent("POST" if route == "update" else "GET", path, [], H, body)
    _assert_answer(asyncio.run(_send(sent, ErrorShape.FLAT)))


@BOUNDED
@given(st.sampled_from(["/customers/v2/Customer", "/customers/v2/Customer/55260",
                        "/customers/v2/External/UpdateExternalId", "/sso/v2/auth/login"]),
       st.integers(min_value=5_000, max_value=100_000))
@example("/customers/v2/Customer", 100_000)
def test_ipaas_emulator_deeply_nested_body(path: str, depth: int) -> None:
    method = "PUT" if path.endswith("55260") else "POST"
    sent = Sent(method, path, [], H, b"[" * depth + b"]" * depth)
    _assert_answer(asyncio.run(_send(sent, ErrorShape.FLAT)))


@BOUNDED
@given(st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e999"]))
def test_ipaas_emulator_stores_non_json_numbers(number: bytes) -> None:
    sent = Sent("PUT", "/customers/v2/Customer/55260", [], H,
                b'{"first_name": "Ann", "comment": "x", "score": ' + number + b"}")
    _assert_answer(asyncio.run(_send(sent, ErrorShape.FLAT)))


@BOUNDED
@given(st.text(min_size=1, max_size=8).filter(lambda s: not s.isascii()))
def test_ipaas_emulator_non_ascii_password(password: str) -> None:
    body = json.dumps({"email_address": "op@example.com", "password": password}).encode()
    sent = Sent("POST", "/sso/v2/auth/login", [], {"Content-Type": "application/json"}, body)
    _assert_answer(asyncio.run(_send(sent, ErrorShape.FLAT)))
