"""``autopilot db copy``: every row of one database into another, e.g. a shop's SQLite file into PostgreSQL.

Both ends are brought to the current schema first (the same numbered migrations on both dialects). The
target must hold no rows: a copy into a database in use would mix two shops. Tables are copied parents
first (the order their foreign keys need), ids included, in one transaction on the target; the counts of
every table are compared before it commits, so a copy is whole or absent. On PostgreSQL each identity
sequence is then moved past the highest id copied, so the next row gets a fresh one.
"""

from __future__ import annotations

from graphlib import TopologicalSorter

from ..clock import Clock
from ..errors import StoreError
from .connection import Store, table_names
from .migrations import open_store

BATCH = 1000
_BOOKKEEPING = "_migrations"


def copy_order(clock: Clock) -> list[str]:
    """The tables, parents before children (read from the schema the migrations build, on SQLite)."""
    with open_store(":memory:", clock) as schema:
        graph: dict[str, set[str]] = {}
        for table in table_names(schema):
            parents = {str(row[2]) for row in schema.query(f'PRAGMA foreign_key_list("{table}")')}
            graph[table] = parents - {table}
    return [t for t in TopologicalSorter(graph).static_order() if t != _BOOKKEEPING]


def rows_in(store: Store, table: str) -> int:
    return int(store.scalar(f'SELECT count(*) FROM "{table}"'))


def copy_database(source: Store, target: Store, clock: Clock) -> dict[str, int]:
    """Copy every table of ``source`` into the empty ``target``; rows per table."""
    order = copy_order(clock)
    missing = sorted(set(order) - set(table_names(target)))
    if missing:
        raise StoreError(f"target {target.path} lacks tables {', '.join(missing)}")
    busy = [t for t in order if rows_in(target, t)]
    if busy:
        raise StoreError(f"target {target.path} is not empty (table {busy[0]} has rows); copy only into an empty "
                         "database")
    counts: dict[str, int] = {}
    with target.transaction() as conn:
        for table in order:
            cursor = source.conn.execute(f'SELECT * FROM "{table}"')
            copied = 0
            while True:
                batch = cursor.fetchmany(BATCH)
                if not batch:
                    break
                columns = list(batch[0].keys())
                names = ", ".join(f'"{c}"' for c in columns)
                marks = ", ".join("?" for _ in columns)
                conn.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', [tuple(r) for r in batch])
                copied += len(batch)
            stored = int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
            if stored != copied or copied != rows_in(source, table):
                raise StoreError(f"copy of table {table} is incomplete ({stored} of {copied} rows); nothing was "
                                 "written")
            counts[table] = copied
        if target.dialect == "postgresql":
            for table in order:
                if conn.has_identity(table):  # type: ignore[attr-defined]  # move its sequence past the copied ids
                    conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f'coalesce((SELECT max(id) FROM "{table}"), 0) + 1, false)')
    return counts
