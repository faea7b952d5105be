"""``autopilot serve``: the HTTP transport — ThreadingHTTPServer, the request handler, graceful stop.

The request handling itself (routing, signatures, storage) is ``server.WebhookApp``;
this module only moves bytes between sockets and it, and logs each request.

Hostile clients (README "autopilot serve", "Limits"):

- **Bounded connections.** One thread per connection, at most
  ``[server] max_connections`` of them; a connection over the limit gets a
  canned 503 and is closed by the accepting thread at once, so a flood of
  connections (slowloris with thousands of sockets) costs neither threads nor
  memory, and the server serves again as soon as the flood's sockets go.
- **Deadlines, not per-read timeouts.** A per-``recv`` timeout is reset by
  every byte, so a client sending one byte every few seconds would hold a
  thread for ever. ``_DeadlineReader`` gives each phase one deadline: the
  request line and headers (``header_timeout_seconds``, from the request's
  first byte — or from the accept, for a new connection that sends nothing),
  the body (``body_timeout_seconds``) and the wait for the next request on a
  keep-alive connection (``idle_timeout_seconds``).
- **Only complete, unambiguous requests are dispatched.** Headers that end in
  EOF instead of a blank line, header lines the parser could not read (a
  space before the colon, obs-fold), more than one ``Content-Length``, a
  ``Transfer-Encoding`` and HTTP/0.9 get 400 and the connection is closed —
  a proxy in front might frame such a request differently (request smuggling).
"""

from __future__ import annotations

import io
import logging
import math
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.errors import HeaderDefect, MissingHeaderBodySeparatorDefect
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ._app import SOCKET_TIMEOUT_SECONDS, Response, ServerError, WebhookApp, _error, access_log, log, loggable_path

# --- HTTP transport --------------------------------------------------------------------------

REFUSAL_LOG_SECONDS = 10.0
_DIGITS = re.compile(r"[0-9]{1,18}")  # int() of a 5,000-digit header would raise; 18 digits fit in int64
_BUSY_BODY = b'{"error":"too many open connections"}'
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
         b"Content-Length: %d\r\nRetry-After: 5\r\nConnection: close\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY))


@dataclass(frozen=True)
class ConnectionLimits:
    """``[server]`` settings for client connections (see ``config.ServerSection``)."""

    max_connections: int = 256
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    idle_timeout: float = SOCKET_TIMEOUT_SECONDS


class _DeadlineReader(io.RawIOBase):
    """Socket reads against one deadline per phase (idle, headers, body), not per ``recv``.

    ``readinto`` sets the socket's timeout to what is left of the deadline, so a
    client dribbling a byte at a time cannot extend it. It also notes EOF, which
    tells a request whose headers never ended from one that did.
    """

    def __init__(self, sock: socket.socket, header_timeout: float) -> None:
        super().__init__()
        self.sock = sock
        self.header_timeout = header_timeout
        self.phase = "headers"
        self.deadline = time.monotonic() + header_timeout
        self.eof = False

    def readable(self) -> bool:
        return True

    def start(self, phase: str, seconds: float) -> None:
        self.phase = phase
        self.deadline = time.monotonic() + seconds if seconds != math.inf else math.inf
        self.eof = False

    def readinto(self, buffer: Any) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"{self.phase} not received in time")
        self.sock.settimeout(None if remaining == math.inf else remaining)
        try:
            n = self.sock.recv_into(buffer)
        except TimeoutError:
            raise TimeoutError(f"{self.phase} not received in time") from None
        if n == 0:
            self.eof = True
        elif self.phase == "idle":
            # The next request has begun: its headers get their own deadline from now.
            self.start("headers", self.header_timeout)
        return n


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a proxy or client reuses connections
    server_version = "autopilot"
    sys_version = ""
    timeout = SOCKET_TIMEOUT_SECONDS
    disable_nagle_algorithm = True
    server: WebhookServer

    _started: float | None = None
    _request_bytes: int = 0
    _requests: int = 0
    _reader: _DeadlineReader

    def setup(self) -> None:
        super().setup()
        # Replace the plain socket reader with one that enforces phase deadlines.
        self.rfile.close()
        self._reader = _DeadlineReader(self.connection, self.server.limits.header_timeout)
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        self._started = None
        self._request_bytes = 0
        if self._requests:
            # Keep-alive: wait for the next request; the first one's wait is the header deadline.
            self._reader.start("idle", self.server.limits.idle_timeout)
        self._requests += 1
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
        if not super().parse_request():
            return False
        problem = self._framing_problem()
        if problem is not None:
            self._send(_error(400, problem, close=True), {"reason": problem})
            return False
        # Headers are in: the body (if any) has its own deadline; nothing more is read after it.
        self._reader.start("body", self.server.limits.body_timeout)
        return True

    def _framing_problem(self) -> str | None:
        """Why this request must not be dispatched, or None: anything a proxy could read differently."""
        if self.request_version not in ("HTTP/1.0", "HTTP/1.1"):
            self.request_version = "HTTP/1.0"  # HTTP/0.9: so that the refusal carries a status line
            return "unsupported HTTP version"
        if self._reader.eof:
            return "incomplete request: the connection closed before the headers ended"
        headers = self.headers
        # A line that is not "name: value" ends email's header parsing (the rest becomes a
        # "payload"); a folded line keeps its CR LF in the value. (Multipart defects are normal:
        # only the headers were parsed.)
        bad_line = any(isinstance(d, (HeaderDefect, MissingHeaderBodySeparatorDefect)) for d in headers.defects)
        if bad_line or headers.get_payload() or any("\r" in v or "\n" in v for v in headers.values()):
            return "malformed header line"
        lengths = headers.get_all("Content-Length") or []
        if len(lengths) > 1:
            return "more than one Content-Length header"
        if headers.get_all("Transfer-Encoding"):
            # Chunked bodies are not read; with Content-Length as well it is a smuggling attempt.
            return "Transfer-Encoding is not supported; send Content-Length"
        if lengths and _content_length(lengths[0]) is None:
            return "bad Content-Length"
        return None

    def handle_expect_100(self) -> bool:
        problem = self._framing_problem()
        if problem is not None:
            self._send(_error(400, problem, close=True), {"reason": problem})
            return False
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
        # _framing_problem has refused duplicate or malformed Content-Length and Transfer-Encoding.
        app = self.server.app
        raw_length = self.headers.get("Content-Length")
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

    def _send(self, response: Response, extra: dict[str, Any] | None = None) -> None:
        if response.close or self.server.stopping:
            self.close_connection = True
        # A client that does not read its response holds the thread this long at most.
        self.connection.settimeout(self.server.limits.idle_timeout)
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
        self._access(response.status, len(response.body), {**response.log_fields, **(extra or {})})

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

    def log_error(self, format: str, *args: Any) -> None:
        # The base class calls this for a read that timed out (the connection is then closed).
        phase = self._reader.phase if hasattr(self, "_reader") else "-"
        fields = {"reason": "timed out", "phase": phase,
                  "client": self.client_address[0] if self.client_address else "-"}
        # An idle keep-alive connection ending is routine; a request that never arrived in full is not.
        log.log(logging.DEBUG if phase == "idle" else logging.INFO, "connection closed", extra={"fields": fields})

    def log_message(self, format: str, *args: Any) -> None:
        log.info("http: " + (format % args)[:200])


def _content_length(value: str | None) -> int | None:
    """The value of a Content-Length header: ASCII digits only (no sign, no list, no '²')."""
    if value is None:
        return None
    value = value.strip(" \t")
    return int(value) if _DIGITS.fullmatch(value) else None


class WebhookServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that finishes in-flight requests on ``stop``."""

    daemon_threads = False  # server_close() joins request threads: in-flight requests finish
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 1024  # a burst of connects is accepted (or refused with 503), not dropped at SYN

    def __init__(self, address: tuple[str, int], app: WebhookApp) -> None:
        self.app = app
        settings = app.settings
        self.limits = ConnectionLimits(
            max_connections=settings.max_connections,
            header_timeout=settings.header_timeout_seconds,
            body_timeout=settings.body_timeout_seconds,
            idle_timeout=settings.idle_timeout_seconds,
        )
        self.stopping = False
        self._tracking = threading.Lock()
        self._idle: set[socket.socket] = set()
        self._open: set[socket.socket] = set()
        self._refused = 0  # connections refused since the last "connection limit reached" line
        self._last_refusal_log = -math.inf
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

    @property
    def open_connections(self) -> int:
        with self._tracking:
            return len(self._open)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        """Admit a connection while fewer than ``max_connections`` are open; answer 503 otherwise.

        Runs in the accepting thread, so a refusal must never block: the canned
        answer is sent without waiting and the socket is closed by the caller.
        """
        with self._tracking:
            if len(self._open) < self.limits.max_connections:
                self._open.add(request)
                return True
            self._refused += 1
            now = time.monotonic()
            report = now - self._last_refusal_log >= REFUSAL_LOG_SECONDS
            if report:
                refused, self._refused, self._last_refusal_log = self._refused, 0, now
        if report:
            # One line per REFUSAL_LOG_SECONDS at most: a flood must not flood the log too.
            log.warning("connection limit reached; refusing new connections with 503", extra={"fields": {
                "max_connections": self.limits.max_connections, "refused_connections": refused}})
        try:
            request.setblocking(False)
            request.send(_BUSY)
        except OSError:
            pass
        return False

    def shutdown_request(self, request: Any) -> None:
        with self._tracking:
            self._idle.discard(request)
            self._open.discard(request)
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
            # At once, not when serve_forever() next polls: a response finished from now on
            # says "Connection: close", and idle keep-alive connections go now.
            server.close_idle_connections()
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
