"""``--format auto``: tell the input's format from its first bytes.

JSON with ``"object": "whatsapp_business_account"`` is a WhatsApp webhook,
``"object": "instagram"`` an Instagram one; a JSON object with ``channel`` is
the normalized JSONL format; ``resourceName``/``elements`` is LinkedIn's
Compliance Events shape. Text starting ``From `` is mbox; text starting with
RFC 5322 header lines is one email message.
"""

from __future__ import annotations

import re

from ...errors import UnknownFormat
from ._common import BadJson, loads

_HEADER_LINE = re.compile(rb"^[!-9;-~]+:[ \t]")  # RFC 5322 field-name, colon


_LINE = re.compile(rb"[^\r\n]+")  # the line breaks bytes.splitlines() knows


def _first_line(data: bytes) -> bytes:
    """The first line that is not blank, found without splitting the whole input."""
    for match in _LINE.finditer(data):
        if match.group().strip():
            return match.group()
    return b""


def _first_json_value(data: bytes) -> object:
    # The first line alone first: when it is a complete JSON value, the whole
    # input is either that same value or not JSON at all, and a large JSONL
    # file is not decoded in full (a 36 MB file with one emoji became a
    # 144 MB UCS-4 string just to be told "Extra data").
    try:
        return loads(_first_line(data))
    except BadJson:
        pass
    try:
        return loads(data)  # one pretty-printed document
    except BadJson as exc:
        # Deep nesting or a 5,000-digit number once escaped from here as a crash.
        raise UnknownFormat(f"input is not valid JSON ({exc})") from None


def _from_json(value: object) -> str | None:
    if isinstance(value, dict):
        obj = value.get("object")
        if obj == "whatsapp_business_account":
            return "whatsapp"
        if obj == "instagram":
            return "instagram"
        if "channel" in value:
            return "jsonl"
        if value.get("resourceName") or "elements" in value:
            return "linkedin"
    return None


def detect_format(data: bytes) -> str:
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise UnknownFormat("input is empty")
    nul = head.find(b"\x00", 0, 4096)
    if nul >= 0:
        raise UnknownFormat(f"input is binary, not text (NUL byte at offset {nul})")
    if head[:1] in (b"{", b"["):
        fmt = _from_json(_first_json_value(data))
        if fmt:
            return fmt
        raise UnknownFormat(
            "input is JSON but not a format autopilot knows "
            "(expected a WhatsApp or Instagram webhook, LinkedIn events or JSONL events); use --format"
        )
    if head.startswith(b"From "):
        return "mbox"
    if _HEADER_LINE.match(head):
        return "email"
    raise UnknownFormat("cannot tell the input's format from its first bytes; use --format")
