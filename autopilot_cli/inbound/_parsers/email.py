"""Email: one RFC 5322 message (an .eml file) or an mbox file of many.

Each message becomes one ``InboundMessage`` keyed by its Message-ID. The
drafter gets ``text``: the new part of the message, with quoted history and
signature removed (``email_clean``); the full text is kept in ``body``.
Machine-generated mail (RFC 3834 auto-replies, mailing lists, bounces,
no-reply senders) is flagged ``automated`` with the header that gave it away,
so that nothing answers a robot and starts a loop.

A message that cannot be used (too big, no From, no text, a structure past the
bounds below) is ``Rejected``; input that is not mail at all raises ``InputError``.

The date is the Date header's; without a usable one, the newest Received
header's (the topmost: the hop nearest us, normally our own server), else the
time of ingest; ``metadata.date_source`` says which ("Date", "Received",
"ingest").

Hostile mail is bounded before the stdlib parser sees it (fuzzing found minutes
of CPU and gigabytes of RSS): at most MAX_HEADER_FIELDS header fields and
MAX_MIME_CONTAINERS multipart/message parts, each header field cut to
MAX_FIELD_BYTES (``metadata.truncated`` names what was cut), and raw 8-bit
header bytes decoded as UTF-8 (else windows-1252) rather than left as lone
surrogates SQLite cannot store.

mbox files (RFC 4155) are split on "From " lines that start a message: at the
start of the file, after a blank line, or in the classic asctime form. Body
lines escaped as ">From " are unescaped the mboxrd way (one ">" removed from
any ">...>From " line).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import parseaddr
from typing import Any

from ...contacts import AddressError, normalize_address
from ...errors import InputError
from .._records import InboundMessage, ParsedItem, Rejected
from . import email_headers as hdr
from ._common import Limits, in_range, repair_strings, repair_text, too_big
from .email_body import extract_body
from .email_clean import clean_body
from .out_of_office import detect_out_of_office

# A header field name is printable ASCII without ":" (RFC 5322 2.2); obsolete
# syntax allows blanks before the colon.
_HEADER_FIELD = re.compile(rb"[!-9;-~]+[ \t]*:")
# How far to look for the blank line ending the header block.
_HEADER_SCAN_BYTES = 256 * 1024

_MBOX_SEPARATOR = re.compile(rb"^From [^\n]*\n?", re.MULTILINE)
_ASCTIME_FROM_LINE = re.compile(
    rb"From \S+ +(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) +(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d"
)
_MBOXRD_ESCAPE = re.compile(rb"^>(>*From )", re.MULTILINE)
_INVALID_FROM_SHOWN = 80
_LEADING_BLANK_LINES = re.compile(rb"(?:[ \t]*\r?\n)*")

# Real mail has tens of header fields (a few hundred with long relay chains) and a
# handful of nested MIME containers; past these the message is refused, before the
# stdlib parser (recursive in the nesting, slow in the part count) is run.
MAX_HEADER_FIELDS = 2000
MAX_MIME_CONTAINERS = 100
MAX_MIME_PARTS = 1000
# The stdlib's structured header parser is superlinear in a field's length (a
# 280 kB Subject of encoded words took 6 s and 2.7 GB); no real field comes near.
MAX_FIELD_BYTES = 16 * 1024
_FIELD = re.compile(rb"^[^ \t\r\n][^\n]*(?:\n[ \t][^\n]*)*", re.MULTILINE)
_FIELD_NAME = re.compile(rb"^[!-9;-~]+[ \t]*:", re.MULTILINE)
_CONTAINER = re.compile(rb"^content-type[ \t]*:\s*\"?(?:multipart|message)/", re.MULTILINE | re.IGNORECASE)
_BOUNDARY = re.compile(rb"boundary\s*=\s*\"?([^\"\s;]{1,200})", re.IGNORECASE)
# Whitespace-separated words holding 8-bit bytes, with the blanks between them (one
# encoded word for the run: blanks between two encoded words are dropped on decoding).
_8BIT_RUN = re.compile(rb"[^\s]*[\x80-\xff][^\s]*(?:[ \t]+[^\s]*[\x80-\xff][^\s]*)*")
_SPECIALS = re.compile(rb'[<>@,;:\\"()\[\]=?]')


class _Reject(Exception):
    """This message is unusable; the reason goes into ``Rejected``."""


def parse(data: bytes, limits: Limits) -> Iterator[ParsedItem]:
    """One message from an .eml file."""
    message = _strip_envelope(data.removeprefix(b"\xef\xbb\xbf"))
    _check_is_message(message, "input")
    yield _parse_message(message, limits, line=None, index=None)


def parse_mbox(data: bytes, limits: Limits) -> Iterator[ParsedItem]:
    """One item per message of an mbox file; ``line`` is the message's "From " line.

    Blank lines before the first "From " line are skipped, as Python's ``mailbox``
    does (some exporters write one), instead of refusing the whole file.
    """
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    blank = _LEADING_BLANK_LINES.match(data, start)  # always matches, maybe empty
    start = blank.end() if blank else start
    if not data.startswith(b"From ", start):
        raise InputError("not an mbox file: the first line that is not blank does not start with 'From '")
    for i, (line, message) in enumerate(_split_mbox(data, start)):
        index = f"message[{i}]"
        try:
            _check_is_message(message, "mbox entry")
        except InputError as exc:
            yield Rejected(reason=str(exc), line=line, index=index)
            continue
        yield _parse_message(message, limits, line=line, index=index)


def _strip_envelope(data: bytes) -> bytes:
    """Drop an mbox "From " envelope line that some tools leave on .eml files."""
    if data.startswith(b"From "):
        _, _, rest = data.partition(b"\n")
        return rest
    return data


def _check_is_message(data: bytes, what: str) -> None:
    """Raise InputError unless the bytes start like an RFC 5322 header block."""
    if not data.strip():
        raise InputError(f"{what} is empty")
    end = re.search(rb"\r?\n\r?\n", data[:_HEADER_SCAN_BYTES])
    headers = data[: end.start() if end else _HEADER_SCAN_BYTES]
    nul = headers.find(b"\x00")
    if nul >= 0:
        raise InputError(f"{what} is binary, not an email message (NUL byte at offset {nul})")
    if not _HEADER_FIELD.match(data):
        raise InputError(f"{what} is not an email message: it does not start with a header field")


def _split_mbox(data: bytes, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """(1-based line of the "From " line, unescaped message bytes) per message.

    Linear in the input: each candidate "From " line is checked in place (copying
    the input up to it, as this once did, was quadratic), and messages are yielded
    as they are found rather than listed first.
    """

    def starts() -> Iterator[tuple[int, int]]:
        for m in _MBOX_SEPARATOR.finditer(data, start):
            at = m.start()
            if at == start or data.endswith((b"\n\n", b"\n\r\n"), 0, at) or _ASCTIME_FROM_LINE.match(m.group()):
                yield at, m.end()

    line, counted_to = 1 + data.count(b"\n", 0, start), start
    found = starts()
    current = next(found, None)
    while current is not None:
        at, content_start = current
        following = next(found, None)
        line += data.count(b"\n", counted_to, at)
        counted_to = at
        chunk = data[content_start : following[0] if following else len(data)]
        # The blank line before the next "From " line belongs to the mbox, not the message.
        if chunk.endswith(b"\r\n\r\n"):
            chunk = chunk[:-2]
        elif chunk.endswith(b"\n\n"):
            chunk = chunk[:-1]
        yield line, _MBOXRD_ESCAPE.sub(rb"\1", chunk)
        current = following


def _encode_8bit(field: bytes) -> bytes:
    """A header field whose raw 8-bit words (RFC 6532 UTF-8, or legacy Latin-1) are
    rewritten as RFC 2047 encoded words: the e-mail package reads raw 8-bit bytes
    as lone surrogates or mojibake. A run of words containing address or quoting
    specials is left alone (an encoded word may not stand there): repaired later."""

    def encode(match: re.Match[bytes]) -> bytes:
        run = match.group()
        if _SPECIALS.search(run):
            return run
        text = repair_text(run.decode("ascii", "surrogateescape"))
        return b"=?utf-8?b?" + base64.b64encode(text.encode("utf-8")) + b"?="

    name, colon, value = field.partition(b":")
    return name + colon + _8BIT_RUN.sub(encode, value)


def _bounded(data: bytes) -> tuple[bytes, list[str]]:
    """The message with every header field cut to MAX_FIELD_BYTES and raw 8-bit
    words encoded, and the names of the fields cut; a _Reject when the structure is
    past the bounds."""
    end = re.search(rb"\r?\n\r?\n", data)
    header_end = end.start() if end else len(data)
    head = data[:header_end]
    fields = sum(1 for _ in _FIELD_NAME.finditer(head))
    if fields > MAX_HEADER_FIELDS:
        raise _Reject(f"too many header fields ({fields:,}; at most {MAX_HEADER_FIELDS:,})")
    containers = sum(1 for _ in _CONTAINER.finditer(data))
    if containers > MAX_MIME_CONTAINERS:
        raise _Reject(f"too many nested MIME parts ({containers:,} multipart or message parts; "
                      f"at most {MAX_MIME_CONTAINERS})")
    if containers:
        boundaries = {m.group(1) for m in _BOUNDARY.finditer(data)}
        parts = sum(data.count(b"\n--" + boundary) for boundary in boundaries)
        if parts > MAX_MIME_PARTS:
            raise _Reject(f"too many MIME parts ({parts:,}; at most {MAX_MIME_PARTS:,})")
    cut: list[str] = []
    if len(head) <= MAX_FIELD_BYTES and head.isascii():
        return data, cut
    pieces, done, changed = [], 0, False
    for match in _FIELD.finditer(head):
        field = match.group()
        if len(field) > MAX_FIELD_BYTES:
            keep = field[:MAX_FIELD_BYTES]
            # Cut after a separator, not inside an address or an encoded word.
            sep = max(keep.rfind(b","), keep.rfind(b" "), keep.rfind(b"\t"))
            field = (keep[:sep] if sep > MAX_FIELD_BYTES // 2 else keep).rstrip(b"\r\n \t,")
            cut.append(field.split(b":", 1)[0].decode("ascii", "replace").strip())
        if not field.isascii():
            field = _encode_8bit(field)
        if field is not match.group():
            pieces += [head[done : match.start()], field]
            done, changed = match.end(), True
    if not changed:
        return data, cut
    return b"".join([*pieces, data[done:]]), cut


def _parse_message(data: bytes, limits: Limits, line: int | None, index: str | None) -> ParsedItem:
    reason = too_big(len(data), limits)
    if reason:
        return Rejected(reason=reason, line=line, index=index)
    raw = data.decode("utf-8", errors="replace")
    try:
        return _build(data, raw, line, index, limits.now)
    except _Reject as exc:
        return Rejected(reason=str(exc), line=line, index=index, raw=raw)
    except Exception as exc:
        # The stdlib email package raises on some malformed input (a history of
        # IndexError/HeaderParseError bugs); one bad message must not stop the batch.
        return Rejected(reason=f"unreadable message ({type(exc).__name__}: {exc})", line=line, index=index, raw=raw)


def _build(data: bytes, raw: str, line: int | None, index: str | None, now: datetime | None) -> InboundMessage:
    bounded, truncated = _bounded(data)
    msg = BytesParser(policy=policy.default).parsebytes(bounded)
    sender, name = _sender(msg)
    ids = hdr.message_ids(hdr.first_raw(msg, "Message-ID"))
    external_id = ids[0] if ids else "sha256:" + hashlib.sha256(data).hexdigest()
    received_at, date_meta = _received_at(msg, now)
    reply_ids = hdr.message_ids(hdr.first_raw(msg, "In-Reply-To"))
    in_reply_to = reply_ids[0] if reply_ids else None
    references = hdr.message_ids(" ".join(hdr.raw_values(msg, "References")))
    body = extract_body(msg)
    text = clean_body(body.reply) or body.full
    if not text.strip():
        text = _stand_in_text(msg, body.attachments)
    markers = hdr.automation_markers(msg, sender)
    away = detect_out_of_office(hdr.decoded(msg, "Subject"), text, received_at)
    metadata: dict[str, Any] = {
        "message_id_missing": not ids,
        **date_meta,
        "in_reply_to": in_reply_to,
        "references": references,
        **_envelope_metadata(msg),
        "attachments": body.attachments,
        "body_source": body.source,
        "hidden_text": body.hidden_text,
        "automated_markers": markers,
    }
    if away is not None and (away.certain or markers):
        # An auto-reply subject (or RFC 3834 headers) says so: never answered, and the sender's
        # return date holds our other replies to them.
        if not markers:
            markers.append(away.marker)
        metadata["out_of_office"] = away.marker
        metadata["away_until"] = away.away_until.isoformat() if away.away_until else None
    elif away is not None:
        # Only the first lines read like one: a person decides (process routes it to review).
        metadata["possible_out_of_office"] = away.marker
    if truncated:
        metadata["truncated"] = [f"header {name}" for name in truncated]
    return _repaired(InboundMessage(
        line=line,
        index=index,
        channel="email",
        external_id=external_id,
        sender=sender,
        text=text,
        body=body.full if body.full != text else None,
        received_at=received_at,
        message_type="email",
        name=name,
        thread_id=references[0] if references else in_reply_to or external_id,
        subject=hdr.decoded(msg, "Subject") or None,
        reply_to_id=in_reply_to,
        automated=bool(markers),
        automated_reason=markers[0] if markers else None,
        metadata=metadata,
        raw=raw,
    ))


def _repaired(item: InboundMessage) -> InboundMessage:
    """The message with raw 8-bit header bytes (lone surrogates after the e-mail
    package's surrogateescape) decoded as text: SQLite refuses lone surrogates."""
    for field in type(item).model_fields:
        value = getattr(item, field)
        if isinstance(value, (str, list, dict)):
            setattr(item, field, repair_strings(value))
    return item


def _stand_in_text(msg: Message, attachments: list[str]) -> str:
    """What the drafter sees for a message without body text: the subject, else the
    attachments; an empty message is refused (nothing to answer)."""
    subject = hdr.decoded(msg, "Subject")
    if subject and subject.strip():
        return subject
    if attachments:
        return f"[{len(attachments)} attachment(s): {', '.join(attachments[:5])}]"
    raise _Reject("message has no text (empty body, no subject, no attachment)")


def _sender(msg: Message) -> tuple[str, str | None]:
    """(normalized address, display name) from the From header."""
    from_raw = hdr.first_raw(msg, "From")
    if from_raw is None or not from_raw.strip():
        raise _Reject("missing From header")
    found = hdr.addresses(msg, "From")
    try:
        if not found:
            raise AddressError(from_raw)
        display, addr = found[0]
        sender = normalize_address("email", repair_text(addr))
    except AddressError:
        raise _Reject(f"invalid From header: {from_raw[:_INVALID_FROM_SHOWN]!r}") from None
    if not display:
        # "addr (Name)": the old comment form, which policy.default does not read as a name.
        display = parseaddr(from_raw)[0]
    name = " ".join(repair_text(display).split()) if display else None
    return sender, name or None


def _received_at(msg: Message, now: datetime | None) -> tuple[datetime, dict[str, Any]]:
    """The Date header in UTC, else the newest Received header's date, else the
    ingest time; ``date_source`` in the metadata says which.

    A date outside 1970-2199 is not usable (a broken clock, or a year 0001 that
    overflowed on conversion to UTC). Real replies without a Date header exist
    (2 of 11 in public test suites): refusing them lost the customer's message.
    """
    date_raw = hdr.first_raw(msg, "Date")
    sent = hdr.parse_date(date_raw)
    if sent is not None and date_raw is not None and in_range(sent):
        meta = {"date_source": "Date", "date_utc_offset": hdr.utc_offset(sent, date_raw)}
        return sent.astimezone(UTC), meta
    # The receiving server's zone says nothing about the sender's, so no offset.
    received = _newest_received(msg)
    if received is not None:
        return received, {"date_source": "Received", "date_utc_offset": None}
    if now is None:
        raise _Reject("no usable Date or Received header")
    return now.astimezone(UTC), {"date_source": "ingest", "date_utc_offset": None}


def _newest_received(msg: Message) -> datetime | None:
    """The date of the topmost Received header that has a usable one: the last hop,
    added by the server nearest us (the ones below it the sender can forge)."""
    for value in hdr.raw_values(msg, "Received"):
        _, sep, stamp = value.rpartition(";")
        when = hdr.parse_date(stamp) if sep else None
        if when is not None and in_range(when):
            return when.astimezone(UTC)
    return None


def _envelope_metadata(msg: Message) -> dict[str, Any]:
    list_id = hdr.first_raw(msg, "List-Id")
    if list_id is not None:
        list_id = (hdr.message_ids(list_id) or [list_id])[0]
    return {
        "to": hdr.normalized_addresses(msg, "To"),
        "cc": hdr.normalized_addresses(msg, "Cc"),
        "reply_to": hdr.normalized_addresses(msg, "Reply-To"),
        "return_path": hdr.return_path(msg),
        "list_id": list_id,
        "auto_submitted": hdr.header_token(hdr.first_raw(msg, "Auto-Submitted")),
        "precedence": hdr.header_token(hdr.first_raw(msg, "Precedence")),
    }

