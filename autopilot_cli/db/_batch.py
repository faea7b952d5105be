"""Statements over many rows at once: a wave of jobs, a batch of inbound messages.

On PostgreSQL every statement is a round trip to the server, so the engine and ingest write a wave or
a batch in a few statements instead of a few per row. Lists are cut into chunks that stay well
below both engines' limits on bound parameters (SQLite 32,766; PostgreSQL 65,535), and a chunk's
size is rounded up to a power of two (padding repeats the last row, which every caller's statement
treats as the same row again) so that a handful of statement texts are prepared, not one per size.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

MAX_PARAMETERS = 8000


def chunks(items: Sequence[T], columns: int = 1) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``MAX_PARAMETERS // columns`` rows."""
    size = max(1, MAX_PARAMETERS // columns)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def padded(items: Sequence[T]) -> list[T]:
    """``items`` with the last repeated up to the next power of two (at least one item is needed)."""
    size = 1 << (len(items) - 1).bit_length()
    return [*items, *[items[-1]] * (size - len(items))]


def placeholders(count: int) -> str:
    """``?, ?, …`` for an ``IN (…)`` list."""
    return ", ".join("?" * count)


def values(rows: int, columns: int) -> str:
    """``(?, ?), (?, ?), …`` for a multi-row ``INSERT``."""
    return ", ".join(["(" + placeholders(columns) + ")"] * rows)


def select_in(conn: sqlite3.Connection, sql: str, items: Sequence[object], before: Sequence[object] = (),
              after: Sequence[object] = ()) -> Iterator[Any]:
    """The rows ``sql`` gives for all ``items``, which fill its ``IN ({in})`` list a chunk at a time; the
    statement's other parameters are ``before`` and ``after`` that list."""
    for part in chunks(items):
        listed = padded(part)
        yield from conn.execute(sql.replace("{in}", placeholders(len(listed))), (*before, *listed, *after))


def by_id(column: str, pairs: Sequence[tuple[int, object]]) -> tuple[str, list[object]]:
    """SQL (and its parameters) for each row's own value of ``column``: ``CASE id WHEN ? THEN ? … ELSE column
    END``; a row not among ``pairs`` keeps its value.

    Per-row values go in a ``CASE`` rather than a join with a ``VALUES`` list: PostgreSQL's statistics lag
    behind a wave that just changed thousands of rows' state, and a join planned on them ran as a nested
    loop over every pair of rows (80 ms for a wave of 256, instead of 2)."""
    if not pairs:
        return column, []
    rows = padded(pairs)
    return (f"CASE id {' '.join(['WHEN ? THEN ?'] * len(rows))} ELSE {column} END",
            [x for row in rows for x in row])
