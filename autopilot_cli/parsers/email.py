"""Email: one RFC 5322 message (an .eml file) or an mbox file of many.

Each message becomes one ``InboundMessage`` keyed by its Message-ID. The
drafter gets ``text``: the new part of the message, with quoted history and
signature removed (``email_clean``); the full text is kept in ``body``.
Machine-generated mail (RFC 3834 auto-replies, mailing lists, bounces,
no-reply senders) is flagged ``automated`` with the header that gave it away,
so that nothing answers a robot and starts a loop.

A message that cannot be used (too big, no From, no date) is ``Rejected``;
input that is not mail at all raises ``InputError``.

mbox files (RFC 4155) are split on "From " lines that start a message: at the
start of the file, after a blank line, or in the classic asctime form. Body
lines escaped as ">From " are unescaped the mboxrd way (one ">" removed from
any ">...>From " line).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import parseaddr
from typing import Any

from ..addresses import AddressError, normalize_address
from ..errors import InputError
from ..events import InboundMessage, ParsedItem, Rejected
from . import email_headers as hdr
from ._common import Limits, too_big
from .email_body import extract_body
from .email_clean import clean_body

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


class _Reject(Exception):
    """This message is unusable; the reason goes into ``Rejected``."""


def parse(data: bytes, limits: Limits) -> Iterator[ParsedItem]:
    """One message from an .eml file."""
    message = _strip_envelope(data.removeprefix(b"\xef\xbb\xbf"))
    _check_is_message(message, "input")
    yield _parse_message(message, limits, line=None, index=None)


def parse_mbox(data: bytes, limits: Limits) -> Iterator[ParsedItem]:
    """One item per message of an mbox file; ``line`` is the message's "From " line."""
    if not data.startswith(b"From "):
        raise InputError("not an mbox file: first line does not start with 'From '")
    for i, (line, message) in enumerate(_split_mbox(data)):
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


def _split_mbox(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(1-based line of the "From " line, unescaped message bytes) per message."""
    starts = [
        (m.start(), m.end())
        for m in _MBOX_SEPARATOR.finditer(data)
        if m.start() == 0 or data[: m.start()].endswith((b"\n\n", b"\n\r\n")) or _ASCTIME_FROM_LINE.match(m.group())
    ]
    line, counted_to = 1, 0
    for i, (start, content_start) in enumerate(starts):
        line += data.count(b"\n", counted_to, start)
        counted_to = start
        end = starts[i + 1][0] if i + 1 < len(starts) else len(data)
        chunk = data[content_start:end]
        # The blank line before the next "From " line belongs to the mbox, not the message.
        if chunk.endswith(b"\r\n\r\n"):
            chunk = chunk[:-2]
        elif chunk.endswith(b"\n\n"):
            chunk = chunk[:-1]
        yield line, _MBOXRD_ESCAPE.sub(rb"\1", chunk)


def _parse_message(data: bytes, limits: Limits, line: int | None, index: str | None) -> ParsedItem:
    reason = too_big(len(data), limits)
    if reason:
        return Rejected(reason=reason, line=line, index=index)
    raw = data.decode("utf-8", errors="replace")
    try:
        return _build(data, raw, line, index)
    except _Reject as exc:
        return Rejected(reason=str(exc), line=line, index=index, raw=raw)
    except Exception as exc:  # noqa: BLE001
        # The stdlib email package raises on some malformed input (a history of
        # IndexError/HeaderParseError bugs); one bad message must not stop the batch.
        return Rejected(reason=f"unreadable message ({type(exc).__name__}: {exc})", line=line, index=index, raw=raw)


def _build(data: bytes, raw: str, line: int | None, index: str | None) -> InboundMessage:
    msg = BytesParser(policy=policy.default).parsebytes(data)
    sender, name = _sender(msg)
    ids = hdr.message_ids(hdr.first_raw(msg, "Message-ID"))
    external_id = ids[0] if ids else "sha256:" + hashlib.sha256(data).hexdigest()
    received_at, date_meta = _received_at(msg)
    in_reply_to = (hdr.message_ids(hdr.first_raw(msg, "In-Reply-To")) or [None])[0]
    references = hdr.message_ids(" ".join(hdr.raw_values(msg, "References")))
    body = extract_body(msg)
    text = clean_body(body.reply) or body.full
    markers = hdr.automation_markers(msg, sender)
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
    return InboundMessage(
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
    )


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
        sender = normalize_address("email", addr)
    except AddressError:
        raise _Reject(f"invalid From header: {from_raw[:_INVALID_FROM_SHOWN]!r}") from None
    if not display:
        # "addr (Name)": the old comment form, which policy.default does not read as a name.
        display = parseaddr(from_raw)[0]
    name = " ".join(display.split()) if display else None
    return sender, name or None


def _received_at(msg: Message) -> tuple[datetime, dict[str, Any]]:
    """The Date header in UTC, else the first hop's Received date; with metadata."""
    date_raw = hdr.first_raw(msg, "Date")
    sent = hdr.parse_date(date_raw)
    if sent is not None and date_raw is not None:
        meta = {"date_source": "Date", "date_utc_offset": hdr.utc_offset(sent, date_raw)}
        return sent.astimezone(timezone.utc), meta
    # The receiving server's zone says nothing about the sender's, so no offset.
    received = hdr.received_date(msg)
    if received is None:
        raise _Reject("no usable Date header")
    return received.astimezone(timezone.utc), {"date_source": "Received", "date_utc_offset": None}


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

