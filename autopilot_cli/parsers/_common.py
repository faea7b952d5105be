"""Helpers shared by the parsers: decoding, JSON documents, size limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import InputError


@dataclass(frozen=True)
class Limits:
    max_message_bytes: int = 1_000_000
    """A single record (line, message, document part) larger than this is rejected."""


def decode_text(data: bytes, what: str = "input") -> str:
    """UTF-8 text, or an InputError naming the first bad byte (binary garbage)."""
    nul = data.find(b"\x00", 0, 65536)
    if nul >= 0:
        raise InputError(f"{what} is binary, not text (NUL byte at offset {nul})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} is not UTF-8 text (invalid byte at offset {exc.start})") from None
    return text.removeprefix("\ufeff")


def describe_size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    if n >= 1000:
        return f"{n / 1000:.1f} kB"
    return f"{n} bytes"


def too_big(n: int, limits: Limits) -> str | None:
    """The rejection reason when a record of n bytes is over the limit, else None."""
    if n > limits.max_message_bytes:
        # Exact bytes: "1.0 MB over the 1.0 MB limit" cannot tell the operator by how much.
        return (
            f"record is {n:,} bytes ({describe_size(n)}), over the limit of "
            f"{limits.max_message_bytes:,} bytes (ingest.max_message_bytes)"
        )
    return None


@dataclass
class JsonDocument:
    value: Any
    line: int | None
    """1-based line when the input held one document per line; None for a single document."""


def iter_json_documents(data: bytes) -> Iterator[JsonDocument | tuple[int, str]]:
    """One JSON document (possibly pretty-printed), or one document per line.

    Yields ``JsonDocument`` for good documents and ``(line, reason)`` tuples for
    lines that do not parse. Raises InputError when the input is not text or is
    neither a JSON document nor JSON lines.
    """
    text = decode_text(data)
    stripped = text.strip()
    if not stripped:
        raise InputError("input is empty")
    try:
        yield JsonDocument(json.loads(stripped), None)
        return
    except json.JSONDecodeError as exc:
        single_error = exc
    lines = text.splitlines()
    if len([ln for ln in lines if ln.strip()]) < 2:
        raise InputError(
            f"input is not valid JSON ({single_error.msg} at line {single_error.lineno}, "
            f"column {single_error.colno})"
        )
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            yield JsonDocument(json.loads(raw), number)
        except json.JSONDecodeError as exc:
            yield (number, f"invalid JSON: {exc.msg} at column {exc.colno}")


def json_path(*parts: str | int) -> str:
    """``json_path("entry", 0, "changes", 1)`` → ``entry[0].changes[1]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out
