"""What ingest writes, and how: the report it returns, and the writer that stores parsed records.

Records are written in batches, each inside the caller's transaction. A run of inbound messages is
written together — their contacts found or created, the events inserted, the away holds noted — in a few
statements whatever its length (each statement is a round trip on PostgreSQL). A record the database
cannot take (a lone surrogate, an integer too large for SQLite) must not cost the others their place: when
the run's statements fail, they are undone and the run is written again a record at a time, each in its
own savepoint, the bad one becoming a reject.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from pydantic import BaseModel, Field

from ..clock import to_iso
from ..contacts import ContactCache, apply_preference, note_away
from ..db.connection import savepoint
from ..db.events import insert_events
from ..db.rejects import LOCATION_KEEP_CHARS, bounded, store_reject
from ..errors import InputError
from ._records import Ignored, InboundMessage, ParsedItem, PreferenceUpdate, Rejected, StatusUpdate
from ._statuses import apply_status

RAW_KEEP_CHARS = 65536
_IGNORED_LABEL = re.compile(r"^(?:[\w.]+\[\d+\][\w.\[\]]*: )+")


class IngestError(BaseModel):
    line: int | None = None
    index: str | None = None
    source: str | None = None
    reason: str


_COUNTS = ("ingested", "duplicates", "statuses", "preferences", "ignored", "rejected")


class IngestReport(BaseModel):
    """The result of one ingest call; its JSON keys are documented and stable."""

    format: str | None = None
    ingested: int = 0
    duplicates: int = 0
    statuses: int = 0
    preferences: int = 0
    ignored: int = 0
    rejected: int = 0
    ignored_reasons: dict[str, int] = Field(default_factory=dict)
    """Why records were ignored (our own echoes, unhandled webhook fields…), with counts."""
    errors: list[IngestError] = Field(default_factory=list)
    event_ids: list[int] = Field(default_factory=list, exclude=True)

    def merge(self, other: IngestReport) -> None:
        for key in _COUNTS:
            setattr(self, key, getattr(self, key) + getattr(other, key))
        self.errors.extend(other.errors)
        self.event_ids.extend(other.event_ids)
        for reason, count in other.ignored_reasons.items():
            self.ignored_reasons[reason] = self.ignored_reasons.get(reason, 0) + count
        self.format = self.format if self.format in (None, other.format) else "mixed"
        if self.format is None:
            self.format = other.format


def _raw_text(raw: Any) -> str | None:
    if raw is None:
        return None
    text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, default=str)
    if len(text) > RAW_KEEP_CHARS:
        return text[:RAW_KEEP_CHARS] + f"\u2026[truncated, {len(text)} characters in all]"
    return text


def storable(text: str, limit: int = 2000) -> str:
    """Text SQLite can take (lone surrogates escaped), bounded."""
    return text[:limit].encode("utf-8", "backslashreplace").decode("utf-8")


def _storable_reject(item: ParsedItem, exc: BaseException) -> Rejected:
    if isinstance(item, Rejected):
        reason = item.reason
    else:
        reason = f"cannot be stored ({type(exc).__name__}: {exc})"
    raw = getattr(item, "raw", None)
    try:
        raw = raw if raw is None or isinstance(raw, str) else json.dumps(raw, ensure_ascii=True, default=str)
    except (ValueError, TypeError, RecursionError):
        raw = None
    raw = None if raw is None else storable(raw, RAW_KEEP_CHARS)
    return Rejected(line=item.line, index=item.index, reason=storable(reason), raw=raw)


# Data-driven failures of one record's write; OperationalError (locked, full, I/O) and
# ProgrammingError (a bug) still abort the transaction.
RECORD_WRITE_ERRORS = (InputError, ValueError, TypeError, OverflowError, RecursionError,
                       sqlite3.DataError, sqlite3.IntegrityError, sqlite3.InterfaceError)


class Writer:
    """Writes parsed items inside the caller's transaction, counting outcomes."""

    def __init__(self, fmt: str, source: str | None, now: str, max_bytes: int) -> None:
        self.fmt = fmt
        self.source = source
        self.now = now
        self.max_bytes = max_bytes
        self.contacts = ContactCache()
        self.report = IngestReport(format=fmt)

    def write_batch(self, conn: sqlite3.Connection, items: list[ParsedItem]) -> None:
        """Every item, in order: each run of inbound messages together, anything else on its own."""
        run: list[InboundMessage] = []
        for item in items:
            if isinstance(item, InboundMessage):
                run.append(item)
                continue
            self._write_run(conn, run)
            run = []
            self.write_isolated(conn, item)
        self._write_run(conn, run)

    def _write_run(self, conn: sqlite3.Connection, run: list[InboundMessage]) -> None:
        if len(run) <= 1:
            for msg in run:
                self.write_isolated(conn, msg)
            return
        before = self.snapshot()
        try:
            with savepoint(conn, "ingest_run"):
                self._messages(conn, run)
        except RECORD_WRITE_ERRORS:
            self.restore(before)
            for msg in run:  # again one at a time: the record the database refused becomes a reject
                self.write_isolated(conn, msg)

    def write(self, conn: sqlite3.Connection, item: ParsedItem) -> None:
        if isinstance(item, InboundMessage):
            self._messages(conn, [item])
        elif isinstance(item, StatusUpdate):
            if apply_status(conn, item, self.now):
                self.report.statuses += 1
            else:
                self.report.duplicates += 1
        elif isinstance(item, PreferenceUpdate):
            contact_id = self.contacts.contact_for(conn, item.channel, item.sender, None, self.now)
            if apply_preference(conn, contact_id, item):
                self.report.preferences += 1
            else:
                self.report.duplicates += 1
        elif isinstance(item, Ignored):
            self.report.ignored += 1
            # "messages[0]: echo of our own message" and "messages[1]: …" are one reason.
            reason = bounded(_IGNORED_LABEL.sub("", item.reason))
            self.report.ignored_reasons[reason] = self.report.ignored_reasons.get(reason, 0) + 1
        else:
            self._reject(conn, item)

    def write_isolated(self, conn: sqlite3.Connection, item: ParsedItem) -> None:
        """``write`` inside a savepoint: a record the database cannot take (a lone surrogate,
        an integer too large for SQLite) becomes a reject for that record alone, instead of
        rolling back the whole batch — a webhook payload's good records must still be stored."""
        before = self.snapshot()
        try:
            with savepoint(conn, "ingest_record"):
                self.write(conn, item)
        except RECORD_WRITE_ERRORS as exc:
            self.restore(before)
            self._reject(conn, _storable_reject(item, exc))

    def snapshot(self) -> tuple[list[int], int, int, dict[str, int]]:
        return ([getattr(self.report, key) for key in _COUNTS], len(self.report.errors),
                len(self.report.event_ids), dict(self.report.ignored_reasons))

    def restore(self, snapshot: tuple[list[int], int, int, dict[str, int]]) -> None:
        """The report as it was at ``snapshot``: what a rolled-back write counted is undone."""
        counts, errors, ids, ignored = snapshot
        for key, value in zip(_COUNTS, counts):
            setattr(self.report, key, value)
        del self.report.errors[errors:], self.report.event_ids[ids:]
        self.report.ignored_reasons = ignored
        self.contacts = ContactCache()  # ids it cached in the rolled-back writes are gone

    def _reject(self, conn: sqlite3.Connection, item: Rejected) -> None:
        # Bounded: a 12 MB field name inside an input once became a 12 MB reason,
        # stored whole and printed in 23 s.
        reason = bounded(item.reason)
        location = None if item.index is None else bounded(item.index, LOCATION_KEEP_CHARS)
        self.report.rejected += 1
        self.report.errors.append(IngestError(line=item.line, index=location, source=self.source, reason=reason))
        store_reject(conn, at=self.now, fmt=self.fmt, source=self.source, line=item.line, location=location,
                     reason=reason, raw=_raw_text(item.raw))

    def _messages(self, conn: sqlite3.Connection, msgs: list[InboundMessage]) -> None:
        """Store inbound messages, in order: each a new event, a duplicate, or a reject when too large."""
        outcome: list[tuple[InboundMessage, dict[str, Any]] | Rejected] = []
        for msg in msgs:
            size = len(msg.text.encode("utf-8", "surrogatepass"))
            if size > self.max_bytes:
                # Parsers check record size; this guards the text itself whatever the parser.
                reason = (f"message text is {size:,} bytes, over the limit of {self.max_bytes:,} bytes "
                          "(ingest.max_message_bytes)")
                outcome.append(Rejected(line=msg.line, index=msg.index, reason=reason, raw=None))
            else:
                outcome.append((msg, _event_row(msg, self.fmt, self.now)))
        stored = [o for o in outcome if not isinstance(o, Rejected)]
        contacts = self.contacts.contacts_for(conn, [(m.channel, m.sender, m.name) for m, _ in stored], self.now)
        for (_, row), contact_id in zip(stored, contacts):
            row["contact_id"] = contact_id
        inserted = insert_events(conn, [row for _, row in stored])
        notes: list[tuple[int, str | None, bool, str]] = []
        for o in outcome:
            if isinstance(o, Rejected):
                self._reject(conn, o)
                continue
            msg, row = o
            event_id = inserted.pop((row["channel"], row["external_id"]), None)  # the first of a repeated id
            if event_id is None:
                self.report.duplicates += 1
                continue
            self.report.ingested += 1
            self.report.event_ids.append(event_id)
            notes.append((row["contact_id"], msg.metadata.get("away_until") if msg.automated else None,
                          msg.automated, row["received_at"]))
        note_away(conn, notes)


def _event_row(msg: InboundMessage, fmt: str, now: str) -> dict[str, Any]:
    return {
        "channel": msg.channel, "external_id": msg.external_id, "contact_id": None, "sender": msg.sender,
        "name": msg.name, "message_type": msg.message_type, "text": msg.text, "body": msg.body,
        "subject": msg.subject, "thread_id": msg.thread_id, "reply_to_id": msg.reply_to_id,
        "timezone": msg.timezone, "automated": int(msg.automated), "automated_reason": msg.automated_reason,
        "metadata": json.dumps(msg.metadata, ensure_ascii=False, default=str), "raw": _raw_text(msg.raw),
        "format": fmt, "received_at": to_iso(msg.received_at), "ingested_at": now,
    }
