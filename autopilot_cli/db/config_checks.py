"""Which config files the full CLI has validated, so the idle ``execute`` fast path may trust them.

``entry.py`` answers an idle cron minute with plain sqlite3 and no pydantic; a
config file that parses as TOML but is wrong (an unknown key, a bad mode) would
then go unreported until something is due. So the fast path runs only for a
config whose exact bytes the full CLI validated before (``config_checks``);
any edit makes the next run a full one, which reports the error or records
the new check.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..clock import Clock, to_iso
from .connection import Store


def config_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record_valid_config(store: Store, path: Path, clock: Clock) -> None:
    """Remember that ``path`` (as it is now) loaded without error; writes only when it changed."""
    key, digest = str(path.resolve()), config_digest(path)
    seen = store.query("SELECT sha256 FROM config_checks WHERE config_path = ?", (key,))
    if seen and seen[0][0] == digest:
        return
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO config_checks (config_path, sha256, checked_at) VALUES (?, ?, ?) ON CONFLICT (config_path) "
            "DO UPDATE SET sha256 = excluded.sha256, checked_at = excluded.checked_at",
            (key, digest, to_iso(clock.now())))
