"""What the model's network failures are called, and running requests so that Ctrl-C need not wait for them.

Errors name the class, the HTTP status or the network cause ("connection
refused", "host name not resolved", "connect timed out"), never the provider's
message: a 401 body can echo part of the key. The endpoint is shown without
user info, query or fragment, where a proxy's credentials could sit.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import TypeVar

import httpx
import openai

T = TypeVar("T")
R = TypeVar("R")


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc.__cause__ or exc.__context__
    while current is not None and all(current is not seen for seen in chain) and len(chain) < 16:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def network_cause(exc: BaseException) -> str | None:
    """Why a request never got an HTTP answer, in a few plain words; None if it is not that kind of error."""
    for cause in _causes(exc):
        if isinstance(cause, httpx.ConnectTimeout):
            return "connect timed out"
        if isinstance(cause, httpx.TimeoutException):
            return "no answer in time"
        if isinstance(cause, socket.gaierror):
            return "host name not resolved"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return "TLS certificate not trusted"
        if isinstance(cause, ssl.SSLError):
            return "TLS error"
        if isinstance(cause, OSError) and cause.errno:
            return os.strerror(cause.errno).lower()  # "connection refused", "no route to host", …
    if isinstance(exc, openai.APITimeoutError):
        return "no answer in time"
    if isinstance(exc, openai.APIConnectionError):
        return "connection failed"
    return None


def never_connected(exc: BaseException) -> bool:
    """No request reached the server (refused, not resolved, no route, connect timeout)."""
    return any(isinstance(c, (httpx.ConnectError, httpx.ConnectTimeout)) for c in _causes(exc))


def describe_error(exc: BaseException) -> str:
    """Class and status, or class and network cause: never the provider's message (it may echo the key)."""
    status = getattr(exc, "status_code", None)
    if status:
        return f"{type(exc).__name__} (HTTP {status})"
    cause = network_cause(exc)
    return f"{type(exc).__name__} ({cause})" if cause else type(exc).__name__


def endpoint(url: httpx.URL | str) -> str:
    """The base URL for people to read: no user info, query or fragment."""
    parsed = httpx.URL(str(url))
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    port = f":{parsed.port}" if parsed.port is not None else ""
    return f"{parsed.scheme}://{host}{port}{parsed.path.rstrip('/')}"


def map_concurrently(fn: Callable[[T], R], items: Sequence[T], workers: int) -> list[R | Exception]:
    """``fn`` over ``items`` on up to ``workers`` threads; results (or the exception raised) in order.

    The threads are daemons and an interrupt of the waiting caller stops
    them taking new items: a Ctrl-C ends ``process`` at once instead of
    waiting out requests in flight (they change nothing but the tokens spent).
    """
    results: list[R | Exception | None] = [None] * len(items)
    queue = deque(enumerate(items))
    lock, finished, stop = threading.Lock(), threading.Event(), threading.Event()
    remaining = [len(items)]
    if not items:
        return []

    def work() -> None:
        while not stop.is_set():
            with lock:
                if not queue:
                    return
                index, item = queue.popleft()
            try:
                results[index] = fn(item)
            except Exception as exc:
                results[index] = exc
            with lock:
                remaining[0] -= 1
                if remaining[0] == 0:
                    finished.set()

    for n in range(min(workers, len(items))):
        threading.Thread(target=work, name=f"drafter-{n}", daemon=True).start()
    try:
        finished.wait()
    except BaseException:
        stop.set()
        raise
    return results  # type: ignore[return-value]  # every slot filled once finished is set
