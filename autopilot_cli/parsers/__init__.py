"""Payload parsers: provider bytes in, ``events.ParsedItem`` out. Nothing here touches the database.

Each module exposes ``parse(data: bytes, limits: Limits) -> Iterator[ParsedItem]``.
A parser never raises for one bad record: it yields ``Rejected`` with the line or
index and carries on. It raises ``errors.InputError`` only when the input as a
whole is unusable (not text, not JSON at all).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..events import ParsedItem
from ._common import Limits

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
    return parse


__all__ = ["FORMATS", "Limits", "Parser", "get_parser"]
