"""Opening the SQLite database, and the one way to write to it.

The connection runs in autocommit mode (``isolation_level=None``) so that
Python's sqlite3 module never opens a transaction behind our back; every
read-then-write goes through ``transaction()``, which issues ``BEGIN
IMMEDIATE``. A deferred ``BEGIN`` that reads and then writes gets SQLITE_BUSY
at once, ignoring the busy timeout; IMMEDIATE takes the write lock up front
and waits for it.

Pragmas: WAL (readers never block the writer), ``synchronous=FULL`` (rows that
record a send must survive a power loss, not only a crash), a busy timeout,
foreign keys on. SQLite errors are mapped once, here, to ``errors.StoreError``
subclasses with one-line messages.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..config import database_target
from ..errors import DatabaseCorrupt, DatabaseFull, DatabaseLocked, StoreError


class Store:
    """A database handle: the connection, its path (for error messages) and the one way to write.

    ``dialect`` is ``"sqlite"`` or ``"postgresql"``; on PostgreSQL ``conn`` is ``_postgres.Connection``,
    which answers as a sqlite3 connection does (its module docstring)."""

    def __init__(self, conn: sqlite3.Connection, path: str, dialect: str = "sqlite", *,
                 busy_timeout_ms: int = 5000, url: str | None = None, scratch: bool = False) -> None:
        self.conn = conn
        self.path = path
        self.dialect = dialect
        self.busy_timeout_ms = busy_timeout_ms
        self._url = url  # PostgreSQL's, as given (it may hold a password): for a second connection, never shown
        # A dry run on PostgreSQL: one transaction around everything, rolled back on close; each
        # ``transaction()`` is a savepoint inside it.
        self._scratch = scratch

    def close(self) -> None:
        if self._scratch:
            with contextlib.suppress(Exception):
                self.conn.rollback()  # nothing a dry run wrote survives it
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self, *, serialised: bool = True) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``; rolls back on any exception.

        A failed ``COMMIT`` (SQLITE_FULL or I/O error while writing the WAL, a
        deferred foreign key) leaves SQLite's transaction open, holding the
        write lock; it is rolled back too, so the connection stays usable.
        """
        if self._scratch:
            with translate_errors(self.path), savepoint(self.conn, "dry_run"):
                yield self.conn
            return
        with translate_errors(self.path):
            if self.dialect == "postgresql":
                # Every lock wait ends after the busy timeout (the session's lock_timeout, set on connecting).
                self.conn.execute("BEGIN")
                # One writer at a time, as SQLite's BEGIN IMMEDIATE gives: every invariant of the data layer
                # was written for serialised writers. Readers never wait (MVCC). READ COMMITTED (the default)
                # suffices under it: each statement sees everything committed before the lock was taken, and no
                # other writer runs meanwhile. Not ``serialised``: row locks only (``FOR UPDATE SKIP LOCKED``
                # in the statements) — the claim of due jobs, so that workers on several machines claim side
                # by side instead of queueing for the write lock.
                if serialised:
                    try:
                        self.conn.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK,))
                    except BaseException:
                        self.conn.rollback()  # the lock wait timed out: leave no aborted transaction behind
                        raise
            else:
                self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.rollback()
                raise

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        """A read outside any transaction (one statement is its own snapshot)."""
        with translate_errors(self.path):
            return self.conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: tuple | dict = ()) -> Any:
        """The first column of the first row (None when there is none); its type is the column's."""
        rows = self.query(sql, params)
        return rows[0][0] if rows else None


def describe_sqlite_error(exc: sqlite3.Error, path: str) -> StoreError:
    message = str(exc)
    lowered = message.lower()
    if "locked" in lowered or "busy" in lowered:
        return DatabaseLocked(
            f"database {path} is locked by another process (waited for the busy timeout); try again"
        )
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return DatabaseCorrupt(f"database {path} is not a valid SQLite database ({message})")
    if "full" in lowered:
        return DatabaseFull(f"database {path} is full ({message}); the last change was rolled back")
    if "unable to open" in lowered or "readonly" in lowered or "read-only" in lowered:
        return StoreError(f"cannot open database {path} for writing ({message})")
    if "disk i/o" in lowered:
        return StoreError(f"disk I/O error on database {path}")
    return StoreError(f"database error on {path}: {message}")


def is_postgres(conn: object) -> bool:
    """Whether a connection the data layer was handed is PostgreSQL's (``_postgres.Connection``)."""
    return not isinstance(conn, sqlite3.Connection)


def plus_seconds(conn: object, timestamp: str, seconds: str) -> str:
    """SQL for the ISO-8601 UTC text ``timestamp`` plus ``seconds``, as the same kind of text."""
    if is_postgres(conn):
        return (f"to_char(({timestamp})::timestamptz AT TIME ZONE 'UTC' + make_interval(secs => {seconds}), "
                "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")
    return f"strftime('%Y-%m-%dT%H:%M:%fZ', {timestamp}, '+' || {seconds} || ' seconds')"


def least(conn: object, a: str, b: str) -> str:
    """SQL for the smaller of two values (SQLite's two-argument min(), PostgreSQL's LEAST)."""
    return f"LEAST({a}, {b})" if is_postgres(conn) else f"min({a}, {b})"


def reserve_ids(conn: sqlite3.Connection, table: str, count: int) -> list[int]:
    """``count`` new ids for rows about to be inserted into ``table`` with their ids given, so that a batch
    of parents and their children is two multi-row ``INSERT`` statements (``RETURNING`` promises no order).
    PostgreSQL draws them from the identity's sequence; SQLite, under the write lock every ingest holds,
    takes those after the largest (what it would give an ``INTEGER PRIMARY KEY`` itself)."""
    if count <= 0:
        return []
    if is_postgres(conn):
        return [int(r[0]) for r in conn.execute(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, ?)", (count,))]
    start = int(conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]) + 1
    return list(range(start, start + count))


WRITE_LOCK = 0x6175746F70696C74  # "autopil" + "t": the advisory lock every PostgreSQL write transaction takes


@contextmanager
def translate_errors(path: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:  # PostgreSQL's too: _postgres.Connection raises them as sqlite3's classes
        raise describe_sqlite_error(exc, path) from None


def _switch_to_wal(conn: sqlite3.Connection, busy_timeout_ms: int) -> str:
    """``PRAGMA journal_mode = WAL``, retried while another connection holds a lock.

    Switching a rollback-journal database (a new file) to WAL needs an
    exclusive lock. When two processes open a new database at once, each
    holds a shared lock and wants the exclusive one, so SQLite answers
    SQLITE_BUSY at once instead of calling the busy handler (which would
    deadlock): we wait and retry here, within the same busy timeout. Once
    the file is in WAL mode the pragma needs no lock.
    """
    deadline = time.monotonic() + busy_timeout_ms / 1000.0
    delay = 0.001
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc).lower() or "busy" in str(exc).lower()
            if not busy or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def connect(path: str | Path, *, busy_timeout_ms: int = 5000, create: bool = True) -> Store:
    """Open (and with ``create``, create) a database file with our pragmas set.

    Does not migrate: see ``migrations.open_store`` for the usual entry point. A ``postgresql://`` URL
    opens PostgreSQL (the database must exist); ``sqlite:///path`` is a path.
    """
    target = database_target(str(path)) if isinstance(path, str) else path
    if isinstance(target, str):
        from ._postgres import connect_postgres, describe_url

        return Store(connect_postgres(target, lock_timeout_ms=busy_timeout_ms),  # type: ignore[arg-type]
                     describe_url(target), "postgresql", busy_timeout_ms=busy_timeout_ms, url=target)
    path_str = str(target)
    if path_str != ":memory:":
        target = Path(path_str)
        if target.is_dir():
            raise StoreError(f"database path is a directory: {target}")
        if not target.parent.exists():
            raise StoreError(f"folder for database does not exist: {target.parent}")
        if not create and not target.exists():
            raise StoreError(f"database not found: {target} (run 'autopilot init' or 'autopilot ingest' first)")
    with translate_errors(path_str):
        conn = sqlite3.connect(
            path_str,
            isolation_level=None,
            timeout=busy_timeout_ms / 1000.0,
            check_same_thread=False,
        )
        conn.row_factory = sqlite3.Row
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            # Reading the schema is what reveals a file that is not a database.
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            mode = _switch_to_wal(conn, busy_timeout_ms)
            if path_str != ":memory:" and str(mode).lower() != "wal":
                raise StoreError(f"could not switch database {path_str} to WAL mode (got {mode})")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
    return Store(conn, path_str, busy_timeout_ms=busy_timeout_ms)


def table_names(store: Store) -> list[str]:
    """Every table of the schema (the migrations' bookkeeping included)."""
    if store.dialect == "postgresql":
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1"
    return [str(row[0]) for row in store.query(sql)]


def snapshot(store: Store) -> Store:
    """An in-memory copy of the database, for a dry run that may write freely and leaves the file as it was
    (on PostgreSQL: the database itself, inside one transaction that is rolled back)."""
    if store.dialect == "postgresql":
        # No copy: a second connection whose one transaction is rolled back when it is closed.
        from ._postgres import connect_postgres

        conn = connect_postgres(store._url or store.path, lock_timeout_ms=store.busy_timeout_ms)
        conn.execute("BEGIN")
        return Store(conn, f"{store.path} (dry run, rolled back)", "postgresql",  # type: ignore[arg-type]
                     busy_timeout_ms=store.busy_timeout_ms, scratch=True)
    memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    store.conn.backup(memory)
    memory.row_factory = sqlite3.Row
    memory.execute("PRAGMA foreign_keys = ON")
    return Store(memory, f"{store.path} (dry-run snapshot)")


@contextmanager
def savepoint(conn: sqlite3.Connection, name: str = "step") -> Iterator[None]:
    """A nested all-or-nothing step inside the caller's transaction: on an exception its writes are
    undone (the rest of the transaction stays) and the exception goes on."""
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        # A full disk or an I/O error may have rolled the whole transaction back already, savepoint
        # included: then there is nothing to undo here, and the original error is what to report.
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
        raise
    conn.execute(f"RELEASE {name}")
