"""The checks on an inbound message that depend on its text alone — done a chunk ahead, in a worker process on big runs.

Consent classification, knowledge retrieval and the inbound halves of the
safety, compliance and injection gates read nothing but the message's text and
metadata, the config and the knowledge file. They are about half of
``process``'s time per event, and the other half (the database, the decision)
cannot start another core. So ``InboundChecks`` runs them for chunk *n + 1* in
one worker process while the main process decides chunk *n*: the same pure
functions, so the same results as inline (a test compares every decision).

The worker is started only when it pays (``WORKER_MIN_EVENTS`` pending events,
more than one CPU, ``[autopilot] parallel_checks``); it is spawned, not forked,
so it shares no SQLite connection or lock with the main process. Anything
going wrong there (a text that makes a check raise, the worker dying) falls
back to computing inline, where an error is reported for its one event
exactly as without the worker. Nothing is written in the worker.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from .drafting.base import Passage
from .gates import GateResult
from .gates.compliance import mentioned_topics, topic_keys
from .gates.injection import check_injection
from .gates.safety import matching_rules
from .knowledge import KnowledgeFile, KnowledgeIndex
from .optout import ConsentSignal, classify_consent

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


def metadata_of(raw: str | None) -> dict:
    return json.loads(raw or "{}")


def check_one(text: str, metadata: str | None, settings: Settings, index: KnowledgeIndex | None) -> InboundResult:
    text = text or ""
    return InboundResult(
        consent=classify_consent(text, list(settings.languages)),
        passages=index.search(text) if index is not None else [],
        safety=matching_rules(text),
        compliance=mentioned_topics(text, topic_keys(settings.topics)),
        injection=check_injection(text, metadata_of(metadata)),
    )


Item = tuple[int, str, str | None]
"""(event id, text, metadata JSON)."""


def check_all(items: Sequence[Item], settings: Settings, index: KnowledgeIndex | None) -> dict[int, InboundResult]:
    """Every item it can check; one that raises is left out (the caller redoes it inline)."""
    results: dict[int, InboundResult] = {}
    for event_id, text, metadata in items:
        try:
            results[event_id] = check_one(text, metadata, settings, index)
        except Exception:  # noqa: BLE001 — reported inline, for its event only
            continue
    return results


# -- the worker process ---------------------------------------------------------
_worker: tuple[Settings, KnowledgeIndex | None] | None = None


def _init_worker(settings: Settings) -> None:
    global _worker
    _worker = (settings, KnowledgeIndex(settings.knowledge) if settings.knowledge is not None else None)


def _check_in_worker(items: list[Item]) -> dict[int, InboundResult]:
    assert _worker is not None
    return check_all(items, *_worker)


class InboundChecks:
    """Submit a chunk's events, collect their results later; inline unless a worker was started."""

    def __init__(self, settings: Settings, index: KnowledgeIndex | None) -> None:
        self.settings, self.index = settings, index
        self._pool: ProcessPoolExecutor | None = None

    def start_worker(self, pending: int) -> bool:
        """Start the worker if ``pending`` events make it pay; the caller checks it is enabled."""
        if pending < WORKER_MIN_EVENTS or (os.cpu_count() or 1) < 2:
            return False
        if self.index is not None and self.settings.knowledge is None:
            return False  # an index built some other way cannot be rebuilt in the worker
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_init_worker, initargs=(self.settings,))
        return True

    def submit(self, rows: Sequence[sqlite3.Row]) -> Future[dict[int, InboundResult]]:
        items = [(row["id"], row["text"], row["metadata"]) for row in rows]
        if self._pool is not None:
            try:
                return self._pool.submit(_check_in_worker, items)
            except RuntimeError:  # the pool broke earlier: go on inline
                self._pool = None
        done: Future[dict[int, InboundResult]] = Future()
        done.set_result(check_all(items, self.settings, self.index))
        return done

    @staticmethod
    def collect(future: Future[dict[int, InboundResult]]) -> dict[int, InboundResult]:
        try:
            return future.result()
        except Exception:  # noqa: BLE001 — the worker died (killed, out of memory): inline instead
            return {}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
