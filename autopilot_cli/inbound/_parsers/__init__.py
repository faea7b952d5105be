"""Payload parsers: provider bytes in, ``events.ParsedItem`` out. Nothing here touches the database.

Each module exposes ``parse(data: bytes, limits: Limits) -> Iterator[ParsedItem]``.
A parser never raises for one bad record: it yields ``Rejected`` with the line or
index and carries on. It raises ``errors.InputError`` only when the input as a
whole is unusable (not text, not JSON at all) — never anything else, whatever the
bytes (``tests/test_fuzz_parsers.py`` holds every parser to that).

``get_parser`` returns the parser wrapped in ``_checked``, the boundary that makes
every item safe for the rest of the pipeline: a record holding a lone surrogate
(JSON allows ``"\\ud800"``; SQLite refuses it), nested too deep for later stages
to walk, or dated outside 1970–2199 becomes a ``Rejected`` for that record alone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

from ...errors import InputError
from .._records import Ignored, InboundMessage, ParsedItem, PreferenceUpdate, Rejected, StatusUpdate
from ._common import MAX_JSON_DEPTH, Limits, depth_exceeds, escape_surrogates, has_lone_surrogate, in_range

Parser = Callable[[bytes, Limits], Iterator[ParsedItem]]

FORMATS: tuple[str, ...] = ("jsonl", "whatsapp", "instagram", "email", "mbox", "linkedin")


def get_parser(fmt: str) -> Parser:
    """The parse function for a format name (imported lazily: cron start-up stays cheap)."""
    if fmt == "jsonl":
        from .jsonl import parse
    elif fmt == "whatsapp":
        from .whatsapp import parse
    elif fmt == "instagram":
        from .instagram import parse
    elif fmt == "email":
        from .email import parse
    elif fmt == "mbox":
        from .email import parse_mbox as parse
    elif fmt == "linkedin":
        from .linkedin import parse
    else:
        raise KeyError(fmt)
    return _checked(parse)


# What hostile input can still raise deep inside the stdlib after the parsers' own
# checks; at this boundary it means "this input cannot be parsed", never a crash.
_HOSTILE_INPUT_ERRORS = (RecursionError, ValueError, OverflowError)
# Metadata and raw values are the record's own JSON plus a few levels of ours.
_MAX_ITEM_DEPTH = MAX_JSON_DEPTH + 8


def _checked(parse: Parser) -> Parser:
    def checked(data: bytes, limits: Limits) -> Iterator[ParsedItem]:
        produced = 0
        try:
            for item in parse(data, limits):
                produced += 1
                yield safe_item(item)
        except _HOSTILE_INPUT_ERRORS as exc:
            reason = f"input cannot be parsed ({type(exc).__name__}: {escape_surrogates(str(exc)[:200])})"
            if not produced:
                raise InputError(reason) from None
            yield Rejected(reason=f"parsing stopped after {produced} records: {reason}")

    return functools.wraps(parse)(checked)


def safe_item(item: ParsedItem) -> ParsedItem:
    """The item, or a Rejected in its place when the rest of the pipeline could not take it."""
    if isinstance(item, (Ignored, Rejected)):
        if has_lone_surrogate(item.reason):
            item.reason = escape_surrogates(item.reason)
        raw = getattr(item, "raw", None)
        if isinstance(item, Rejected) and raw is not None:
            if depth_exceeds(raw, _MAX_ITEM_DEPTH):
                item.raw = None
            elif has_lone_surrogate(raw):
                item.raw = escape_surrogates(raw)
        return item
    problem = _unsafe(item)
    if problem is None:
        return item
    raw = item.raw
    if depth_exceeds(raw, _MAX_ITEM_DEPTH):
        raw = None
    elif has_lone_surrogate(raw):
        raw = escape_surrogates(raw)
    return Rejected(line=item.line, index=item.index, reason=problem, raw=raw)


def _unsafe(item: InboundMessage | StatusUpdate | PreferenceUpdate) -> str | None:
    values: list[Any] = [getattr(item, name) for name in type(item).model_fields]
    if any(depth_exceeds(value, _MAX_ITEM_DEPTH) for value in values):
        return f"record is nested more than {MAX_JSON_DEPTH} levels deep"
    if has_lone_surrogate(values):
        return "record holds a lone surrogate (a \\ud800-style escape that is not Unicode text)"
    when = item.received_at if isinstance(item, InboundMessage) else item.at
    if not in_range(when):
        return f"date {when.isoformat()} is out of range (1970 to 2199)"
    return None


__all__ = ["FORMATS", "Limits", "Parser", "get_parser"]
