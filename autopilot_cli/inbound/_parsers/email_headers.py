"""Reading RFC 5322 headers defensively: values, addresses, message ids, dates,
and the RFC 3834 markers of automatically generated mail.

``email.policy.default`` decodes RFC 2047 encoded words and parses addresses,
but its header parser has raised on malformed input in the past (and senders
produce plenty), so every structured read falls back to the raw value.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from ...contacts import AddressError, normalize_address

_MSG_ID = re.compile(r"<([^<>\s]+)>")
_FOLD = re.compile(r"\r?\n(?=[ \t])")

# Senders that are robots by name (bounces, no-reply mailboxes), with an
# optional suffix as in "no-reply-aws" or "noreply+tag".
_ROBOT_LOCAL_PART = re.compile(
    r"^(mailer-daemon|postmaster|no[-_.]?reply|do[-_.]?not[-_.]?reply)(?:[-+_.].*)?$", re.IGNORECASE
)
_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk", "auto_reply"})


def raw_values(msg: Message, name: str) -> list[str]:
    """Every value of a header as received, unfolded, without policy parsing."""
    wanted = name.lower()
    out = []
    for key, value in msg.raw_items():
        if key.lower() == wanted:
            text = value if isinstance(value, str) else str(value)
            out.append(" ".join(_FOLD.sub("", text).splitlines()).strip())
    return out


def first_raw(msg: Message, name: str) -> str | None:
    values = raw_values(msg, name)
    return values[0] if values else None


def decoded(msg: Message, name: str) -> str | None:
    """A header's text with RFC 2047 encoded words decoded; None when absent."""
    raw = first_raw(msg, name)
    if raw is None:
        return None
    try:
        text = str(msg[name])
    except Exception:
        try:
            text = str(make_header(decode_header(raw)))
        except Exception:
            text = raw
    return " ".join(text.split())


def addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    """(display name, addr-spec) pairs of an address header, groups flattened."""
    if first_raw(msg, name) is None:
        return []
    try:
        header: Any = msg[name]  # email.headerregistry.AddressHeader under the default policy
        pairs = [(a.display_name, a.addr_spec) for a in header.addresses]
    except Exception:
        pairs = []
    if not any(addr for _, addr in pairs):
        pairs = getaddresses(raw_values(msg, name))
    return [(display, addr) for display, addr in pairs if addr]


def normalized_addresses(msg: Message, name: str) -> list[str]:
    """Lower-cased addr-specs of a header; unusable addresses are skipped."""
    out = []
    for _, addr in addresses(msg, name):
        try:
            out.append(normalize_address("email", addr))
        except AddressError:
            continue
    return out


def message_ids(value: str | None) -> list[str]:
    """Message ids without angle brackets; bare tokens when a mailer omitted them."""
    if not value:
        return []
    ids = _MSG_ID.findall(value)
    if ids:
        return ids
    return [token.strip("<>,") for token in value.split() if token.strip("<>,")]


def parse_date(value: str | None) -> datetime | None:
    """An RFC 5322 date as an aware datetime; None when absent or unparseable.

    "-0000" means "UTC, local zone unknown" (RFC 5322 3.3) and comes back naive
    from the stdlib; it is taken as UTC.
    """
    if not value or not value.strip():
        return None
    try:
        dt = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt


def utc_offset(dt: datetime, raw: str) -> str | None:
    """"+01:00" for the Date header's zone; None for "-0000" (zone unknown)."""
    if re.search(r"-0000\s*(?:\(.*\))?\s*$", raw):
        return None
    offset = dt.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def received_date(msg: Message) -> datetime | None:
    """The date of the last Received header: the first hop, nearest the sender."""
    for value in reversed(raw_values(msg, "Received")):
        _, sep, stamp = value.rpartition(";")
        dt = parse_date(stamp) if sep else None
        if dt is not None:
            return dt
    return None


def header_token(value: str | None) -> str | None:
    """The first token of a header value, lower-cased ("auto-replied; x=y" → "auto-replied")."""
    if value is None:
        return None
    return value.split(";", 1)[0].strip().lower() or None


def automation_markers(msg: Message, sender: str) -> list[str]:
    """Why this message looks machine-generated (RFC 3834 and common practice).

    Each marker names the header that gave it away; an empty list means a
    human most likely wrote the message. Answering such mail automatically
    starts loops with other robots.
    """
    markers = []
    auto_submitted = header_token(first_raw(msg, "Auto-Submitted"))
    if auto_submitted and auto_submitted != "no":
        markers.append(f"Auto-Submitted: {auto_submitted}")
    precedence = header_token(first_raw(msg, "Precedence"))
    if precedence in _BULK_PRECEDENCE:
        markers.append(f"Precedence: {precedence}")
    for name in ("List-Id", "List-Unsubscribe", "X-Autoreply", "X-Autorespond"):
        if first_raw(msg, name) is not None:
            markers.append(name)
    return_path = first_raw(msg, "Return-Path")
    if return_path is not None and re.fullmatch(r"<\s*>", return_path):
        markers.append("Return-Path: <>")
    if msg.get_content_type() == "multipart/report":
        # Delivery and read reports (RFC 6522) are always machine-generated.
        markers.append("Content-Type: multipart/report")
    local_part = sender.rpartition("@")[0]
    if _ROBOT_LOCAL_PART.match(local_part):
        markers.append(f"From: {local_part}")
    return markers


def return_path(msg: Message) -> str | None:
    """The Return-Path address, "<>" for the null path, None when absent."""
    value = first_raw(msg, "Return-Path")
    if value is None:
        return None
    if re.fullmatch(r"<\s*>", value):
        return "<>"
    try:
        return normalize_address("email", value)
    except AddressError:
        return value
