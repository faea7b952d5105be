"""Moving a shop's database: ``autopilot db copy`` (the copy itself is ``db.copy``)."""

from __future__ import annotations

from pydantic import BaseModel

from ..clock import Clock
from ..db.copy import copy_database
from ..db.migrations import open_store


class CopyReport(BaseModel):
    """``autopilot db copy --json``: these keys, stable."""

    source: str
    target: str
    tables: dict[str, int]
    """Rows copied per table (every table, parents first)."""
    rows: int


def copy_shop(source: str, target: str, clock: Clock, *, busy_timeout_ms: int = 5000) -> CopyReport:
    """Copy the database at ``source`` (it must exist) into the empty one at ``target`` (a new SQLite file is
    created; a PostgreSQL database must exist); both are migrated to the current schema first."""
    with open_store(source, clock, busy_timeout_ms=busy_timeout_ms, create=False) as src, \
            open_store(target, clock, busy_timeout_ms=busy_timeout_ms) as dst:
        tables = copy_database(src, dst, clock)
        return CopyReport(source=src.path, target=dst.path, tables=tables, rows=sum(tables.values()))
