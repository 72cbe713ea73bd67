"""A tiny HTTP/1.1 server (asyncio + h11) that hands each request to an httpx-style handler.

It serves the sandbox on a loopback port (`sandbox serve`) and takes outbound notifications
(`listen`). Keep-alive, Content-Length and chunked request bodies, `Expect: 100-continue` and a
request body size limit (413) are handled here so handlers only see complete httpx.Requests.
A handler that raises an httpx.TransportError makes the server drop the connection with a TCP
reset, which is how an unreachable or flaky service looks to a client on the other side.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import socket
import struct
from collections.abc import Awaitable, Callable, Sequence

import h11
import httpx

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]

DEFAULT_MAX_BODY = 1024 * 1024
_READ_CHUNK = 64 * 1024
_HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"upgrade"}
)


class _PayloadTooLarge(Exception):
    """The request body is over the limit; answered with 413 and a closed connection."""


class LoopbackServer:
    """Serve `handler` over HTTP/1.1 on host:port (port 0 picks a free port at start())."""

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_body: int = DEFAULT_MAX_BODY,
        idle_timeout: float = 75.0,
    ) -> None:
        self._handler = handler
        self.host = host
        self.port = port
        self.max_body = max_body
        self.idle_timeout = idle_timeout
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.connections_accepted = 0

    @property
    def url(self) -> str:
        """The base URL clients use, e.g. http://127.0.0.1:8765."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and start accepting connections; `port` then holds the bound port."""
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        sockets = self._server.sockets
        if sockets:
            self.port = int(sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop accepting, drop open connections and wait for their tasks to end."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> LoopbackServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def serve_forever(self) -> None:
        """Run until cancelled."""
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    # ---------------------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_accepted += 1
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            await self._serve_connection(reader, writer)
        except (asyncio.CancelledError, ConnectionError, TimeoutError):
            pass
        finally:
            if task is not None:
                self._connections.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        conn = h11.Connection(h11.SERVER)
        while True:
            try:
                request = await self._read_request(conn, reader, writer)
            except _PayloadTooLarge:
                await self._send_simple(conn, writer, 413, "request body too large", close=True)
                return
            except h11.RemoteProtocolError as exc:
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    await self._send_simple(
                        conn, writer, exc.error_status_hint, "bad request", close=True
                    )
                return
            if request is None:
                return
            try:
                response = await self._handler(request)
                await response.aread()
            except httpx.TransportError:
                _reset(writer)
                return
            except Exception:
                await self._send_simple(conn, writer, 500, "internal server error", close=True)
                return
            await self._send_response(conn, writer, request.method, response)
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return
            try:
                conn.start_next_cycle()
            except h11.LocalProtocolError:
                return

    async def _next_event(
        self, conn: h11.Connection, reader: asyncio.StreamReader
    ) -> h11.Event | type[h11.PAUSED]:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                async with asyncio.timeout(self.idle_timeout):
                    data = await reader.read(_READ_CHUNK)
                conn.receive_data(data)
                continue
            return event  # type: ignore[return-value]

    async def _read_request(
        self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> httpx.Request | None:
        event = await self._next_event(conn, reader)
        if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
            return None
        if not isinstance(event, h11.Request):
            return None
        declared = _content_length(event.headers)
        if declared is not None and declared > self.max_body:
            raise _PayloadTooLarge
        if conn.they_are_waiting_for_100_continue:
            writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b"")
        body = bytearray()
        while True:
            part = await self._next_event(conn, reader)
            if isinstance(part, h11.Data):
                body += part.data
                if len(body) > self.max_body:
                    raise _PayloadTooLarge
            elif isinstance(part, h11.EndOfMessage):
                break
            else:
                return None
        target = event.target.decode("ascii", "replace")
        headers = [
            (name, value)
            for name, value in event.headers
            if name not in (b"transfer-encoding", b"content-length")
        ]
        return httpx.Request(
            event.method.decode("ascii"),
            f"{self.url}{target}",
            headers=headers,
            content=bytes(body),
        )

    async def _send_response(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        method: str,
        response: httpx.Response,
    ) -> None:
        body = response.content
        headers = [
            (name, value)
            for name, value in response.headers.raw
            if name.lower() not in _HOP_BY_HOP
        ]
        headers.append((b"content-length", str(len(body)).encode()))
        out = conn.send(
            h11.Response(status_code=response.status_code, headers=headers,
                         reason=_reason(response.status_code))
        ) or b""
        if body and method != "HEAD":
            out += conn.send(h11.Data(data=body)) or b""
        out += conn.send(h11.EndOfMessage()) or b""
        writer.write(out)
        await writer.drain()

    async def _send_simple(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        status: int,
        text: str,
        *,
        close: bool,
    ) -> None:
        body = text.encode()
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ]
        if close:
            headers.append((b"connection", b"close"))
        try:
            out = conn.send(h11.Response(status_code=status, headers=headers,
                                         reason=_reason(status))) or b""
            out += conn.send(h11.Data(data=body)) or b""
            out += conn.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError:
            return
        writer.write(out)
        with contextlib.suppress(ConnectionError):
            await writer.drain()


def _reason(status: int) -> bytes:
    """The standard reason phrase for the status line (e.g. b"Unauthorized"), or none."""
    try:
        return http.HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


def _content_length(headers: Sequence[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _reset(writer: asyncio.StreamWriter) -> None:
    # SO_LINGER 0 turns close() into a TCP RST: the client sees a connection reset.
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
