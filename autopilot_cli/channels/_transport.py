"""The httpx transport the HTTP adapters send through: httpx's own, minus two costs that matter at volume.

httpx's default transport spends most of a loopback request's time in two places
(profiled in ``benchmarks/bench_execute_e2e.py``):

- **anyio.** Every read, write and "is this idle connection still open?" check
  goes through anyio's cancel scopes and typed attributes; the last one is a
  ``poll()`` system call per pooled connection per request. ``AsyncioStream``
  speaks to asyncio streams directly and answers "still open?" from the bytes
  asyncio has already read, or one ``poll()`` of that connection's socket (an
  idle HTTP/1.1 connection with data waiting, or at end of file, has been
  closed by the server or is about to be).
- **Pool assignment.** httpcore's pool matches queued requests to connections
  by scanning all of them for every request, so its cost grows with the square
  of the concurrency: 50 connections were slower than 10. ``ShardedTransport``
  keeps one single-connection httpcore pool per connection (each keeps its own
  keep-alive, expiry and reconnection logic) and hands each request to the
  least busy one.

Everything else is httpx and httpcore as they are: h11 for HTTP/1.1, the same
TLS context (``httpx.create_ssl_context``: certifi, verification on), the same
timeouts (from each request's extensions) and the same exception classes, which
``_http.post_json`` maps to safe-to-retry or ambiguous outcomes. Proxies are
not handled here: ``new_client`` keeps httpx's stock transport when the
environment names one.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpcore
import httpx

# httpcore's exception → httpx's, most specific first (the table httpx's own transport uses).
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.RequestError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


def _socket_readable(sock: Any) -> bool:
    if sock is None or sock.fileno() < 0:
        return True
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])  # Windows


@contextlib.contextmanager
def _httpx_errors(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core, mapped in _EXCEPTIONS:
            if isinstance(exc, core):
                raise mapped(str(exc), request=request) from exc
        raise


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One TCP (or TLS) connection on asyncio streams."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout("timed out reading the response") from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except TimeoutError as exc:
            raise httpcore.WriteTimeout("timed out writing the request") from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc

    async def aclose(self) -> None:
        self._writer.close()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError as exc:
            self._writer.close()
            raise httpcore.ConnectTimeout("timed out in the TLS handshake") from exc
        except (OSError, ssl.SSLError) as exc:  # ssl.SSLError is an OSError; named for the reader
            self._writer.close()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # On an idle HTTP/1.1 connection, anything to read means the server closed it (or is
            # closing it). asyncio may already hold it; if the loop was blocked (a database commit
            # between two waves) only the socket knows yet — one poll() on this one connection.
            return (self._reader.at_eof() or bool(getattr(self._reader, "_buffer", b""))
                    or _socket_readable(self._writer.get_extra_info("socket")))
        names = {"ssl_object": "ssl_object", "client_addr": "sockname", "server_addr": "peername",
                 "socket": "socket"}
        return self._writer.get_extra_info(names[info]) if info in names else None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, local_addr=(local_address, 0) if local_address else None)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"timed out connecting to {host}:{port}") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        for option in socket_options or ():
            writer.get_extra_info("socket").setsockopt(*option)
        return AsyncioStream(reader, writer)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not supported by this transport")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _Released(httpx.AsyncByteStream):
    """The response body; closing it (httpx always does) frees its connection's slot."""

    def __init__(self, stream: Any, request: httpx.Request, release: Any) -> None:
        self._stream, self._request, self._release = stream, request, release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors(self._request):
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        try:
            with _httpx_errors(self._request):
                await self._stream.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


class ShardedTransport(httpx.AsyncBaseTransport):
    """``connections`` single-connection httpcore pools; each request goes to the least busy one."""

    def __init__(self, connections: int, *, keepalive_expiry: float = 5.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._pools: list[httpcore.AsyncConnectionPool | None] = [None] * max(1, connections)
        self._busy = [0] * len(self._pools)
        self._backend = AsyncioBackend()

    def _pool(self, index: int) -> httpcore.AsyncConnectionPool:
        pool = self._pools[index]
        if pool is None:
            if self._ssl_context is None:  # loading the CA bundle takes ~20 ms: only once, only when sending
                self._ssl_context = httpx.create_ssl_context()
            pool = self._pools[index] = httpcore.AsyncConnectionPool(
                ssl_context=self._ssl_context, max_connections=1, max_keepalive_connections=1,
                keepalive_expiry=self._keepalive_expiry, network_backend=self._backend)
        return pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = min(range(len(self._busy)), key=self._busy.__getitem__)
        self._busy[index] += 1

        def release() -> None:
            self._busy[index] -= 1

        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host, port=request.url.port,
                             target=request.url.raw_path),
            headers=request.headers.raw, content=request.stream, extensions=request.extensions)
        try:
            with _httpx_errors(request):
                response = await self._pool(index).handle_async_request(core_request)
        except BaseException:
            release()
            raise
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_Released(response.stream, request, release), extensions=response.extensions)

    async def aclose(self) -> None:
        for pool in self._pools:
            if pool is not None:
                await pool.aclose()
