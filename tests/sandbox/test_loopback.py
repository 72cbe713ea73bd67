"""LoopbackServer over a real 127.0.0.1 socket, and `sandbox serve` end to end."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from core.loopback import LoopbackServer
from core.sandbox import Sandbox, SandboxCredentials, export_lines, serve_sandbox

from .conftest import FakeKlaviyo
from .test_sandbox import write_seed


async def echo(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/reset":
        raise httpx.ConnectError("down", request=request)
    if request.url.path == "/boom":
        raise RuntimeError("handler bug")
    return httpx.Response(200, json={
        "method": request.method, "path": request.url.path,
        "query": dict(request.url.params), "body": request.content.decode(),
        "x_test": request.headers.get("x-test"),
    }, headers={"X-Pagination": '{"current_Page": 1}'})


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    async with LoopbackServer(echo, max_body=1024) as running:
        yield running


async def test_round_trip_with_keep_alive(server: LoopbackServer) -> None:
    assert server.url.startswith("http://127.0.0.1:") and server.port > 0
    async with httpx.AsyncClient(base_url=server.url) as http:
        first = await http.post("/a/b?x=1&y=%C3%A9", content=b"hello", headers={"X-Test": "t"})
        second = await http.get("/again")
    assert first.json() == {"method": "POST", "path": "/a/b", "query": {"x": "1", "y": "é"},
                            "body": "hello", "x_test": "t"}
    assert first.headers["X-Pagination"] == '{"current_Page": 1}'
    assert second.json()["path"] == "/again"
    assert server.connections_accepted == 1  # both requests used one kept-alive connection


async def test_chunked_request_body(server: LoopbackServer) -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b"one,"
        yield b"two"

    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post("/chunks", content=parts())
    assert response.json()["body"] == "one,two"


async def test_body_over_the_limit_is_413(server: LoopbackServer) -> None:
    async def big() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"x" * 512

    async with httpx.AsyncClient(base_url=server.url) as http:
        declared = await http.post("/big", content=b"x" * 2048)
        assert declared.status_code == 413
        try:
            streamed = await http.post("/big", content=big())
        except httpx.TransportError:
            pass  # the server may close before the client has finished sending
        else:
            assert streamed.status_code == 413
        assert (await http.post("/ok", content=b"x" * 1024)).status_code == 200


async def test_transport_errors_drop_the_connection(server: LoopbackServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        with pytest.raises(httpx.TransportError):
            await http.get("/reset")
        assert (await http.get("/boom")).status_code == 500
        assert (await http.get("/fine")).status_code == 200


async def test_malformed_request_gets_400_and_expect_continue_works(
    server: LoopbackServer,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
    assert (await reader.read(1024)).startswith(b"HTTP/1.1 400")
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                 b"Expect: 100-continue\r\nConnection: close\r\n\r\n")
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 100")
    writer.write(b"hi")
    rest = await reader.read()
    assert rest.startswith(b"HTTP/1.1 200") and b'"body":"hi"' in rest.replace(b" ", b"")
    writer.close()


async def test_close_ends_open_connections(server: LoopbackServer) -> None:
    _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    await server.close()
    writer.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", server.port)


def test_export_lines_follow_design_order() -> None:
    creds = SandboxCredentials()
    lines = export_lines(creds, "http://127.0.0.1:8765/")
    assert [line.split("=")[0] for line in lines] == [
        "export KLAVIYO_BASE_URL", "export KLAVIYO_API_KEY", "export IPAAS_BASE_URL",
        "export IPAAS_API_TOKEN", "export IPAAS_SYSTEM_ID"]
    assert lines[0] == "export KLAVIYO_BASE_URL=http://127.0.0.1:8765"
    assert lines[1] == f"export KLAVIYO_API_KEY={creds.klaviyo_api_key}"


async def test_serve_sandbox_round_trip(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path, seed=write_seed(tmp_path / "seed.json"), klaviyo=FakeKlaviyo())
    ready: asyncio.Future[LoopbackServer] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve_sandbox(sandbox, ready=ready.set_result))
    server = await ready
    creds = sandbox.credentials
    assert creds.base_url == server.url
    env = dict(line.removeprefix("export ").split("=", 1) for line in
               export_lines(creds, server.url))
    auth = {"Authorization": f"Bearer {env['IPAAS_API_TOKEN']}"}
    async with httpx.AsyncClient(base_url=env["IPAAS_BASE_URL"], headers=auth) as http:
        got = await http.get("/customers/v2/Customer/101")
        link = await http.get(f"/customers/v2/External/LookupExternal/101/"
                              f"{env['IPAAS_SYSTEM_ID']}/customer")
        stored = await http.post("/customers/v2/External/UpdateExternalId", json={
            "table_name": "customer", "system_id": env["IPAAS_SYSTEM_ID"],
            "external_id": "01JVIASOCKET", "internal_id": "102"})
        api = await http.get("/api/profiles")
    assert got.json()["email_address"] == "ann@example.com"
    assert link.json() == "01JAAAAAAAAAAAAAAAAAAAAAAA"
    assert stored.status_code == 200 and api.status_code == 200
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    state = json.loads((tmp_path / "sandbox" / "state.json").read_text())
    assert {"system_id": env["IPAAS_SYSTEM_ID"], "table_name": "customer",
            "internal_id": "102", "external_id": "01JVIASOCKET"} in state["ipaas"]["links"]
