"""What the WhatsApp and Instagram webhook parsers share: Meta's envelope.

Both arrive as ``{"object": …, "entry": [...]}`` (one document, one per line,
or — on Meta's example pages — a list of them), and both turn one record at a
time into an item, where any problem with that record becomes a ``Rejected``
for it alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .._records import Ignored, ParsedItem, Rejected
from ._common import Limits, TimestampOutOfRange, iter_json_documents, json_path, short_repr, timestamp, too_big

# A bug or an unforeseen value in one record must not abort the whole batch:
# these become a Rejected for that record instead.
RECORD_ERRORS = (TypeError, ValueError, AttributeError, KeyError, OverflowError, OSError, RecursionError)


class BadRecord(Exception):
    """A record-level problem; its message is the Rejected reason (without the label)."""


@dataclass
class Entry:
    value: dict
    line: int | None
    path: tuple


def iter_entries(data: bytes, expected_object: str) -> Iterator[Entry | Rejected]:
    """Every ``entry[]`` object of every envelope, or a Rejected for a bad envelope or entry."""
    for doc in iter_json_documents(data):
        if isinstance(doc, tuple):
            yield Rejected(line=doc[0], reason=doc[1])
            continue
        envelopes = (
            [((i,), env) for i, env in enumerate(doc.value)] if isinstance(doc.value, list) else [((), doc.value)]
        )
        for base, env in envelopes:
            yield from _envelope(env, doc.line, base, expected_object)


def _envelope(env: Any, line: int | None, base: tuple, expected: str) -> Iterator[Entry | Rejected]:
    where = json_path(*base) or None
    if not isinstance(env, dict):
        yield Rejected(line=line, index=where, reason="document is not a JSON object", raw=env)
        return
    obj = env.get("object")
    if obj != expected:
        yield Rejected(line=line, index=where, reason=f"object is {obj!r}, expected {expected!r}")
        return
    entries = env.get("entry")
    if not isinstance(entries, list) or not entries:
        yield Rejected(line=line, index=where, reason="missing or empty 'entry' list")
        return
    for i, entry in enumerate(entries):
        path = (*base, "entry", i)
        if not isinstance(entry, dict):
            yield Rejected(line=line, index=json_path(*path), reason=f"entry[{i}]: not a JSON object", raw=entry)
            continue
        yield Entry(entry, line, path)


def parse_record(record: Any, label: str, line: int | None, index: str, limits: Limits,
                 handler: Callable[[dict], ParsedItem]) -> ParsedItem:
    """``handler(record)``, with size, shape and unexpected errors turned into a Rejected."""
    try:
        if not isinstance(record, dict):
            raise BadRecord("not a JSON object")
        # surrogatepass: a lone surrogate is measured here and refused by parsers._checked.
        size_problem = too_big(len(json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogatepass")), limits)
        item = Rejected(reason=size_problem) if size_problem else handler(record)
    except BadRecord as exc:
        item = Rejected(reason=str(exc), raw=record)
    except RECORD_ERRORS as exc:
        item = Rejected(reason=f"cannot be parsed ({type(exc).__name__}: {exc})", raw=record)
    if isinstance(item, (Ignored, Rejected)):
        item.reason = f"{label}: {item.reason}"
    item.line, item.index = line, index
    return item


def timestamp_of(record: dict) -> Any:
    value = record.get("timestamp")
    if value is None:
        raise BadRecord("missing 'timestamp'")
    try:
        return timestamp(value)
    except TimestampOutOfRange:
        raise BadRecord(f"bad 'timestamp' {short_repr(value)}: out of range (1970 to 2199)") from None
    except ValueError:
        raise BadRecord(f"bad 'timestamp' {short_repr(value)} (Meta sends Unix time)") from None
