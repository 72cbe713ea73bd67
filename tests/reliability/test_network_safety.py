"""Issue 8 item 6: TLS always verified, credentials never over plain http except to loopback,
`listen` on loopback behind a shared secret, and request bodies capped."""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from console.cli import build_parser, main
from console.cli.listen import address
from core.clients.http import ApiError, RetryPolicy
from core.clients.ipaas import IpaasClient
from core.clients.klaviyo import KlaviyoClient
from core.config import Config, ConfigError
from core.engine.listen import MAX_HOOK_BODY, HookHandler
from core.loopback import DEFAULT_MAX_BODY, LoopbackServer
from tests.reliability.remote import ROOT, base_env

KEY = "pk_network0123456789abcdefghij"
TOKEN = "tok_network0123456789abcdefghij"
SECRET = "listen-network-secret-0123456789"
ONCE = RetryPolicy(max_attempts=1)

# ---- TLS ---------------------------------------------------------------------------------

SOURCES = [p for p in (ROOT / "core").rglob("*.py")] + [p for p in (ROOT / "console").rglob("*.py")]
NO_VERIFY = re.compile(
    r"verify\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False|_create_unverified_context"
    r"|PYTHONHTTPSVERIFY|ssl\._create_default_https_context")


def test_no_source_turns_certificate_checks_off() -> None:
    assert len(SOURCES) > 20
    offenders = [f"{p.relative_to(ROOT)}:{m.group(0)}" for p in SOURCES
                 for m in NO_VERIFY.finditer(p.read_text(encoding="utf-8"))]
    assert offenders == []


def _ssl_context(client: KlaviyoClient | IpaasClient) -> ssl.SSLContext:
    # httpx keeps the context on the connection pool of its default transport.
    transport = client._session._client._transport
    return transport._pool._ssl_context  # type: ignore[attr-defined,no-any-return]


async def test_both_clients_verify_certificates_and_host_names_and_never_follow_redirects() -> None:
    async with KlaviyoClient(KEY) as klaviyo, IpaasClient(TOKEN, "42") as ipaas:
        for client in (klaviyo, ipaas):
            context = _ssl_context(client)
            assert context.verify_mode is ssl.CERT_REQUIRED
            assert context.check_hostname is True
            assert context.minimum_version >= ssl.TLSVersion.TLSv1_2 or (
                context.minimum_version is ssl.TLSVersion.MINIMUM_SUPPORTED
                and ssl.OPENSSL_VERSION_INFO >= (1, 1, 1))
            assert client._session._client.follow_redirects is False


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed; the ssl-context checks above still ran")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


async def test_a_server_with_an_untrusted_certificate_gets_no_request_and_no_key(
        self_signed: tuple[Path, Path]) -> None:
    cert, key = self_signed
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    received: list[bytes] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            received.append(await reader.read(65536))
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
            await writer.drain()
        except (ssl.SSLError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        async with KlaviyoClient(KEY, base_url=f"https://127.0.0.1:{port}", retry=ONCE) as c:
            with pytest.raises(ApiError) as failure:
                await c.get_profile("01JGFJK6QFB96KRART17WEJVYY")
        assert failure.value.code == "connection_error"
        assert "CERTIFICATE_VERIFY_FAILED" in str(failure.value)
        assert not any(KEY.encode() in chunk for chunk in received)
    finally:
        server.close()
        await server.wait_closed()


# ---- plain http ----------------------------------------------------------------------------

REMOTE_HTTP = ["http://a.klaviyo.com", "http://example.com:8080", "http://10.0.0.5",
               "http://127.0.0.1.evil.example", "http://127.0.0.1@evil.example",
               "http://localhost.evil.example", "ftp://127.0.0.1", "http://[fe80::1]"]
LOOPBACK_HTTP = ["http://127.0.0.1:8765", "http://localhost:9", "http://[::1]:8080",
                 "http://127.5.6.7"]


@pytest.mark.parametrize("url", REMOTE_HTTP)
@pytest.mark.parametrize("variable", ["KLAVIYO_BASE_URL", "IPAAS_BASE_URL"])
def test_config_refuses_credentials_over_plain_http_to_anything_but_loopback(
        url: str, variable: str) -> None:
    env = {"KLAVIYO_API_KEY": KEY, "IPAAS_API_TOKEN": TOKEN, "IPAAS_SYSTEM_ID": "42",
           variable: url, "XDG_CONFIG_HOME": "/nonexistent"}
    with pytest.raises(ConfigError) as refused:
        Config.load(env=env)
    assert variable in str(refused.value)
    assert KEY not in str(refused.value) and TOKEN not in str(refused.value)


@pytest.mark.parametrize("url", LOOPBACK_HTTP)
def test_config_allows_plain_http_to_loopback(url: str) -> None:
    env = {"KLAVIYO_API_KEY": KEY, "IPAAS_API_TOKEN": TOKEN, "IPAAS_SYSTEM_ID": "42",
           "KLAVIYO_BASE_URL": url, "IPAAS_BASE_URL": url, "XDG_CONFIG_HOME": "/nonexistent"}
    config = Config.load(env=env)
    assert config.klaviyo_base_url == url.rstrip("/") and not config.sandbox


@pytest.mark.parametrize("url", REMOTE_HTTP)
def test_the_clients_themselves_refuse_plain_http_to_anything_but_loopback(url: str) -> None:
    with pytest.raises(ValueError, match="https"):
        KlaviyoClient(KEY, base_url=url)
    with pytest.raises(ValueError, match="https"):
        IpaasClient(TOKEN, "42", base_url=url)


def test_the_cli_says_so_in_one_line_and_exits_2(
        clean_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in (("KLAVIYO_API_KEY", KEY), ("IPAAS_API_TOKEN", TOKEN),
                        ("IPAAS_SYSTEM_ID", "42"), ("IPAAS_BASE_URL", "http://ipaas.example")):
        clean_env.setenv(name, value)
    code = main(["--state-dir", str(tmp_path), "push", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "plain http" in err and len(err.strip().splitlines()) == 1


# ---- listen -------------------------------------------------------------------------------


def test_listen_and_sandbox_serve_bind_loopback_by_default() -> None:
    # The flag defaults to None so [listen] host can decide; with neither, loopback.
    no_flags = build_parser().parse_args(["listen"])
    assert address(no_flags, Config(state_dir=Path("state")))[0] == "127.0.0.1"
    assert LoopbackServer(HookHandler(_never, SECRET)).host == "127.0.0.1"


async def _never(customer_id: str) -> object:
    raise AssertionError(f"nothing may be pushed, got {customer_id}")


@pytest.fixture
def listening(tmp_path: Path) -> Iterator[str]:
    """`klaviyo-console listen` in its own process on the sandbox; yields its URL."""
    env = {**base_env(tmp_path), "KLAVIYO_CONSOLE_LISTEN_SECRET": SECRET}
    process = subprocess.Popen(
        [sys.executable, "-m", "console", "--sandbox", "--state-dir", str(tmp_path / "s"),
         "listen", "--port", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stderr is not None
    url = None
    for line in process.stderr:
        found = re.search(r"listening on (http://\S+?)/? ", line)
        if found:
            url = found.group(1)
            break
    try:
        assert url is not None, "listen never said where it listens"
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0


def test_listen_rejects_missing_or_wrong_secrets_and_oversized_bodies(listening: str) -> None:
    assert httpx.URL(listening).host == "127.0.0.1"
    hook = {"id": "h1", "notifications": [{"scope": "customer/updated", "id": "55260"}]}
    with httpx.Client(base_url=listening, timeout=30) as client:
        assert client.post("/", json=hook).status_code == 401
        for wrong in (f"Bearer {SECRET}x", SECRET, f"Basic {SECRET}", "Bearer -",
                      f"bearer {SECRET[:-1]}"):
            answer = client.post("/", json=hook, headers={"Authorization": wrong})
            assert answer.status_code == 401, wrong
            assert SECRET not in answer.text
        auth = {"Authorization": f"Bearer {SECRET}"}
        big = b'{"notifications": [], "pad": "' + b"x" * MAX_HOOK_BODY + b'"}'
        assert client.post("/", content=big, headers=auth).status_code == 413
        huge = b"x" * (DEFAULT_MAX_BODY + 1)
        assert client.post("/", content=huge, headers=auth).status_code == 413
        assert client.post("/", content=huge).status_code == 413  # before any handler runs
        assert client.get("/", headers=auth).status_code == 405
        assert client.post("/", content=b"{not json", headers=auth).status_code == 400
        answer = client.post("/", json=hook, headers=auth)
        assert answer.status_code == 200 and answer.json()["results"][0]["id"] == "55260"


def test_a_listen_on_another_address_warns_that_it_is_plain_http(
        clean_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KLAVIYO_CONSOLE_LISTEN_SECRET", SECRET)

    async def refuse(self: LoopbackServer) -> None:
        raise OSError(99, "not binding in a test")

    monkeypatch.setattr(LoopbackServer, "start", refuse)
    code = main(["--sandbox", "--state-dir", str(tmp_path), "listen", "--host", "0.0.0.0",
                 "--port", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot listen on 0.0.0.0" in err
    assert "warning: listening on 0.0.0.0" in err and "plain http" in err
    assert SECRET not in err


# ---- body limits at the server -------------------------------------------------------------


async def _raw(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(65536), 10)
    except ConnectionError:
        return b""
    finally:
        writer.close()


async def test_the_loopback_server_caps_declared_chunked_and_header_sizes() -> None:
    seen: list[int] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(len(request.content))
        return httpx.Response(200, text="ok")

    async with LoopbackServer(handler, max_body=1000) as server:
        declared = await _raw(server.port, b"POST / HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Length: 1000000000\r\n\r\n")
        assert declared.startswith(b"HTTP/1.1 413")
        chunk = b"400\r\n" + b"x" * 0x400 + b"\r\n"
        chunked = await _raw(server.port, b"POST / HTTP/1.1\r\nHost: x\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n" + chunk * 3 + b"0\r\n\r\n")
        assert chunked.startswith(b"HTTP/1.1 413")
        headers = await _raw(server.port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: "
                             + b"y" * 100_000 + b"\r\n\r\n")
        assert headers == b"" or headers.split(b" ")[1][:1] == b"4"
        fine = await _raw(server.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000"
                          b"\r\n\r\n" + b"z" * 1000)
        assert fine.startswith(b"HTTP/1.1 200")
    assert seen == [1000]


def test_sandbox_serve_binds_loopback(tmp_path: Path) -> None:
    from tests.reliability.remote import serve

    seed = tmp_path / "seed.json"
    seed.write_text('{"customers": []}', encoding="utf-8")
    remote = serve(tmp_path / "remote", seed, base_env(tmp_path))
    try:
        host = httpx.URL(remote.exports["KLAVIYO_BASE_URL"]).host
        assert host == "127.0.0.1"
        port = httpx.URL(remote.exports["KLAVIYO_BASE_URL"]).port
        # Nothing answers on another address of this machine at that port.
        others = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None,
                                                       socket.AF_INET)} - {"127.0.0.1"}
        for address in others:
            with pytest.raises(OSError), socket.create_connection((address, port), timeout=2):
                pass
    finally:
        remote.stop()
