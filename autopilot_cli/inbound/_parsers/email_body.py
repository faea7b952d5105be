"""The readable body of a MIME message: text/plain preferred, else HTML as text.

Charsets are taken from the part but never trusted blindly: mail labelled
us-ascii or iso-8859-1 is very often UTF-8 or windows-1252, unknown labels
exist, and some codec names Python knows are not text codecs at all
("base64", "idna"). Whatever the bytes, decoding ends in text, with
U+FFFD for what could not be decoded.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from email.message import Message

from .html_text import html_texts

# Labels that mailers attach to bytes that are usually something else.
_ASCII_LABELS = frozenset({"", "us-ascii", "ascii", "ansi_x3.4-1968", "us", "iso646-us", "x-unknown", "unknown-8bit"})
_LATIN1_CODEC = codecs.lookup("latin-1").name


@dataclass
class Body:
    full: str
    """Everything readable (for HTML: visible text including quoted history)."""
    reply: str
    """For HTML bodies, the text with client-marked quotes and signatures removed."""
    source: str
    """"text/plain", "text/html" or "none"."""
    hidden_text: bool = False
    attachments: list[str] = field(default_factory=list)


def _try_decode(payload: bytes, codec: str) -> str | None:
    try:
        return payload.decode(codec)
    except (UnicodeError, LookupError, ValueError):
        return None


def decode_payload(payload: bytes, charset: str | None) -> str:
    """Text from a part's bytes and declared charset; never raises."""
    label = (charset or "").strip().lower()
    if label in _ASCII_LABELS:
        return _try_decode(payload, "utf-8") or payload.decode("cp1252", errors="replace")
    try:
        codec = codecs.lookup(label).name
    except (LookupError, ValueError, TypeError):
        return _try_decode(payload, "utf-8") or payload.decode("cp1252", errors="replace")
    if codec == _LATIN1_CODEC:
        # Browsers treat iso-8859-1 as windows-1252 (WHATWG): mailers do the
        # same and send curly quotes and euro signs in the 0x80-0x9f range.
        return _try_decode(payload, "cp1252") or payload.decode(_LATIN1_CODEC)
    try:
        return payload.decode(codec, errors="replace")
    except (UnicodeError, LookupError, ValueError):
        # Not a text codec, or one that refuses errors="replace" (idna).
        return payload.decode("utf-8", errors="replace")


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return normalize_newlines(decode_payload(payload, part.get_content_charset()))


def _attachment_name(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    return str(name) if name else f"({part.get_content_type()})"


def _is_attachment(part: Message) -> bool:
    try:
        return part.get_content_disposition() == "attachment" or part.get_filename() is not None
    except Exception:
        return True


def _leaves(part: Message, attachments: list[str]) -> list[tuple[str, Message]]:
    """Inline ("plain" | "html", part) leaves in order; attachments recorded by name.

    Forwarded messages (message/rfc822) are not descended into: their text
    is the old thread, not this message.
    """
    ctype = part.get_content_type()
    if part.get_content_maintype() == "message":
        attachments.append(_attachment_name(part))
        return []
    if part.is_multipart():
        subparts = part.get_payload()
        return [leaf for sub in subparts if isinstance(sub, Message) for leaf in _leaves(sub, attachments)]
    if _is_attachment(part):
        attachments.append(_attachment_name(part))
        return []
    if ctype == "text/html":
        return [("html", part)]
    if ctype == "text/plain" or part.get_content_maintype() == "multipart":
        # A multipart without a usable boundary arrives as one text payload.
        return [("plain", part)]
    attachments.append(_attachment_name(part))
    return []


def extract_body(msg: Message) -> Body:
    """The body text a reader would read first, with the attachment names."""
    attachments: list[str] = []
    leaves = _leaves(msg, attachments)
    plain = [p for kind, p in leaves if kind == "plain"]
    # One parse per HTML part gives both texts and the hidden flag (it was three).
    html = [html_texts(_part_text(p)) for kind, p in leaves if kind == "html"]
    # Hidden HTML text is reported even when text/plain wins: the human reads
    # the HTML alternative, so text only a machine sees matters either way.
    hidden = any(h.hidden_text for h in html)
    if plain:
        text = "\n\n".join(t for t in (_part_text(p).strip("\n") for p in plain) if t.strip())
        return Body(text, text, "text/plain", hidden, attachments)
    if html:
        full = "\n\n".join(h.full for h in html)
        reply = "\n\n".join(h.reply for h in html)
        return Body(full.strip("\n"), reply.strip("\n"), "text/html", hidden, attachments)
    return Body("", "", "none", hidden, attachments)
