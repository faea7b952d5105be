"""One sending run per channel at a time: an advisory lock file per channel, next to the database (on
PostgreSQL: an advisory lock per channel in the database, which holds across machines).

The database claim alone keeps overlapping ``execute`` runs from sending a job
twice. This keeps them from pacing one channel twice: each run has its own rate
limiter, so two runs sending on a channel together would go at twice its rate
and earn 429s. A run that finds a channel's lock held leaves that channel to the
run holding it (reported as ``busy_channels``). The operating system drops a
lock when its process dies, so a killed run never blocks the next one; a run
that hangs keeps its channels until it is stopped.

``fcntl.flock`` is local to one machine and unreliable on some network file
systems (where SQLite's own locking is too); ``[execute] one_run_per_channel =
false`` turns the lock off, leaving the database claim — safe on its own.
"""

from __future__ import annotations

import os

from ..db import channel_state
from ..db.connection import Store

try:
    import fcntl
except ImportError:  # Windows: no flock; the database claim still holds
    fcntl = None  # type: ignore[assignment]


class ChannelLocks:
    def __init__(self, store: Store, enabled: bool = True) -> None:
        db_path = store.path
        # On PostgreSQL the lock is the database's (an advisory lock per channel), so it holds across machines.
        self._store = store if enabled and store.dialect == "postgresql" else None
        self._base = (db_path if enabled and self._store is None and fcntl is not None
                      and db_path not in ("", ":memory:") else None)
        self._held: dict[str, int] = {}
        self._db_held: set[str] = set()

    def path(self, channel: str) -> str | None:
        return f"{self._base}.{channel}.send-lock" if self._base else None

    def acquire(self, channel: str) -> bool:
        """True when this run may send on ``channel`` (kept until ``release_all``)."""
        if self._store is not None:
            if channel not in self._db_held:
                if not channel_state.try_send_lock(self._store, channel):
                    return False
                self._db_held.add(channel)
            return True
        path = self.path(channel)
        if path is None or channel in self._held:
            return True
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._held[channel] = fd
        return True

    def release_all(self) -> None:
        if self._store is not None:
            for channel in self._db_held:
                channel_state.release_send_lock(self._store, channel)
            self._db_held.clear()
        for fd in self._held.values():
            os.close(fd)  # closing the descriptor releases its flock
        self._held.clear()
