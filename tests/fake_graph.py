"""A loopback fake of the provider HTTP APIs (Graph for WhatsApp/Instagram, LinkedIn REST) for adapter tests.

Real httpx, a real socket on 127.0.0.1, no network. Every request is recorded
(path, JSON body, headers with the ``Authorization`` value removed — only
``authorized``, whether it was ``Bearer <fake.token>``, is kept). Answers come
from a per-test script, then from a default that imitates a successful send:

    fake_graph.script.extend([rate_limited("2"), graph_ok()])   # one 429, then a success
    fake_graph.script.append(close_after_body())                 # read the request, hang up: AMBIGUOUS
    fake_graph.script.append(FakeReply(delay=5))                 # hold the answer: read timeout
    fake_graph.script.append(FakeReply(hold=event))              # hold it until the test sets ``event``

For crash tests, ``wait_requests(n)`` and ``wait_answers(n)`` block until the
n-th request has arrived / been answered (its response written to the socket),
and each ``Recorded`` keeps the ``status`` it was answered with (None: never
answered — closed, held, or its client went away).

The default success depends on the body: WhatsApp (``messaging_product``) gets
``messages[0].id = "wamid.fake<n>"``, Instagram (``recipient``) gets
``message_id = "mid.fake<n>"``, LinkedIn (``recipients``/``thread``) gets 201
with ``x-restli-id: urn:li:message:fake<n>``.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

TOKEN = "EAAG-fake-token-7c1d9e3b5a2f4e6d8c0b"


@dataclass
class FakeReply:
    status: int = 200
    json: Any = None
    body: bytes | None = None
    """Raw body sent as is (overrides ``json``); with both None, the default success body."""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    close: bool = False
    """Read the request, then close the connection without answering."""
    hold: threading.Event | None = None
    """Wait until this event is set (or the server stops) before answering."""


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    headers: dict[str, str]
    authorized: bool
    has_authorization: bool
    status: int | None = None
    """The status it was answered with; None while unanswered, or when never answered."""
    received: float = field(default_factory=time.monotonic)
    """``time.monotonic()`` when its body had been read."""
    answered: float | None = None
    """``time.monotonic()`` when its answer had been written."""
    complete: bool = True
    """False when the client died before its body was all sent (a killed run): a provider never accepts that."""


def graph_ok(message_id: str | None = None) -> FakeReply:
    """The default success (its id generated) unless ``message_id`` is given."""
    if message_id is None:
        return FakeReply()
    return FakeReply(json={"messaging_product": "whatsapp", "contacts": [{"input": "x", "wa_id": "x"}],
                           "messages": [{"id": message_id}]})


def graph_error(code: int, message: str, *, status: int = 400, subcode: int | None = None,
                details: str | None = None, headers: dict[str, str] | None = None) -> FakeReply:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code,
                             "fbtrace_id": "AbCdEfGh123"}
    if subcode is not None:
        error["error_subcode"] = subcode
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return FakeReply(status=status, json={"error": error}, headers=headers or {})


def rate_limited(retry_after: str | None = "2", code: int = 130429) -> FakeReply:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return graph_error(code, f"(#{code}) Rate limit hit", status=429, headers=headers)


def linkedin_error(status: int, message: str, service_code: int | None = None,
                   headers: dict[str, str] | None = None) -> FakeReply:
    return FakeReply(status=status, json={"message": message, "serviceErrorCode": service_code or status,
                                          "status": status}, headers=headers or {})


def close_after_body() -> FakeReply:
    return FakeReply(close=True)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # several execute processes open dozens of connections at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out and hang up are part of the tests


class FakeGraph:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.script: deque[FakeReply] = deque()
        self.requests: list[Recorded] = []
        self.connections_open = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-graph",
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v21.0"

    def start(self) -> FakeGraph:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def _wait(self, predicate: Any, timeout: float) -> None:
        with self._changed:
            if not self._changed.wait_for(predicate, timeout):
                raise TimeoutError(f"fake Graph: still waiting after {timeout} s ({len(self.requests)} requests)")

    def wait_requests(self, n: int, timeout: float = 10.0) -> None:
        """Block until at least ``n`` requests have arrived (their bodies read)."""
        self._wait(lambda: len(self.requests) >= n, timeout)

    def wait_connections_closed(self, timeout: float = 10.0) -> None:
        """Block until every client connection has closed: no request still on its way in (a
        killed client's last bytes are read and recorded before its connection ends)."""
        self._wait(lambda: self.connections_open == 0, timeout)

    def wait_answers(self, n: int, timeout: float = 10.0) -> None:
        """Block until at least ``n`` requests have been answered (response written)."""
        self._wait(lambda: sum(r.status is not None for r in self.requests) >= n, timeout)

    def most_in_flight(self) -> int:
        """The most requests received and not yet answered at any one moment (answered ones only)."""
        edges = sorted([(r.received, 1) for r in self.requests if r.answered is not None]
                       + [(r.answered, -1) for r in self.requests if r.answered is not None])
        most = now = 0
        for _, step in edges:
            now += step
            most = max(most, now)
        return most

    def _default(self, body: Any) -> FakeReply:
        n = next(self._ids)
        if isinstance(body, dict) and body.get("messaging_product") == "whatsapp":
            to = body.get("to")
            return FakeReply(json={"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                                   "messages": [{"id": f"wamid.fake{n}"}]})
        if isinstance(body, dict) and "recipient" in body:
            return FakeReply(json={"recipient_id": body["recipient"].get("id"), "message_id": f"mid.fake{n}"})
        return FakeReply(status=201, body=b"", headers={"x-restli-id": f"urn:li:message:fake{n}"})

    def _answer(self, body: Any) -> FakeReply:
        with self._lock:
            scripted = self.script.popleft() if self.script else None
        if scripted is None or (scripted.json is None and scripted.body is None and not scripted.close
                                and scripted.status == 200):
            default = self._default(body)
            if scripted is not None:  # keep the script's delay, hold and headers
                default.delay, default.headers = scripted.delay, {**default.headers, **scripted.headers}
                default.hold = scripted.hold
            return default
        return scripted

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                with fake._changed:
                    fake.connections_open += 1

            def finish(self) -> None:
                try:
                    super().finish()
                finally:
                    with fake._changed:
                        fake.connections_open -= 1
                        fake._changed.notify_all()

            def do_POST(self) -> None:
                declared = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(declared)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                auth = self.headers.get("Authorization")
                headers = {k.lower(): v for k, v in self.headers.items() if k.lower() != "authorization"}
                record = Recorded("POST", self.path, body, headers, authorized=auth == f"Bearer {fake.token}",
                                  has_authorization=auth is not None, complete=len(raw) == declared)
                with fake._changed:
                    fake.requests.append(record)
                    fake._changed.notify_all()
                if not record.complete:  # the sender died mid-body: nothing to answer, nothing accepted
                    self.close_connection = True
                    return
                reply = fake._answer(body)
                if reply.close:
                    self.close_connection = True  # the request was read in full; no answer at all
                    return
                if reply.delay and fake._stopping.wait(reply.delay):
                    return
                if reply.hold is not None:
                    while not reply.hold.wait(0.05):
                        if fake._stopping.is_set():
                            return
                data = reply.body if reply.body is not None else json.dumps(reply.json).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                except OSError:
                    self.close_connection = True
                    return
                with fake._changed:
                    record.status, record.answered = reply.status, time.monotonic()
                    fake._changed.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def fake_graph():
    fake = FakeGraph().start()
    yield fake
    fake.stop()
