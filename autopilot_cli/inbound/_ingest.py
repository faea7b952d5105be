"""Ingest: provider payloads in, normalized rows out, idempotently.

``ingest_bytes`` checks the signature (over the raw bytes, before parsing),
picks the parser, and writes the parsed items in batches, each batch one
``BEGIN IMMEDIATE`` transaction. Re-ingesting the same input is always safe:
a message is unique by (channel, provider id), a status by (channel, provider
id, status), a provider preference by its timestamp — Meta retries for days.

A bad record never stops the batch: it is counted in ``rejected``, reported
with its line or index and stored in ``rejects`` (raw text kept, truncated at
64 KiB; the reason at a few hundred characters) so that nothing is silently
lost. Only a problem with the input as a whole (not text, unknown format, bad
signature) raises ``InputError``, before anything is written.

What is stored when: each batch of ``ingest.batch_size`` records is committed as
it is written. If parsing gives up after the first batch, the records already
parsed stay and one reject says where it stopped; so an input is either refused
whole (nothing stored) or stored with its bad records as rejects. A run stopped
from outside (Ctrl-C, SIGKILL, a full disk) keeps the batches it committed; the
same command run again completes it, duplicates recognised.

``ingest_inputs`` (in ``ingest_files``) runs several inputs, one result each.
"""

from __future__ import annotations

import email.errors
import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from pydantic import BaseModel, Field

from ..channels.policy import POLICIES, channels_where
from ..clock import Clock, to_iso
from ..config import Config
from ..contacts import ContactCache, apply_preference, note_away
from ..db.connection import Store, savepoint
from ..db.events import insert_event
from ..db.rejects import LOCATION_KEEP_CHARS, bounded, store_reject
from ..errors import AutopilotError, ConfigError, InputError
from ..secrets import Secrets
from ._parsers import FORMATS, Limits, get_parser
from ._parsers.detect import detect_format
from ._records import Ignored, InboundMessage, ParsedItem, PreferenceUpdate, Rejected, StatusUpdate
from ._signature import verify
from ._statuses import apply_status

RAW_KEEP_CHARS = 65536
_IGNORED_LABEL = re.compile(r"^(?:[\w.]+\[\d+\][\w.\[\]]*: )+")
SIGNED_FORMATS = channels_where(signed_webhook=True)


class IngestError(BaseModel):
    line: int | None = None
    index: str | None = None
    source: str | None = None
    reason: str


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
        for key in ("ingested", "duplicates", "statuses", "preferences", "ignored", "rejected"):
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


def _check_signature(data: bytes, fmt: str, signature: str, config: Config, secrets: Secrets) -> None:
    if fmt not in SIGNED_FORMATS:
        raise InputError(f"--signature applies to whatsapp and instagram payloads, not {fmt}")
    channel = config.channels.get(fmt)
    env_name = getattr(channel, "app_secret_env", None)
    if not env_name:
        raise ConfigError(
            f"channels.{fmt}.app_secret_env is not set in the config; it is needed to check --signature"
        )
    verify(data, signature, secrets.require(env_name, f"app secret for channels.{fmt}"))


class _Writer:
    """Writes parsed items inside the caller's transaction, counting outcomes."""

    def __init__(self, fmt: str, source: str | None, now: str, max_bytes: int) -> None:
        self.fmt = fmt
        self.source = source
        self.now = now
        self.max_bytes = max_bytes
        self.contacts = ContactCache()
        self.report = IngestReport(format=fmt)

    def write(self, conn: sqlite3.Connection, item: ParsedItem) -> None:
        if isinstance(item, InboundMessage):
            self._message(conn, item)
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

    def _message(self, conn: sqlite3.Connection, msg: InboundMessage) -> None:
        size = len(msg.text.encode("utf-8", "surrogatepass"))
        if size > self.max_bytes:
            # Parsers check record size; this guards the text itself whatever the parser.
            reason = (f"message text is {size:,} bytes, over the limit of {self.max_bytes:,} bytes "
                      "(ingest.max_message_bytes)")
            self._reject(conn, Rejected(line=msg.line, index=msg.index, reason=reason, raw=None))
            return
        contact_id = self.contacts.contact_for(conn, msg.channel, msg.sender, msg.name, self.now)
        event_id = insert_event(
            conn,
            channel=msg.channel,
            external_id=msg.external_id,
            contact_id=contact_id,
            sender=msg.sender,
            name=msg.name,
            message_type=msg.message_type,
            text=msg.text,
            body=msg.body,
            subject=msg.subject,
            thread_id=msg.thread_id,
            reply_to_id=msg.reply_to_id,
            timezone=msg.timezone,
            automated=msg.automated,
            automated_reason=msg.automated_reason,
            metadata=json.dumps(msg.metadata, ensure_ascii=False, default=str),
            raw=_raw_text(msg.raw),
            fmt=self.fmt,
            received_at=to_iso(msg.received_at),
            ingested_at=self.now,
        )
        if event_id is not None:
            self.report.ingested += 1
            self.report.event_ids.append(event_id)
            note_away(conn, contact_id, msg.metadata.get("away_until") if msg.automated else None,
                      automated=msg.automated, received_at=to_iso(msg.received_at))
        else:
            self.report.duplicates += 1


_COUNTS = ("ingested", "duplicates", "statuses", "preferences", "ignored", "rejected")
# Data-driven failures of one record's write; OperationalError (locked, full, I/O) and
# ProgrammingError (a bug) still abort the transaction.
RECORD_WRITE_ERRORS = (InputError, ValueError, TypeError, OverflowError, RecursionError,
                       sqlite3.DataError, sqlite3.IntegrityError, sqlite3.InterfaceError)
# What a parser raises on hostile input it did not anticipate (deep nesting, a 5,000-digit
# number, a huge line); programming errors (NameError, AssertionError…) still surface.
PARSE_ERRORS = (ValueError, TypeError, LookupError, AttributeError, OverflowError, RecursionError,
                MemoryError, OSError, email.errors.MessageError)


def _storable(text: str, limit: int = 2000) -> str:
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
    raw = None if raw is None else _storable(raw, RAW_KEEP_CHARS)
    return Rejected(line=item.line, index=item.index, reason=_storable(reason), raw=raw)


def parse_guarded(parse: Callable[[], Iterable[ParsedItem]]) -> Iterator[ParsedItem]:
    """The parser's items, whatever the parser raises on hostile input.

    A failure before the first item means the input is unusable as a whole
    (``InputError``: nothing stored, a webhook answers 400); after it, the
    records already parsed are kept and one Rejected says where parsing stopped.
    """
    produced = 0
    try:
        for item in parse():
            produced += 1
            yield item
    except InputError as exc:
        if not produced:
            raise
        yield Rejected(reason=_storable(f"parsing stopped after {produced} records: {exc}"))
    except AutopilotError:
        raise
    except PARSE_ERRORS as exc:
        reason = _storable(f"input cannot be parsed ({type(exc).__name__}: {str(exc)[:200]})")
        if not produced:
            raise InputError(reason) from None
        yield Rejected(reason=f"parsing stopped after {produced} records: {reason}")


def _batches(items: Iterable[ParsedItem], size: int) -> Iterator[list[ParsedItem]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


# The format detection or a parser failing this way on one input means the input is bad,
# not our code: ``ingest_inputs`` reports that input as unusable and goes on with the others.
# Programming errors (AttributeError, KeyError, NameError, TypeError, AssertionError…) are not
# listed and still surface as "internal error".
BAD_INPUT_ERRORS = (RecursionError, ValueError, OverflowError, email.errors.MessageError)
"""ValueError covers UnicodeError, json.JSONDecodeError, pydantic's ValidationError and
int()'s digit limit."""


def describe_bad_input(exc: BaseException) -> str:
    return f"input cannot be parsed ({type(exc).__name__}: {bounded(str(exc), 200)})"


_LOOKS_LIKE = {**{name: p.payload_description for name, p in POLICIES.items()}, "mbox": "an mbox mailbox"}


def _not_jsonl(data: bytes, batch: list[ParsedItem]) -> InputError | None:
    """When no line of a ``--format jsonl`` input parses and the content is another known
    format (a pretty-printed webhook, an e-mail), say so instead of rejecting every line."""
    if not batch or not all(isinstance(item, Rejected) for item in batch):
        return None
    try:
        looks = detect_format(data)
    except (AutopilotError, *BAD_INPUT_ERRORS):
        return None
    if looks not in _LOOKS_LIKE:
        return None
    first_line = data.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0].strip()
    pretty = " (one JSON document over several lines, not one event per line)" if first_line in (b"{", b"[") else ""
    first = batch[0]
    assert isinstance(first, Rejected)
    return InputError(
        f"no line is a JSONL event (line {first.line}: {bounded(first.reason, 120)}); the content looks like "
        f"{_LOOKS_LIKE[looks]}{pretty}: use --format {looks} or --format auto"
    )


BatchCallback = Callable[[int, float | None], None]
"""Called after each committed batch with the records in it and the part of the input
done (from line numbers; None when the input has none, e.g. one JSON document)."""


def ingest_bytes(
    store: Store,
    data: bytes,
    *,
    fmt: str,
    config: Config,
    clock: Clock,
    secrets: Secrets,
    signature: str | None = None,
    source: str | None = None,
    on_batch: BatchCallback | None = None,
) -> IngestReport:
    """Ingest one input (a file's bytes, or stdin). ``fmt`` may be ``auto``.

    Raises ``InputError`` (or one of ``BAD_INPUT_ERRORS``, from the format
    detection) when the input is unusable as a whole; nothing is stored then.
    """
    explicit = fmt
    if fmt == "auto":
        fmt = detect_format(data)
    elif fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; formats are auto, {', '.join(FORMATS)}")
    if signature is not None:
        _check_signature(data, fmt, signature, config, secrets)
    parser = get_parser(fmt)
    # now: the date of last resort for a record without one (an e-mail with no Date or Received).
    limits = Limits(max_message_bytes=config.ingest.max_message_bytes, now=clock.now())
    items = parse_guarded(lambda: parser(data, limits))
    writer = _Writer(fmt, source, to_iso(clock.now()), config.ingest.max_message_bytes)
    lines = data.count(b"\n") + 1 if on_batch else 1
    # The first batch is parsed before any write: an input that is unusable as a whole
    # raises InputError here, with nothing stored. After it, parse_guarded turns a parser
    # that gives up into one reject saying where, and write_isolated a record the database
    # cannot take into a reject: an input is refused whole or stored with its bad records
    # as rejects, never cut short silently.
    first = True
    for batch in _batches(items, config.ingest.batch_size):
        if first and explicit == "jsonl" and (refusal := _not_jsonl(data, batch)):
            raise refusal
        first = False
        with store.transaction() as conn:
            for item in batch:
                writer.write_isolated(conn, item)
        if on_batch:
            line = next((item.line for item in reversed(batch) if item.line is not None), None)
            on_batch(len(batch), None if line is None else min(1.0, line / lines))
    return writer.report
