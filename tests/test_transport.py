"""The HTTP adapters' transport (``channels/_transport.py``) against real loopback servers: keep-alive,
a server closing idle connections, bounded connections, TLS with verification, timeouts, proxies."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import trustme

from autopilot_cli.channels._base import HttpOptions
from autopilot_cli.channels._http import new_client
from autopilot_cli.channels._transport import ShardedTransport

BODY = b'{"messages":[{"id":"wamid.1"}]}'


class RawServer:
    """HTTP/1.1 on a loopback socket, one thread per connection; counts connections and requests.

    ``close_after`` answers that many requests on a connection, then closes it without saying so
    (no ``Connection: close``), as a provider's load balancer does with idle keep-alive connections.
    """

    def __init__(self, *, close_after: int = 0, delay: float = 0.0, tls: ssl.SSLContext | None = None) -> None:
        self.close_after, self.delay, self.tls = close_after, delay, tls
        self.connections = 0
        self.requests: list[bytes] = []
        self.open_now = 0
        self.most_open = 0
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with self._lock:
            self.connections += 1
            self.open_now += 1
            self.most_open = max(self.most_open, self.open_now)
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            reader = conn.makefile("rb")
            answered = 0
            while True:
                line = reader.readline()
                if not line:
                    return
                length = 0
                while (header := reader.readline()) not in (b"\r\n", b""):
                    if header.lower().startswith(b"content-length:"):
                        length = int(header.split(b":")[1])
                reader.read(length)
                with self._lock:
                    self.requests.append(line)
                time.sleep(self.delay)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(BODY), BODY))
                answered += 1
                if self.close_after and answered >= self.close_after:
                    return
        except (OSError, ssl.SSLError):
            return
        finally:
            with self._lock:
                self.open_now -= 1
            conn.close()

    def url(self, scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}/v21.0/1064/messages"

    def stop(self) -> None:
        self._sock.close()


@pytest.fixture
def server() -> Iterator[RawServer]:
    srv = RawServer()
    yield srv
    srv.stop()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_sequential_requests_share_one_keep_alive_connection(server: RawServer) -> None:
    async def go() -> list[int]:
        async with httpx.AsyncClient(transport=ShardedTransport(5)) as client:
            return [(await client.post(server.url(), content=b"{}")).status_code for _ in range(10)]

    assert run(go()) == [200] * 10
    assert server.connections == 1 and len(server.requests) == 10


def test_concurrent_requests_stay_within_the_connection_bound(server: RawServer) -> None:
    server.delay = 0.02

    async def go() -> list[dict]:
        async with httpx.AsyncClient(transport=ShardedTransport(4)) as client:
            responses = await asyncio.gather(*(client.post(server.url(), content=b"{}") for _ in range(20)))
            return [r.json() for r in responses]

    assert run(go()) == [{"messages": [{"id": "wamid.1"}]}] * 20
    assert server.most_open <= 4 and server.connections == 4  # all four used, none opened twice


def test_a_connection_the_server_closed_while_idle_is_replaced_not_reused() -> None:
    """The close arrives while the event loop is blocked (a database commit between two waves):
    reusing the dead connection would fail the next send as "may have been sent"."""
    srv = RawServer(close_after=1)

    async def go() -> list[int]:
        async with httpx.AsyncClient(transport=ShardedTransport(1)) as client:
            codes = []
            for _ in range(3):
                codes.append((await client.post(srv.url(), content=b"{}")).status_code)
                time.sleep(0.1)  # noqa: ASYNC251 — blocks the loop on purpose: asyncio has not seen the server's FIN yet
            return codes

    try:
        assert run(go()) == [200, 200, 200]
        assert srv.connections == 3
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def tls_server(ca: trustme.CA) -> RawServer:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return RawServer(tls=context)


def test_tls_with_a_trusted_certificate(ca: trustme.CA) -> None:
    srv = tls_server(ca)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)

    async def go() -> int:
        async with httpx.AsyncClient(transport=ShardedTransport(2, ssl_context=client_context)) as client:
            return (await client.post(srv.url("https", "localhost"), content=b"{}")).status_code

    try:
        assert run(go()) == 200 and len(srv.requests) == 1
    finally:
        srv.stop()


def test_tls_verification_is_on_by_default(ca: trustme.CA) -> None:
    srv = tls_server(ca)  # signed by a CA the default (certifi) context does not trust

    async def go() -> None:
        async with new_client(HttpOptions(connections=2)) as client:
            await client.post(srv.url("https", "localhost"), content=b"{}")

    try:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            run(go())
        assert srv.requests == []  # nothing was sent over an unverified connection
    finally:
        srv.stop()


def test_timeouts_and_refusals_raise_httpx_classes(server: RawServer) -> None:
    server.delay = 1.0
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    refused_url = f"http://127.0.0.1:{closed.getsockname()[1]}/x"
    closed.close()

    async def go() -> tuple[type, type]:
        async with httpx.AsyncClient(transport=ShardedTransport(2), timeout=httpx.Timeout(0.2)) as client:
            errors = []
            for url in (server.url(), refused_url):
                try:
                    await client.post(url, content=b"{}")
                except httpx.HTTPError as exc:
                    errors.append(type(exc))
            return tuple(errors)

    assert run(go()) == (httpx.ReadTimeout, httpx.ConnectError)


def test_new_client_keeps_httpx_proxy_support(server: RawServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a proxy in the environment the request goes to the proxy (here: a loopback recorder)."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    async def go() -> int:
        async with new_client(HttpOptions(connections=2)) as client:
            return (await client.post("http://graph.invalid/v21.0/1064/messages", content=b"{}")).status_code

    assert run(go()) == 200
    assert server.requests == [b"POST http://graph.invalid/v21.0/1064/messages HTTP/1.1\r\n"]


def test_the_configured_timeouts_reach_the_adapters_client(server: RawServer, tmp_path: Any) -> None:
    from autopilot_cli.channels import Outcome, Outgoing, Registry
    from autopilot_cli.clock import FixedClock
    from autopilot_cli.config import config_from_dict
    from autopilot_cli.secrets import Secrets

    from .conftest import NOW

    server.delay = 2.0
    config = config_from_dict({
        "execute": {"send_timeout_seconds": 0.3},
        "channels": {"whatsapp": {"adapter": "whatsapp", "base_url": f"http://127.0.0.1:{server.port}/v21.0",
                                  "phone_number_id": "1064", "token_env": "WA_TOKEN"}}})
    registry = Registry(
        config, Secrets({"WA_TOKEN": "EAAG-test-token-0123456789"}), str(tmp_path / "x.db"), FixedClock(NOW)
    )
    message = Outgoing(job_id=1, send_key="k1", channel="whatsapp", recipient="+4915123456789", text="Hi")

    async def go() -> Any:
        adapter = registry.get("whatsapp")
        try:
            return await adapter.send(message)
        finally:
            await registry.aclose()

    # The server answers after 2 s: under the default 30 s timeout this send would succeed, so a read
    # timeout shows that the configured 0.3 s reached the client (no wall-clock bound needed).
    result = run(go())
    assert result.outcome is Outcome.AMBIGUOUS and "ReadTimeout" in result.error
