"""The checks on an inbound message that depend on its text alone — done a chunk ahead, in a worker process on big runs.

Consent classification, knowledge retrieval and the inbound halves of the
safety, compliance and injection gates read nothing but the message's text and
metadata, the config and the knowledge file. They are about half of
``process``'s time per event, and the other half (the database, the decision)
cannot start another core. So ``InboundChecks`` runs them for chunk *n + 1* in
one worker process while the main process decides chunk *n*: the same pure
functions, so the same results as inline (a test compares every decision).

The worker is started only when it pays (``WORKER_MIN_EVENTS`` pending events,
more than one CPU, ``[autopilot] parallel_checks``). Anything going wrong there
(a text that makes a check raise, the worker dying) falls back to computing
inline, where an error is reported for its one event exactly as without the
worker. Nothing is written in the worker.

The worker is a plain child process (``python -c``) that talks to us over its
stdin and stdout pipes, not a ``multiprocessing`` pool, because it must never
outlive ``process`` or speak on its terminal:

- It runs in its own process group, so a terminal's Ctrl-C (SIGINT to the
  foreground group) reaches only the main process, which prints one line; the
  worker also ignores SIGINT itself.
- Its stderr is /dev/null: it never holds the caller's stderr open (cron mails
  a job's output only once every holder of that pipe has closed it).
- It exits when its stdin reaches end-of-file, which happens the moment the
  main process exits or dies, even by SIGKILL; a chunk it is still checking
  then fails to write and it exits too. On Linux ``PR_SET_PDEATHSIG`` kills it
  at once as well.
- No helper processes: a pool brings multiprocessing's resource tracker, which
  outlived a SIGKILLed parent together with the pool's worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..contacts import ConsentSignal, classify_message
from ..drafting import KnowledgeFile, KnowledgeIndex, Passage
from ..gates import GateResult, check_injection, check_manipulation, matching_rules, mentioned_topics, topic_keys

WORKER_MIN_EVENTS = 2000
"""Below this a worker's start-up (~0.3 s to import) costs more than it saves."""


@dataclass(frozen=True)
class Settings:
    languages: tuple[str, ...]
    topics: tuple[str, ...]
    knowledge: KnowledgeFile | None


@dataclass(frozen=True)
class InboundResult:
    consent: ConsentSignal | None
    passages: list[Passage]
    safety: frozenset[str]
    compliance: frozenset[str]
    injection: GateResult
    manipulation: GateResult


def metadata_of(raw: str | None) -> dict:
    return json.loads(raw or "{}")


def check_one(text: str, metadata: str | None, settings: Settings, index: KnowledgeIndex | None,
              message_type: str = "text", name: str | None = None) -> InboundResult:
    text = text or ""
    return InboundResult(
        consent=classify_message(text, message_type, list(settings.languages)),
        # The contact's own name ("Hi, Lena here") is no topic of the question.
        passages=index.search(text, ignore=[name] if name else ()) if index is not None else [],
        safety=matching_rules(text),
        compliance=mentioned_topics(text, topic_keys(settings.topics)),
        injection=check_injection(text, metadata_of(metadata)),
        manipulation=check_manipulation(text),
    )


Item = tuple[int, str, str | None, str, str | None]
"""(event id, text, metadata JSON, message type, the contact's name)."""


def check_all(items: Sequence[Item], settings: Settings, index: KnowledgeIndex | None) -> dict[int, InboundResult]:
    """Every item it can check; one that raises is left out (the caller redoes it inline)."""
    results: dict[int, InboundResult] = {}
    for event_id, text, metadata, message_type, name in items:
        try:
            results[event_id] = check_one(text, metadata, settings, index, message_type, name)
        except Exception:
            continue
    return results


# -- the pipe protocol: an 8-byte length, then a pickle (both ends are this module) --
_LENGTH = struct.Struct(">Q")


def _send(stream: IO[bytes], value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)))
    stream.write(data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    """The next value; EOFError when the other end closed the pipe."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError
    size = _LENGTH.unpack(head)[0]
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)  # written by our own parent or child process, never by a user


# -- the worker process -----------------------------------------------------------
_WORKER_CODE = ("import sys; sys.path.insert(0, sys.argv[1]); "
                "from autopilot_cli.decide._text_checks import worker_main; worker_main(int(sys.argv[2]))")


def _die_with_parent(parent: int) -> None:
    """Linux: be killed the moment the parent dies (in addition to the end-of-file on stdin)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(0)


def worker_main(parent: int) -> None:
    """The worker's loop: settings first, then one chunk of items in, one dict of results out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to report
    _die_with_parent(parent)
    # Only results may reach the pipe: anything else printed goes to /dev/null.
    out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    source = sys.stdin.buffer
    try:
        settings: Settings = _receive(source)
        index = KnowledgeIndex(settings.knowledge) if settings.knowledge is not None else None
        while True:
            _send(out, check_all(_receive(source), settings, index))
    except (EOFError, OSError):  # the main process closed our stdin, exited or died
        pass
    os._exit(0)


class _WorkerGone(Exception):
    """The worker exited or could not be reached: the chunk is checked inline."""


class _Worker:
    """The child process, a FIFO of the futures it owes, and a thread reading its results."""

    def __init__(self, settings: Settings) -> None:
        root = str(Path(__file__).resolve().parents[2])  # the folder holding autopilot_cli/
        group: dict[str, Any] = {"process_group": 0} if os.name == "posix" else {}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER_CODE, root, str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, **group,
        )
        self._owed: deque[Future[dict[int, InboundResult]]] = deque()
        self._lock = threading.Lock()
        self.broken = False
        self._reader = threading.Thread(target=self._read, name="inbound-checks", daemon=True)
        self._reader.start()
        self._write(settings)

    def _write(self, value: object) -> None:
        try:
            assert self.proc.stdin is not None
            _send(self.proc.stdin, value)
        except (OSError, ValueError):  # it died; the reader sees end-of-file and fails what is owed
            self.broken = True
            self.proc.kill()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        # End-of-file, or a result we cannot read: inline from here on.
        with contextlib.suppress(Exception):
            while True:
                results = _receive(self.proc.stdout)
                with self._lock:
                    future = self._owed.popleft()
                future.set_result(results)
        with self._lock:
            self.broken = True
            owed, self._owed = list(self._owed), deque()
        for future in owed:
            future.set_exception(_WorkerGone())

    def submit(self, items: list[Item]) -> Future[dict[int, InboundResult]] | None:
        future: Future[dict[int, InboundResult]] = Future()
        with self._lock:
            if self.broken:
                return None
            self._owed.append(future)
        self._write(items)
        return future

    def close(self) -> None:
        with self._lock:
            busy = bool(self._owed)
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()  # end-of-file: an idle worker exits at once
        except OSError:
            pass
        if busy:  # interrupted, or a chunk was never collected: its result is not wanted
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class InboundChecks:
    """Submit a chunk's events, collect their results later; inline unless a worker was started."""

    def __init__(self, settings: Settings, index: KnowledgeIndex | None) -> None:
        self.settings, self.index = settings, index
        self._worker: _Worker | None = None

    @property
    def worker_pid(self) -> int | None:
        return self._worker.proc.pid if self._worker is not None else None

    def start_worker(self, pending: int) -> bool:
        """Start the worker if ``pending`` events make it pay; the caller checks it is enabled."""
        if pending < WORKER_MIN_EVENTS or (os.cpu_count() or 1) < 2 or not sys.executable:
            return False
        if self.index is not None and self.settings.knowledge is None:
            return False  # an index built some other way cannot be rebuilt in the worker
        try:
            self._worker = _Worker(self.settings)
        except OSError:  # no process could be started: inline
            return False
        return True

    def submit(self, rows: Sequence[sqlite3.Row]) -> Future[dict[int, InboundResult]]:
        items = [(row["id"], row["text"], row["metadata"], row["message_type"], row["name"]) for row in rows]
        if self._worker is not None:
            future = self._worker.submit(items)
            if future is not None:
                return future
            self._worker.close()  # it broke earlier: go on inline
            self._worker = None
        done: Future[dict[int, InboundResult]] = Future()
        done.set_result(check_all(items, self.settings, self.index))
        return done

    @staticmethod
    def collect(future: Future[dict[int, InboundResult]]) -> dict[int, InboundResult]:
        try:
            return future.result()
        except Exception:
            return {}

    def close(self) -> None:
        if self._worker is not None:
            worker, self._worker = self._worker, None
            worker.close()
