"""A loopback OpenAI-compatible server for tests: the real client, no network.

``POST /v1/chat/completions`` and ``POST /v1/moderations`` answer from a script:

    openai_stub.chat.extend([StubReply(status=429, headers={"Retry-After": "1"}),
                             completion(model_json(reply="Hi!"))])
    openai_stub.chat_handler = lambda body: completion(...)   # or compute each answer

A queue entry is used once; an empty queue falls back to ``chat_handler`` (by
default a valid structured reply). ``delay`` holds the answer back, to provoke
read timeouts and measure concurrency. Every request is recorded with its body
and headers, the ``Authorization`` header removed from the recording (like
simonw/llm's recorded HTTP) but checked: ``authorized`` says whether it carried
``Bearer <stub.api_key>``.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

API_KEY = "sk-test-4f9c2e7a1b3d5e8f0a2c4e6b8d0f1a3c"


@dataclass
class StubReply:
    status: int = 200
    json: Any = None
    body: bytes | None = None
    """Raw body, sent as is (overrides ``json``)."""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Recorded:
    path: str
    body: Any
    headers: dict[str, str]
    authorized: bool


def model_json(reply: str = "Hi Ana,\n\nWe are open Saturday 10:00-14:00.\n\nThe team", confidence: float = 0.9,
               intent: str = "opening_hours", needs_human: bool = False, reasons: list[str] | None = None) -> str:
    return json.dumps({"reply": reply, "confidence": confidence, "intent": intent,
                       "needs_human": needs_human, "reasons": reasons or []})


def completion(content: str | None = None, *, total_tokens: int = 120, delay: float = 0.0) -> StubReply:
    """A chat.completion whose message content is ``content`` (a valid model reply by default)."""
    content = model_json() if content is None else content
    return StubReply(delay=delay, json={
        "id": "chatcmpl-stub", "object": "chat.completion", "created": 1764072000, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": content, "refusal": None}}],
        "usage": {"prompt_tokens": total_tokens - 20, "completion_tokens": 20, "total_tokens": total_tokens},
    })


def moderation(flags: list[list[str]]) -> StubReply:
    """One moderation result per text: the categories flagged for it (empty: clean)."""
    names = ["harassment", "harassment/threatening", "hate", "hate/threatening", "self-harm", "sexual", "violence"]
    results = [{"flagged": bool(f), "categories": {n: n in f for n in names},
                "category_scores": {n: (0.9 if n in f else 0.01) for n in names}} for f in flags]
    return StubReply(json={"id": "modr-stub", "model": "omni-moderation-latest", "results": results})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a delayed answer must not hold up the test's teardown

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up early (timeouts) are part of the tests


class OpenAIStub:
    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.chat: deque[StubReply] = deque()
        self.moderations: deque[StubReply] = deque()
        self.chat_handler: Callable[[Any], StubReply] = lambda body: completion()
        self.moderation_handler: Callable[[Any], StubReply] = lambda body: moderation([[] for _ in body["input"]])
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="openai-stub",
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def chat_requests(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def start(self) -> OpenAIStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes delayed answers
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, path: str, body: Any) -> StubReply:
        if path == "/v1/chat/completions":
            queue, handler = self.chat, self.chat_handler
        elif path == "/v1/moderations":
            queue, handler = self.moderations, self.moderation_handler
        else:
            return StubReply(status=404, json={"error": {"message": f"no route {path}", "type": "not_found"}})
        with self._lock:
            scripted = queue.popleft() if queue else None
        return scripted or handler(body)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real API
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                headers = {k.lower(): v for k, v in self.headers.items() if k.lower() != "authorization"}
                authorized = self.headers.get("Authorization") == f"Bearer {stub.api_key}"
                with stub._lock:
                    stub.requests.append(Recorded(self.path, body, headers, authorized))
                reply = stub._answer(self.path, body)
                if reply.delay and stub._stopping.wait(reply.delay):
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
                except OSError:  # the client gave up (read timeout): expected in tests
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def openai_stub():
    stub = OpenAIStub().start()
    yield stub
    stub.stop()
