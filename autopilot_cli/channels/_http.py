"""What the HTTP adapters (WhatsApp, Instagram, LinkedIn) share: one POST and its failure classes.

Where a request fails decides whether a retry can send twice (reliability.md,
"Stripe's three failure points"). httpx raises a distinct class for each:

    ConnectError, ConnectTimeout   no connection was made: nothing was sent   → RETRYABLE
    PoolTimeout                    no connection was free: nothing was sent   → RETRYABLE
    ProxyError                     the proxy refused before forwarding        → RETRYABLE
    UnsupportedProtocol, InvalidURL  base_url is wrong: every send will fail  → PAUSED
    WriteTimeout, WriteError       part of the request may have been written  ┐
    ReadTimeout, ReadError         the request was written, no answer read    ├ AMBIGUOUS
    RemoteProtocolError            the server hung up after taking the body   ┘
    any other httpx.HTTPError      unknown where it failed                    → AMBIGUOUS

AMBIGUOUS is the conservative default: it costs a reconcile, a wrong
RETRYABLE costs a duplicate message (one send per reply, at most).

Errors are reported with the provider's own code and words, with the access
token replaced by ``[redacted]`` wherever it might appear.
"""

from __future__ import annotations

import json
import math
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from ..secrets import Redactor
from ._base import MAX_ERROR_CHARS, REQUEST_WRITTEN, HttpOptions, Outcome, SendResult

SCAN_CHARS = 1_000_000
"""How much of an error body is read for its message: far more than is kept, so that no cut is
made before redaction close to what is kept (a cut token would no longer match its spellings)."""


def redact(text: str, secret: str | None) -> str:
    """``text`` with every spelling of ``secret`` replaced, then cut to a readable length."""
    return Redactor([secret]).clip(text, MAX_ERROR_CHARS)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).

    A date in the past gives 0; an unreadable value gives None (the engine's own backoff applies).
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # an HTTP-date is always GMT
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def describe(exc: BaseException) -> str:
    detail = str(exc).strip()
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


async def post_json(client: httpx.AsyncClient, url: str, *, headers: dict[str, str], body: Any,
                    secret: str | None) -> httpx.Response | SendResult:
    """POST ``body`` as JSON; the response, or the ``SendResult`` a transport failure maps to."""
    written = REQUEST_WRITTEN.get()
    extensions = {"trace": _trace_written(written)} if written is not None else None
    try:
        return await client.post(url, headers=headers, content=json.dumps(body, ensure_ascii=False).encode(),
                                 extensions=extensions)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError) as exc:
        return SendResult(Outcome.RETRYABLE, error_code="connect", error=redact(describe(exc), secret))
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        return SendResult(Outcome.PAUSED, error_code="config",
                          error=redact(f"cannot use base_url: {describe(exc)}", secret))
    except httpx.HTTPError as exc:
        return SendResult(Outcome.AMBIGUOUS, error_code="no_response", error=redact(
            f"{describe(exc)} (the request may have reached the provider)", secret))


def _trace_written(written: Callable[[], None]) -> Callable[[str, dict], Awaitable[None]]:
    """httpcore's ``trace`` extension: tells the rate limiter the moment the body is on the wire."""
    async def trace(event: str, info: dict) -> None:
        if event == "http11.send_request_body.complete":
            written()
    return trace


def json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def short_text(response: httpx.Response) -> str:
    """The body on one line, not yet cut: ``redact`` cuts it, after the secrets are out."""
    return " ".join(response.text[:SCAN_CHARS].split())


@dataclass(frozen=True)
class GraphError:
    """The ``error`` object of a Graph API answer (Graph "Handling errors" guide)."""

    code: int | None
    subcode: int | None
    message: str

    @classmethod
    def parse(cls, response: httpx.Response) -> GraphError | None:
        body = json_body(response)
        err = body.get("error") if isinstance(body, dict) else None
        if not isinstance(err, dict):
            return None
        message = str(err.get("message") or err.get("error_user_msg") or "").strip()
        data = err.get("error_data")
        details = str(data.get("details") or "").strip() if isinstance(data, dict) else ""
        if details and details not in message:
            message = f"{message}: {details}" if message else details
        return cls(_int(err.get("code")), _int(err.get("error_subcode")), message)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# Graph codes every Graph product shares (Graph API error-handling guide).
GRAPH_AUTH = frozenset({102, 190})                # session / access token expired or invalid
GRAPH_RATE = frozenset({4, 17, 32, 341, 613})     # app, user, page, app-limit, call-rate throttling
GRAPH_TRANSIENT = frozenset({1, 2})               # "temporary issue due to downtime": wait and retry


def classify_graph_error(response: httpx.Response, *, secret: str | None,
                         window_closed: frozenset[tuple[int, int | None]],
                         rate: frozenset[int] = frozenset(), paused: frozenset[int] = frozenset(),
                         transient: frozenset[int] = frozenset(),
                         default_retry_after: dict[int, float] | None = None) -> SendResult:
    """Map a non-2xx Graph answer to an outcome.

    A Graph ``error`` object is Graph itself saying the message was not taken,
    so even a 500 carrying one is safe to retry. A 5xx *without* one came from
    something in front of Graph (a proxy or load balancer answering 502/504)
    while the request may still be in flight behind it: AMBIGUOUS. 503 is the
    exception: "currently unable to handle the request" is refused before work.
    ``window_closed`` holds (code, subcode) pairs; subcode None matches any.
    """
    status = response.status_code
    err = GraphError.parse(response)
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if err is None:
        text = short_text(response)
        http_code = f"http_{status}"
        if status == 401:
            return SendResult(Outcome.PAUSED, error_code=http_code, error="access token expired or invalid")
        if status == 429 or status == 503:
            return SendResult(Outcome.RETRYABLE, error_code=http_code,
                              error=redact(f"HTTP {status} {text}", secret), retry_after=retry_after)
        if status >= 500:
            return SendResult(Outcome.AMBIGUOUS, error_code=http_code, error=redact(
                f"HTTP {status} without a Graph error (the request may have been processed): {text}", secret))
        return SendResult(Outcome.PERMANENT, error_code=http_code, error=redact(f"HTTP {status} {text}", secret))

    code = err.code if err.code is not None else status
    label = str(code)
    message = redact(err.message + (f" (subcode {err.subcode})" if err.subcode else ""), secret)
    if (code, err.subcode) in window_closed or (code, None) in window_closed:
        return SendResult(Outcome.WINDOW_CLOSED, error_code=label, error=message)
    if status == 401 or code in GRAPH_AUTH:
        return SendResult(Outcome.PAUSED, error_code=label, error=f"access token expired or invalid: {message}")
    if status == 429 or code in GRAPH_RATE or code in rate:
        if retry_after is None and default_retry_after:
            retry_after = default_retry_after.get(code)
        return SendResult(Outcome.RETRYABLE, error_code=label, error=message, retry_after=retry_after)
    if code == 10 or 200 <= code <= 299 or code in paused:  # permission missing or revoked, account blocked
        return SendResult(Outcome.PAUSED, error_code=label, error=message)
    if code in GRAPH_TRANSIENT or code in transient or status >= 500:
        return SendResult(Outcome.RETRYABLE, error_code=label, error=message, retry_after=retry_after)
    return SendResult(Outcome.PERMANENT, error_code=label, error=message)


def new_client(options: HttpOptions | None = None) -> httpx.AsyncClient:
    """The client an adapter makes (and closes) when the caller passed none: at most
    ``options.connections`` connections, on the faster transport unless the environment names a
    proxy (httpx's stock transport honours ``HTTP(S)_PROXY``/``ALL_PROXY``; ours does not)."""
    options = options or HttpOptions()
    timeout = httpx.Timeout(options.read_timeout, connect=options.connect_timeout)
    if any(key in ("http", "https", "all") for key in urllib.request.getproxies()):
        limits = httpx.Limits(max_connections=options.connections, max_keepalive_connections=options.connections)
        return httpx.AsyncClient(timeout=timeout, limits=limits)
    from ._transport import ShardedTransport

    return httpx.AsyncClient(timeout=timeout, transport=ShardedTransport(options.connections))


class TokenHttpAdapter:
    """What the Graph and LinkedIn adapters share: a bearer token from the environment,
    a lazily opened HTTP client (or one passed in by tests), health, close."""

    name = "http"

    def __init__(self, channel: str, cfg: Any, token: str | None, http: httpx.AsyncClient | None = None, *,
                 options: HttpOptions | None = None) -> None:
        self.channel = channel
        self.http_options = options or HttpOptions()
        self._cfg = cfg
        self._token = token
        self._http = http
        self._owns_http = False

    @classmethod
    def from_config(cls, name: str, cfg: Any, secrets: Any, http: httpx.AsyncClient | None = None,
                    options: HttpOptions | None = None) -> Any:
        return cls(name, cfg, secrets.get(cfg.token_env), http, options=options)

    def _missing_token(self) -> SendResult | None:
        if self._token is None:
            return SendResult(Outcome.PAUSED, error_code="credentials",
                              error=f"access token missing: environment variable {self._cfg.token_env} is not set")
        return None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http, self._owns_http = new_client(self.http_options), True
        return self._http

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"}

    async def _post(self, url: str, body: Any, *, message_id: Callable[[httpx.Response], str | None],
                    id_name: str, headers: dict[str, str] | None = None) -> SendResult:
        """POST ``body``: SENT with the provider's message id; a success without one is AMBIGUOUS
        (something was created; a status webhook may settle it); anything else ``_classify``."""
        answer = await post_json(self._client(), url, headers=headers or self._headers(), body=body,
                                 secret=self._token)
        if isinstance(answer, SendResult):
            return answer
        if answer.is_success:
            found = message_id(answer)
            if found:
                return SendResult(Outcome.SENT, provider_message_id=found)
            return SendResult(Outcome.AMBIGUOUS, error_code="no_message_id",
                              error=f"HTTP {answer.status_code} without {id_name}")
        return self._classify(answer)

    def _classify(self, response: httpx.Response) -> SendResult:
        raise NotImplementedError

    async def aclose(self) -> None:
        if self._http is not None and self._owns_http:
            await self._http.aclose()
            self._http = None

    def _health_details(self) -> dict[str, object]:
        return {}

    def health(self) -> dict[str, object]:
        present = self._token is not None
        return {
            "adapter": self.name,
            "base_url": self._cfg.base_url,
            **self._health_details(),
            "credentials": {"token_env": self._cfg.token_env, "present": present},
            "problem": None if present else f"environment variable {self._cfg.token_env} is not set",
            "ready": present,
        }
