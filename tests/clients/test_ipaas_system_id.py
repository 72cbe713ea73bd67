"""A system id iPaaS.com does not know is a configuration error, and `verify` says so."""

from __future__ import annotations

import httpx
import pytest

from core.clients.checks import CheckStatus
from core.clients.errors import SystemIdError
from core.clients.http import ApiError, RetryPolicy
from core.clients.ipaas import IpaasClient
from core.model import ErrorKind
from core.sandbox.ipaas import ErrorShape, IpaasEmulator, IpaasOptions
from tests.clients.fakes import TOKEN, Recorder, VirtualClock

SYSTEM = "4242"
ONCE = RetryPolicy(max_attempts=1)


def _emulator(shape: ErrorShape = ErrorShape.FLAT) -> IpaasEmulator:
    emulator = IpaasEmulator(token=TOKEN, system_id=SYSTEM,
                             options=IpaasOptions(error_shape=shape))
    emulator.seed([{"id": 55261, "email_address": "bob@example.com"}],
                  {"55261": "01JPROFILEBOB0000000000000"})
    return emulator


def _client(transport: httpx.AsyncBaseTransport, system_id: str = SYSTEM,
            token: str = TOKEN) -> IpaasClient:
    clock = VirtualClock()
    return IpaasClient(token, system_id, transport=transport, clock=clock, sleep=clock.sleep,
                       retry=ONCE)


@pytest.mark.parametrize("shape", list(ErrorShape))
async def test_a_mistyped_system_id_is_a_configuration_error_not_not_linked(
    shape: ErrorShape,
) -> None:
    emulator = _emulator(shape)
    async with _client(httpx.MockTransport(emulator.handle), system_id="4243") as client:
        with pytest.raises(SystemIdError) as caught:
            await client.lookup_link("55261")
    error = caught.value
    message = str(error)
    assert "IPAAS_SYSTEM_ID" in message and "[ipaas] system_id" in message
    assert "'4243'" in message and "https://api.ipaas.com" in message
    assert "VALD-1023" in message
    assert error.kind is ErrorKind.AUTH and error.configuration and not error.transient
    assert isinstance(error, ApiError)  # existing handlers of ApiError still catch it


async def test_the_right_system_id_still_reads_links() -> None:
    emulator = _emulator()
    async with _client(httpx.MockTransport(emulator.handle)) as client:
        assert await client.lookup_link("55261") == "01JPROFILEBOB0000000000000"
        assert await client.lookup_link("99999") is None


async def test_storing_a_link_under_an_unknown_system_id_is_refused() -> None:
    emulator = _emulator()
    async with _client(httpx.MockTransport(emulator.handle), system_id="4243") as client:
        with pytest.raises(SystemIdError):
            await client.store_link("55261", "01JOTHER")
    assert emulator.link_of("55261") == "01JPROFILEBOB0000000000000"


@pytest.mark.parametrize("body", [
    {"code": "VALD-1017", "message": "Invalid System Id"},
    {"errors": [{"code": "VALD-1023", "message": "System Id is not valid"}]},
])
async def test_either_reference_code_is_recognised(body: dict[str, object]) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json=body)

    async with _client(Recorder(handler).transport) as client:
        with pytest.raises(SystemIdError):
            await client.lookup_link("55261")


async def test_other_validation_errors_stay_plain_api_errors() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"code": "VALD-1010", "message": "table_name is required"})

    async with _client(Recorder(handler).transport) as client:
        with pytest.raises(ApiError) as caught:
            await client.store_link("55261", "01J")
    assert not isinstance(caught.value, SystemIdError)


async def test_verify_passes_token_and_system_id() -> None:
    emulator = _emulator()
    async with _client(httpx.MockTransport(emulator.handle)) as client:
        results = await client.verify()
    assert [(r.item, r.status) for r in results] == [
        ("iPaaS.com reachable", CheckStatus.PASS),
        ("iPaaS.com token", CheckStatus.PASS),
        ("iPaaS.com system id", CheckStatus.PASS),
    ]
    assert all(r.ok for r in results)


async def test_verify_fails_an_unknown_system_id_with_the_fix() -> None:
    emulator = _emulator()
    async with _client(httpx.MockTransport(emulator.handle), system_id="4243") as client:
        results = await client.verify()
    system = results[-1]
    assert system.status is CheckStatus.FAIL
    assert "IPAAS_SYSTEM_ID" in system.fix
    assert [r.status for r in results[:2]] == [CheckStatus.PASS, CheckStatus.PASS]
    assert system.to_json()["status"] == "fail"


async def test_verify_fails_a_refused_token_and_skips_the_system_id() -> None:
    emulator = _emulator()
    async with _client(httpx.MockTransport(emulator.handle), token="not-the-token") as client:
        results = await client.verify()
    assert [r.status for r in results] == [CheckStatus.PASS, CheckStatus.FAIL, CheckStatus.WARN]
    assert "IPAAS_API_TOKEN" in results[1].fix
    assert "not-the-token" not in " ".join(r.detail + r.fix for r in results)


async def test_verify_fails_an_unreachable_base_url_naming_it() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused")

    async with _client(Recorder(handler).transport) as client:
        results = await client.verify()
    assert [r.status for r in results] == [CheckStatus.FAIL, CheckStatus.WARN, CheckStatus.WARN]
    assert "https://api.ipaas.com" in results[0].detail
    assert "IPAAS_BASE_URL" in results[0].fix
