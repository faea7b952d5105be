"""``autopilot serve``: the HTTP transport — ThreadingHTTPServer, the request handler, graceful stop.

The request handling itself (routing, signatures, storage) is ``server.WebhookApp``;
this module only moves bytes between sockets and it, and logs each request.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .server import (
    SOCKET_TIMEOUT_SECONDS,
    Response,
    ServerError,
    WebhookApp,
    _error,
    access_log,
    log,
    loggable_path,
)

# --- HTTP transport --------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a proxy or client reuses connections
    server_version = "autopilot"
    sys_version = ""
    timeout = SOCKET_TIMEOUT_SECONDS
    disable_nagle_algorithm = True
    server: WebhookServer

    _started: float | None = None
    _request_bytes: int = 0

    def handle_one_request(self) -> None:
        self._started = None
        self._request_bytes = 0
        if not self.server.track_idle(self.connection):
            self.close_connection = True
            return
        super().handle_one_request()

    def parse_request(self) -> bool:
        self._started = time.perf_counter()
        if not self.server.track_busy(self.connection):
            # Closed by a graceful stop while this request was arriving: no reply possible.
            self.close_connection = True
            return False
        return super().parse_request()

    def handle_expect_100(self) -> bool:
        # Refuse an oversized body before the client sends it.
        length = _content_length(self.headers.get("Content-Length"))
        if length is not None and length > self.server.app.body_limit(self.command, self.path):
            self._send(_error(413, "payload too large", close=True))
            return False
        return super().handle_expect_100()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        app = self.server.app
        transfer_encoding = self.headers.get("Transfer-Encoding")
        raw_length = self.headers.get("Content-Length")
        if transfer_encoding is not None:
            # Chunked bodies are not read; both headers at once is a smuggling attempt.
            status, message = (400, "bad request") if raw_length is not None else (411, "Content-Length required")
            self._send(_error(status, message, close=True))
            return
        body = b""
        if raw_length is not None:
            length = _content_length(raw_length)
            if length is None:
                self._send(_error(400, "bad Content-Length", close=True))
                return
            if length > app.body_limit(self.command, self.path):
                self._send(_error(413, "payload too large", close=True))
                return
            body = self.rfile.read(length) if length else b""
            self._request_bytes = len(body)
            if len(body) != length:
                self.close_connection = True  # the client went away mid-body
                self._access(400, 0, {"reason": "incomplete body"})
                return
        elif self.command == "POST":
            self._send(_error(411, "Content-Length required", close=True))
            return
        try:
            response = app.handle(self.command, self.path, self.headers, body)
        except Exception:  # a bug must still answer, and never 200
            log.exception("internal error", extra={"fields": {"path": loggable_path(self.path)}})
            response = _error(500, "internal error")
        self._send(response)

    def _send(self, response: Response) -> None:
        if response.close or self.server.stopping:
            self.close_connection = True
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if response.body:
            self.wfile.write(response.body)
        self._access(response.status, len(response.body), response.log_fields)

    def _access(self, status: int, size: int, extra: dict[str, Any]) -> None:
        started = self._started or time.perf_counter()
        fields = {
            "method": self.command or "-",
            "path": loggable_path(getattr(self, "path", "") or "-"),
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "bytes": size,
            "request_bytes": self._request_bytes,
            "client": self.client_address[0] if self.client_address else "-",
            **extra,
        }
        access_log.info("request", extra={"fields": fields})

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The base class calls this for malformed requests; keep its default
        # HTML (which echoes parts of the request) and stderr line out.
        self.close_connection = True
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        self._send(_error(code, phrase.lower(), close=True))

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _access logs every response, in JSON, without query secrets

    def log_message(self, format: str, *args: Any) -> None:
        log.info("http: " + (format % args)[:200])


def _content_length(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


class WebhookServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that finishes in-flight requests on ``stop``."""

    daemon_threads = False  # server_close() joins request threads: in-flight requests finish
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: WebhookApp) -> None:
        self.app = app
        self.stopping = False
        self._tracking = threading.Lock()
        self._idle: set[socket.socket] = set()
        try:
            super().__init__(address, _Handler)
        except OSError as exc:
            raise ServerError(f"cannot listen on {address[0]}:{address[1]}: {exc.strerror or exc}") from None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def track_idle(self, sock: socket.socket) -> bool:
        """The connection waits for its next request; False when stopping (close it)."""
        with self._tracking:
            if self.stopping:
                return False
            self._idle.add(sock)
            return True

    def track_busy(self, sock: socket.socket) -> bool:
        """A request is arriving; False if a stop already closed this connection."""
        with self._tracking:
            if sock in self._idle:
                self._idle.discard(sock)
                return True
            return not self.stopping

    def close_idle_connections(self) -> None:
        with self._tracking:
            self.stopping = True
            idle, self._idle = self._idle, set()
        for sock in idle:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def shutdown_request(self, request: Any) -> None:
        with self._tracking:
            self._idle.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            log.debug("connection error", extra={"fields": {"error": type(exc).__name__}})
            return
        log.error("unhandled error in request thread", exc_info=True)

    def stop(self) -> None:
        """Stop accepting, close idle connections, wait for in-flight requests, release the database."""
        self.shutdown()
        self.close_idle_connections()
        self.server_close()
        self.app.close()


def serve_until_signalled(server: WebhookServer, on_ready: Callable[[WebhookServer], None] | None = None) -> int:
    """Serve in this (main) thread until SIGTERM or SIGINT, then stop gracefully; returns 0."""
    stopping = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        if not stopping.is_set():
            stopping.set()
            log.info("stopping", extra={"fields": {"signal": signal.Signals(signum).name}})
            # shutdown() waits for serve_forever() to return, so it runs in another thread.
            threading.Thread(target=server.shutdown, name="autopilot-shutdown", daemon=True).start()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if on_ready is not None:
            on_ready(server)
        server.serve_forever(poll_interval=0.2)
    finally:
        server.close_idle_connections()
        server.server_close()
        server.app.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("stopped", extra={"fields": {}})
    return 0
