"""Helpers shared by the parsers: decoding, JSON documents, size limits, and the
bounds that keep hostile input from crashing or stalling a parser.

Fuzzing found inputs that made parsers raise instead of rejecting:
JSON nested thousands deep (RecursionError), 5,000-digit numbers (ValueError from
the int-digit limit), timestamps out of ``datetime``'s range (OverflowError, or
OSError EOVERFLOW from the C library), lone surrogates that SQLite cannot store
(UnicodeEncodeError). The helpers here turn each into a reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ...clock import parse_timestamp
from ...errors import InputError


@dataclass(frozen=True)
class Limits:
    max_message_bytes: int = 1_000_000
    """A single record (line, message, document part) larger than this is rejected."""
    now: datetime | None = None
    """The ingest time (from the injected clock): the date of last resort for a record
    that carries none of its own (an e-mail without Date: or Received:). None: such a
    record is rejected."""


# JSON nested deeper than this is refused: no real payload comes near (Meta's are
# about 10 deep), and later stages (json.dumps, rich, the drafter) walk it recursively.
MAX_JSON_DEPTH = 64
# Dates outside this range are refused: before it is a broken clock, after it
# arithmetic on the date (send windows, retries) would overflow datetime.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
_SHOWN_VALUE_CHARS = 60


def short_repr(value: Any, limit: int = _SHOWN_VALUE_CHARS) -> str:
    """``repr`` of a value for a reason, bounded and without lone surrogates."""
    if isinstance(value, (dict, list)):
        return f"a JSON {'object' if isinstance(value, dict) else 'array'}"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return "a number of more than 60 digits"
    text = repr(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class TimestampOutOfRange(ValueError):
    """A timestamp that parses but lies outside 1970 to 2199."""


def timestamp(value: Any) -> datetime:
    """``clock.parse_timestamp`` with every failure a ValueError naming the value, and
    the result checked to lie between 1970 and 2200."""
    try:
        when = parse_timestamp(value)
    except (ValueError, OverflowError, OSError, TypeError):
        # OSError: EOVERFLOW from the C library's gmtime for a huge Unix time.
        raise ValueError(f"not a usable timestamp: {short_repr(value)}") from None
    if not EARLIEST <= when < LATEST:
        raise TimestampOutOfRange(f"timestamp {short_repr(value)} is out of range (1970 to 2199)")
    return when


def in_range(when: datetime) -> bool:
    """True when an aware datetime lies in the range the rest of the pipeline can take."""
    try:
        return EARLIEST <= when < LATEST
    except (TypeError, OverflowError):
        return False


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
        yield JsonDocument(loads(stripped), None)
        return
    except BadJson as exc:
        single_error = exc
    lines = text.splitlines()
    if sum(1 for ln in lines if ln.strip()) < 2:
        raise InputError(f"input is not valid JSON ({single_error})")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            yield JsonDocument(loads(raw), number)
        except BadJson as exc:
            yield (number, f"invalid JSON: {exc}")


class BadJson(ValueError):
    """Text that ``loads`` refuses; the message is the reason, without a prefix."""


def loads(text: str | bytes) -> Any:
    """``json.loads`` that refuses hostile JSON with a reason instead of a stray exception.

    Refused: syntax errors (with line and column), nesting deeper than
    MAX_JSON_DEPTH (the C decoder would raise RecursionError near 1,000 levels),
    numbers past Python's int-digit limit (a ValueError), and NaN/Infinity.
    """
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}" if exc.lineno > 1 else f"column {exc.colno}"
        raise BadJson(f"{exc.msg} at {where}") from None
    except RecursionError:
        raise BadJson(f"nested more than {MAX_JSON_DEPTH} levels deep") from None
    except UnicodeDecodeError as exc:
        raise BadJson(f"not UTF-8 text (invalid byte at offset {exc.start})") from None
    except ValueError as exc:
        if "digits" in str(exc):
            raise BadJson("a number has more than 4,300 digits") from None
        raise BadJson(str(exc)[:200]) from None
    if depth_exceeds(value, MAX_JSON_DEPTH):
        raise BadJson(f"nested more than {MAX_JSON_DEPTH} levels deep")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def depth_exceeds(value: Any, limit: int) -> bool:
    """True when ``value`` has containers nested more than ``limit`` deep (no recursion)."""
    if not isinstance(value, (dict, list)):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if level > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return False


def has_lone_surrogate(value: Any) -> bool:
    """True when a string anywhere in ``value`` (keys too) holds a lone surrogate:
    JSON allows ``"\\ud800"``, but it is not Unicode and SQLite refuses it."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if not node.isascii():
                try:
                    node.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
    return False


def repair_text(text: str) -> str:
    """Text without lone surrogates: bytes smuggled in by ``surrogateescape`` (the
    e-mail package's reading of raw 8-bit headers) are decoded again as UTF-8, else
    windows-1252; any other lone surrogate becomes U+FFFD."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogatepass")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        fixed = raw.decode("cp1252")
    except UnicodeDecodeError:
        fixed = raw.decode("utf-8", "replace")
    return fixed.encode("utf-8", "replace").decode("utf-8")


def repair_strings(value: Any) -> Any:
    """``repair_text`` on every string in a str, list or dict (keys too)."""
    if isinstance(value, str):
        return repair_text(value)
    if isinstance(value, list):
        return [repair_strings(v) for v in value]
    if isinstance(value, dict):
        return {repair_strings(k): repair_strings(v) for k, v in value.items()}
    return value


def escape_surrogates(value: Any) -> Any:
    """``value`` with lone surrogates written as ``\\udXXX`` escapes, for a reject's raw."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (ValueError, TypeError, RecursionError):
        return None
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def json_path(*parts: str | int) -> str:
    """``json_path("entry", 0, "changes", 1)`` → ``entry[0].changes[1]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out
