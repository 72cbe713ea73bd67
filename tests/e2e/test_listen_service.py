"""`listen` as a service: its address from the config, its log, other systems, concurrency."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from console.cli.listen import DEFAULT_HOST, DEFAULT_PORT, address
from core.config import Config
from core.engine import PushResult
from core.engine.listen import HookHandler
from core.loopback import LoopbackServer
from core.model import Plan
from tests.reliability.remote import ROOT, base_env

SECRET = "s3cret-hook-token"
AUTH = {"Authorization": f"Bearer {SECRET}"}


def _ns(port: int | None = None, host: str | None = None) -> argparse.Namespace:
    return argparse.Namespace(port=port, host=host)


def test_config_port_and_host_are_used_when_the_command_line_is_silent() -> None:
    config = Config(state_dir=Path("state"), listen_port=9123, listen_host="0.0.0.0")
    assert address(_ns(), config) == ("0.0.0.0", 9123)


def test_command_line_wins_over_the_config() -> None:
    config = Config(state_dir=Path("state"), listen_port=9123, listen_host="0.0.0.0")
    assert address(_ns(port=9001, host="127.0.0.1"), config) == ("127.0.0.1", 9001)


def test_built_in_defaults_without_config_or_flags() -> None:
    assert address(_ns(), Config(state_dir=Path("state"))) == (DEFAULT_HOST, DEFAULT_PORT)


def test_listen_flags_default_to_none_so_the_config_can_decide() -> None:
    from console.cli import build_parser

    ns = build_parser().parse_args(["listen"])
    assert ns.port is None and ns.host is None


class FakePushes:
    """Pushes that take a while and count how many run at once."""

    def __init__(self, delay: float = 0.02) -> None:
        self.delay = delay
        self.running = 0
        self.most = 0
        self.order: list[str] = []

    async def __call__(self, customer_id: str) -> PushResult:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(self.delay)
            self.order.append(customer_id)
        finally:
            self.running -= 1
        return PushResult(plan=cast(Plan, None), ok=True, profile_id=f"P{customer_id}")


def _hook(*notes: dict[str, Any]) -> dict[str, Any]:
    return {"id": "hook-7", "attempt": 0, "notifications": list(notes)}


def _note(cid: str, destination: str | None = "4242") -> dict[str, Any]:
    note = {"action": "updated", "id": cid, "scope": "customer/updated"}
    if destination is not None:
        note["destination"] = destination
    return note


async def _post(handler: HookHandler, body: dict[str, Any],
                headers: dict[str, str] | None = None) -> httpx.Response:
    request = httpx.Request("POST", "http://listen.test/v2/iPaaS", json=body,
                            headers=headers or {})
    return await handler(request)


async def test_rejected_request_is_logged_without_the_secret(
        caplog: pytest.LogCaptureFixture) -> None:
    handler = HookHandler(FakePushes(), SECRET)
    caplog.set_level(logging.INFO, logger="core.engine.listen")
    wrong = await _post(handler, _hook(_note("1")),
                        {"Authorization": "Bearer my-old-secret-value",
                         "X-Forwarded-For": "203.0.113.9"})
    missing = await _post(handler, _hook(_note("1")))
    assert wrong.status_code == missing.status_code == 401
    text = caplog.text
    assert "401 wrong bearer token" in text and "203.0.113.9" in text
    assert "401 missing bearer token" in text
    assert "my-old-secret-value" not in text and SECRET not in text


async def test_accepted_hook_and_each_result_are_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    handler = HookHandler(FakePushes(), SECRET)
    caplog.set_level(logging.INFO, logger="core.engine.listen")
    answer = await _post(handler, _hook(_note("5")), AUTH)
    assert answer.status_code == 200
    assert "hook hook-7 accepted" in caplog.text
    assert "customer/updated 5: ok → profile P5" in caplog.text
    assert SECRET not in caplog.text


async def test_notification_for_another_system_is_ignored_with_a_reason(
        caplog: pytest.LogCaptureFixture) -> None:
    pushes = FakePushes()
    handler = HookHandler(pushes, SECRET, system_id="4242")
    caplog.set_level(logging.INFO, logger="core.engine.listen")
    answer = await _post(handler, _hook(_note("1", "9999"), _note("2", "4242"),
                                        _note("3", None)), AUTH)
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["ignored", "ok", "ok"]
    assert "destination 9999 is another system" in results[0]["reason"]
    assert "destination 9999 is another system" in caplog.text
    assert sorted(pushes.order) == ["2", "3"]


async def test_notifications_of_one_hook_run_concurrently_within_a_bound() -> None:
    pushes = FakePushes()
    handler = HookHandler(pushes, SECRET, max_concurrent=4)
    ids = [str(n) for n in range(20)]
    answer = await _post(handler, _hook(*(_note(cid) for cid in ids)), AUTH)
    results = answer.json()["results"]
    assert [r["id"] for r in results] == ids  # answers keep the hook's order
    assert all(r["status"] == "ok" for r in results)
    assert 1 < pushes.most <= 4


async def test_notifications_for_one_customer_are_not_pushed_at_once() -> None:
    pushes = FakePushes()
    handler = HookHandler(pushes, SECRET)
    await _post(handler, _hook(_note("8"), _note("8"), _note("8")), AUTH)
    assert pushes.most == 1 and pushes.order == ["8", "8", "8"]


async def _status_line(server: LoopbackServer, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(request)
        await writer.drain()
        return (await reader.readline()).rstrip(b"\r\n")
    finally:
        writer.close()


async def test_status_lines_carry_their_reason_phrase() -> None:
    server = LoopbackServer(HookHandler(FakePushes(), SECRET))
    await server.start()
    try:
        unauthorized = await _status_line(
            server, b"POST /v2/iPaaS HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        ok = await _status_line(
            server, b"POST /v2/iPaaS HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + SECRET.encode() + b"\r\nContent-Length: 20\r\n\r\n" + b'{"notifications":[]}')
        too_large = await _status_line(
            server, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n")
    finally:
        await server.close()
    assert unauthorized == b"HTTP/1.1 401 Unauthorized"
    assert ok == b"HTTP/1.1 200 OK"
    # The phrase for 413 changed across Python versions ("Payload" / "Content Too Large").
    assert too_large.startswith(b"HTTP/1.1 413 ") and too_large.endswith(b"Too Large")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_service_binds_the_config_port_and_logs_to_the_log_file(tmp_path: Path) -> None:
    port = _free_port()
    config_dir = tmp_path / "xdg-config" / "klaviyo-console"
    config_dir.mkdir(parents=True)
    config_file = config_dir / "config.toml"
    config_file.write_text(f'[listen]\nsecret = "{SECRET}"\nport = {port}\n', encoding="utf-8")
    config_file.chmod(0o600)
    state = tmp_path / "state"
    process = subprocess.Popen(
        [sys.executable, "-m", "console", "--sandbox", "--state-dir", str(state), "listen"],
        env=base_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=ROOT)
    assert process.stderr is not None
    try:
        said = ""
        for line in process.stderr:  # the CLI says where it listens on stderr
            if "listening on" in line:
                said = line
                break
        assert f"listening on http://127.0.0.1:{port}/" in said
        url = f"http://127.0.0.1:{port}"
        hook = {"id": "hook-9", "notifications": [
            {"scope": "customer/updated", "id": "55260", "destination": "9999"}]}
        with httpx.Client(base_url=url, timeout=30) as client:
            assert client.post("/v2/iPaaS", json=hook,
                               headers={"Authorization": "Bearer guessed"}).status_code == 401
            answer = client.post("/v2/iPaaS", json=hook, headers=AUTH)
        assert answer.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0
    text = (state / "logs" / "klaviyo-console.log").read_text(encoding="utf-8")
    assert "401 wrong bearer token" in text
    assert "hook hook-9 accepted" in text
    assert f"listening on http://127.0.0.1:{port}" in text
    assert "guessed" not in text and SECRET not in text
